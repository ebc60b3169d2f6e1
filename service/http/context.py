"""Per-request context carried in a contextvar so log lines can name their request."""

from __future__ import annotations

import contextvars
import re
import uuid

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def accept_or_create_request_id(header_value: str | None) -> str:
    """Keep a caller's well-formed id (for tracing across proxies); otherwise mint one."""
    if header_value and _VALID_REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex
