"""The client's address: the peer, or what trusted proxies say in X-Forwarded-For.

Rate limits (logins, webhooks) key on this address, so a forged X-Forwarded-For must not move
a caller to another key. The header is read only when the peer is one of TRUSTED_PROXIES
(default: none), and then from the right: each trusted proxy appends the address it saw, so
the first address from the right that is not a trusted proxy is the client. Anything to its
left was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_XFF = b"x-forwarded-for"
_XFP = b"x-forwarded-proto"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 peer seen on a dual-stack socket (::ffff:10.0.0.1) matches IPv4 ranges.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client behind `peer`, given every X-Forwarded-For header value in order."""
    if not trusted or not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    current = peer
    for hop in reversed(hops):
        if _ip(hop) is None:
            break  # garbage: stop at the last proxy we trust, which appended it
        current = hop
        if not is_trusted(hop, trusted):
            break
    return current


def forwarded_middleware(trusted: Sequence[Network]) -> Any:
    """Rewrite the ASGI scope's client (and scheme) once, for every request, when the peer is
    a trusted proxy; with no trusted proxies the headers are never read."""

    def factory(app: ASGIApp) -> ASGIApp:
        if not trusted:
            return app

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            client = scope.get("client")
            if scope["type"] == ScopeType.HTTP and client:
                peer, port = client
                if is_trusted(peer, trusted):
                    headers = scope.get("headers", [])
                    values = [v.decode("latin-1") for k, v in headers if k == _XFF]
                    scope["client"] = (client_address(peer, values, trusted), port)
                    proto = next((v for k, v in headers if k == _XFP), None)
                    if proto is not None:
                        scheme = proto.decode("latin-1").split(",")[-1].strip().lower()
                        if scheme in ("http", "https"):
                            scope["scheme"] = scheme
            await app(scope, receive, send)

        return middleware

    return factory


def client_host(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address rate limits and logs use (after `forwarded_middleware`)."""
    return connection.client.host if connection.client else "unknown"
