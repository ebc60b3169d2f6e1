"""ASGI middleware applying service.idempotency to POSTs that carry an Idempotency-Key.

It runs after authentication (keys belong to a caller) and around the handler, buffering
the request body to fingerprint it and the response to store it.
"""

from __future__ import annotations

import json
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import HTTPRequestEvent

from service import idempotency
from service.http.context import request_id_var
from service.http.problems import PROBLEM_MEDIA_TYPE, TYPE_BASE
from service.http.state import resources
from service.principal import Principal

HEADER = b"idempotency-key"
# Route opt for POSTs whose answers must never be stored for replay (they carry new tokens).
NEVER_REPLAYED = "never_replayed"
REPLAY_HEADER = b"idempotent-replayed"


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = {"type": TYPE_BASE + "idempotency", "title": title, "status": status, "detail": detail}
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope.get("headers", []) if k == HEADER), None)
        user = scope.get("user")
        if raw_key is None or not isinstance(user, Principal):
            await app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        if getattr(handler, "opt", {}).get(NEVER_REPLAYED):
            await app(scope, receive, send)
            return
        allowed = getattr(handler, "opt", {}).get("roles") or frozenset()
        if user.role not in allowed:
            # Let the guard answer 403 first; nothing to remember for a refused role.
            await app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not idempotency.valid_key(key):
            await _problem(
                send,
                422,
                "Invalid input",
                "Idempotency-Key must be 1-200 visible ASCII characters.",
            )
            return

        body = await _read_body(receive)
        res = resources(scope["app"].state)
        print_ = idempotency.fingerprint(
            "POST", scope["path"], scope.get("query_string", b"").decode("latin-1"), body
        )
        async with res.sessionmaker() as session:
            claim = await idempotency.claim(session, user.user_id, key, print_, res.clock.now())
            await session.commit()

        if claim.outcome == "mismatch":
            await _problem(
                send,
                422,
                "Invalid input",
                "This Idempotency-Key was used with a different request.",
            )
            return
        if claim.outcome == "busy":
            await _problem(
                send, 409, "Conflict", "A request with this Idempotency-Key is still in progress."
            )
            return
        if claim.outcome == "replay":
            headers = [(k.encode(), v.encode()) for k, v in (claim.headers or {}).items()]
            headers.append((REPLAY_HEADER, b"true"))
            await send(
                {"type": "http.response.start", "status": claim.status or 200, "headers": headers}
            )
            await send(
                {"type": "http.response.body", "body": claim.body or b"", "more_body": False}
            )
            return

        assert claim.row_id is not None
        delivered = False

        async def replay_receive() -> ReceiveMessage:
            nonlocal delivered
            if not delivered:
                delivered = True
                return HTTPRequestEvent(type="http.request", body=body, more_body=False)
            return await receive()

        captured: dict[str, Any] = {"status": 500, "headers": {}, "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {
                    k.decode("latin-1"): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                    if k.lower() in (b"content-type", b"location", b"retry-after")
                }
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, replay_receive, capture_send)
        finally:
            async with res.sessionmaker() as session:
                if captured["status"] >= 500 or captured["status"] in (409, 429):
                    # Our failure or a transient refusal: let the client retry under the same key.
                    await idempotency.release(session, claim.row_id)
                else:
                    await idempotency.complete(
                        session,
                        claim.row_id,
                        captured["status"],
                        captured["headers"],
                        b"".join(captured["body"]),
                    )
                await session.commit()

    return middleware
