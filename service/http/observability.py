"""Request ids, access logs and Prometheus request metrics, in one thin ASGI middleware."""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

from service.http.context import accept_or_create_request_id, request_id_var

access_log = logging.getLogger("homeward.access")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "homeward_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "homeward_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


def observability_middleware(metrics: HttpMetrics) -> Any:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            header = None
            for name, value in scope.get("headers", []):
                if name == b"x-request-id":
                    header = value.decode("latin-1")
                    break
            request_id = accept_or_create_request_id(header)
            token = request_id_var.set(request_id)
            started = time.perf_counter()
            status_holder = {"status": 500}

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", request_id.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - started
                # The template, never the raw path: paths can carry ids worth keeping out of logs.
                route = scope.get("path_template") or "unmatched"
                method = scope.get("method", "")
                status = status_holder["status"]
                metrics.requests.labels(method, route, str(status)).inc()
                metrics.latency.labels(method, route).observe(elapsed)
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
                request_id_var.reset(token)

        return middleware

    return factory
