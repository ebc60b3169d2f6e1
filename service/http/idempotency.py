"""ASGI middleware applying service.idempotency to POSTs that carry an Idempotency-Key.

It runs after authentication (keys belong to a caller) and around the handler, buffering
the request body to fingerprint it and the response to store it.

A replay is an answer given again, so it is authorized again: the key must have been used
under the caller's present access (service.idempotency.access_binding), and every patient
the first answer's audit rows named must still be within the caller's reach today
(service.patient_access.reach). Otherwise the request runs afresh, and the handler
authorizes and audits it as it would any new request. A replay that is given is audited.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import HTTPRequestEvent
from sqlalchemy.ext.asyncio import AsyncSession

from service import audit, idempotency
from service.http.context import request_id_var
from service.http.problems import PROBLEM_MEDIA_TYPE, TYPE_BASE
from service.http.state import resources
from service.patient_access.reach import reachable_ward
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


async def _replay_allowed(
    session: AsyncSession, user: Principal, claim: idempotency.Claim, scope: Scope, now: datetime
) -> bool:
    """Whether the stored answer may be given to `user` today; if so, its audit rows are
    added (one per patient the answer concerned, or one naming no patient)."""
    rows: list[tuple[uuid.UUID | None, uuid.UUID | None]] = []
    for patient in claim.patient_ids:
        reached = await reachable_ward(session, user, patient, now)
        if reached is None:
            return False
        rows.append((patient, reached))
    detail = {"route": scope.get("path_template") or "", "status": claim.status}
    for about, ward_id in rows or [(None, user.ward_id)]:
        await audit.record_now(
            session,
            user,
            "request.replay",
            at=now,
            patient_id=about,
            ward_id=ward_id,
            object_type="patient" if about else None,
            object_id=about,
            detail=detail,
        )
    return True


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
        now = res.clock.now()
        access = idempotency.access_binding(user)
        async with res.sessionmaker() as session:
            claim = await idempotency.claim(session, user.user_id, key, print_, now, access)
            if claim.outcome == "replay":
                assert claim.row_id is not None
                if await _replay_allowed(session, user, claim, scope, now):
                    await session.commit()
                else:
                    # Out of reach now: no stored answer; the request runs as a new one.
                    await idempotency.restart(session, claim.row_id, print_, now, access)
                    await session.commit()
                    claim = idempotency.Claim("proceed", row_id=claim.row_id)
            else:
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
            with audit.patients_audited() as patients:
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
                        sorted(patients),
                    )
                await session.commit()

    return middleware
