"""Response headers that every API answer and the API docs page carry, errors included.

API answers can hold patient data: `no-store` keeps them out of browser and proxy caches, and
`nosniff` stops a browser from reading a JSON body as a script or page. The board's pages set
their own (service.web). The docs page gets a CSP that allows scripts from this origin only.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIXES = ("/api/",)
DOCS_PREFIX = "/docs"

_API_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
# Swagger UI sets inline styles and data: images; its scripts and the document come from here.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_DOCS_HEADERS = (
    (b"content-security-policy", DOCS_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def _headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    if path.startswith(API_PREFIXES):
        return _API_HEADERS
    if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
        return _DOCS_HEADERS
    return ()


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        extra = _headers_for(scope.get("path", "")) if scope["type"] == ScopeType.HTTP else ()
        if not extra:
            await app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {extra_name for extra_name, _ in extra}
                # Ours replace any the handler set, so no answer can opt out by accident.
                message["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in names
                ] + list(extra)
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware
