"""Litestar documents every request body as required; mark the optional ones as such."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPI, Operation, RequestBody


def mark_optional_bodies(openapi: OpenAPI, app: Litestar) -> None:
    """A handler whose `data` parameter has a default accepts a request without a body."""
    optional: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None and data.has_default:
                optional.update((route.path_format, m.lower()) for m in handler.http_methods)
    for path, item in (openapi.paths or {}).items():
        for method in ("post", "put", "patch"):
            operation: Operation | None = getattr(item, method, None)
            if (path, method) in optional and isinstance(operation, Operation):
                body = operation.request_body
                if isinstance(body, RequestBody):
                    body.required = False
