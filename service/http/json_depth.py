"""Refuse JSON nested too deeply before anything decodes it.

msgspec decodes recursively and raises RecursionError near Python's recursion limit, so a
body of 1,000 brackets (a few kilobytes) answered 500 on every JSON route, login included.
No body this API accepts nests anywhere near MAX_DEPTH.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from service.errors import DomainError

MAX_DEPTH = 32

# A JSON string (escapes included), matched without backtracking, so brackets inside strings
# do not count.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class TooDeep(DomainError):
    status = 400
    title = "Bad request"
    type_slug = "too-deep"


def nesting_exceeds(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when `body` nests arrays or objects more than `limit` deep (or its brackets do
    not pair up within that depth, which is malformed anyway).

    Each pass deletes the innermost empty pairs, so a body of depth d is empty after d passes;
    every pass runs in C over at most the request's size (1 MiB)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        shorter = _INNERMOST.sub(b"", brackets)
        if shorter == brackets:
            return True  # unpaired: not JSON, and a decoder would still recurse into it
        brackets = shorter
    return bool(brackets)


async def refuse_deep_json(request: Request[Any, Any, Any]) -> None:
    """before_request hook: runs after authentication and the guards, before the handler's
    body is decoded. The body read here is cached for the decoder."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    if request.headers.get("content-type", "").lower().startswith(_FORM_TYPES):
        return
    if nesting_exceeds(await request.body()):
        raise TooDeep(f"The JSON body is malformed or nests more than {MAX_DEPTH} levels deep.")
