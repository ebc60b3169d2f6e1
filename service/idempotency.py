"""Idempotency-Key for creating POSTs: same key and request replay the first answer.

The key is scoped to the caller. A different request under a used key is refused (422);
a duplicate arriving while the first is still running is refused (409). A claim whose
holder died is taken over once its lock lapses, so a crash never wedges a key.

A key is also bound to the caller's access when it was claimed (`access_binding`: role,
ward, agency, token version). Once that changes (moved ward, deactivated and reactivated,
new role) the key's promise ends: the next request under it runs afresh, authorized and
audited as any new request. The HTTP layer also checks the patients the first answer named
against today's rules before replaying it (service.http.idempotency).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyKey
from service.principal import Principal

LOCK = timedelta(minutes=2)
RETENTION = timedelta(hours=24)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def valid_key(key: str) -> bool:
    return bool(_VALID_KEY.match(key))


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def access_binding(caller: Principal) -> str:
    """What a key's replay depends on besides the request: who the caller is allowed to be."""
    return f"{caller.role}|{caller.ward_id}|{caller.agency_id}|{caller.token_version}"


@dataclass(frozen=True)
class Claim:
    outcome: Literal["proceed", "replay", "mismatch", "busy"]
    row_id: int | None = None
    status: int | None = None
    headers: dict[str, Any] | None = None
    body: bytes | None = None
    patient_ids: tuple[uuid.UUID, ...] = ()


def _fresh(print_: str, now: datetime, access: str) -> dict[str, Any]:
    return {
        "fingerprint": print_,
        "state": "in_progress",
        "locked_until": now + LOCK,
        "created_at": now,
        "access": access,
        "response_status": None,
        "response_headers": None,
        "response_body": None,
        "patient_ids": None,
    }


async def claim(
    session: AsyncSession,
    owner_id: uuid.UUID,
    key: str,
    print_: str,
    now: datetime,
    access: str,
) -> Claim:
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(owner_id=owner_id, key=key, **_fresh(print_, now, access))
        .on_conflict_do_nothing(index_elements=["owner_id", "key"])
        .returning(IdempotencyKey.id)
    )
    if inserted is not None:
        return Claim("proceed", row_id=inserted)
    row = await session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.owner_id == owner_id, IdempotencyKey.key == key)
        .with_for_update()
    )
    if row is None:  # purged between the two statements: treat as new next time
        return Claim("busy")
    if row.access != access:
        # The caller's access changed since the key was used: its promise ended with it.
        if row.state == "in_progress" and row.locked_until > now:
            return Claim("busy")
        await restart(session, row.id, print_, now, access)
        return Claim("proceed", row_id=row.id)
    if row.fingerprint != print_:
        return Claim("mismatch")
    if row.state == "completed":
        return Claim(
            "replay",
            row_id=row.id,
            status=row.response_status,
            headers=row.response_headers,
            body=row.response_body,
            patient_ids=tuple(row.patient_ids or ()),
        )
    if row.locked_until > now:
        return Claim("busy")
    row.locked_until = now + LOCK  # the first holder died: take over
    return Claim("proceed", row_id=row.id)


async def restart(
    session: AsyncSession, row_id: int, print_: str, now: datetime, access: str
) -> None:
    """Claim a used key afresh for this request (its stored answer may no longer be given)."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(**_fresh(print_, now, access))
        .execution_options(synchronize_session=False)
    )


async def complete(
    session: AsyncSession,
    row_id: int,
    status: int,
    headers: dict[str, Any],
    body: bytes,
    patient_ids: list[uuid.UUID] | None = None,
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(
            state="completed",
            response_status=status,
            response_headers=headers,
            response_body=body,
            patient_ids=patient_ids or None,
        )
    )


async def release(session: AsyncSession, row_id: int) -> None:
    """Forget a claim whose request failed on our side, so the client may retry it."""
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


async def purge_expired(session: AsyncSession, now: datetime, batch: int = 1000) -> None:
    old = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.created_at < now - RETENTION)
        .order_by(IdempotencyKey.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(old)))
