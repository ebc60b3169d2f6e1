"""A small in-process sliding-window limiter for endpoints that must not be flooded.

Per process by design: it protects each replica's capacity (webhooks arrive from Twilio at
bounded rates; a flood from one address is abuse). Logins use the database-backed limiter in
service.auth instead, because guessing passwords must be limited across replicas.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.errors import TooManyRequests
from service.http.forwarded import client_host


class SlidingWindow:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ):
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:  # bound memory under a spray of addresses
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return True


def rate_limit_guard(limit: int, window_seconds: float) -> Callable[..., Awaitable[None]]:
    window = SlidingWindow(limit, window_seconds)

    # Async on purpose: Litestar runs a sync guard in a worker thread, which costs a thread
    # hop per request and would let two threads mutate the window at once.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not window.allow(client_host(connection)):
            raise TooManyRequests(
                "Too many requests from this address.", retry_after_seconds=int(window_seconds)
            )

    return guard
