"""Idempotency-Key for creating POSTs: same key and request replay the first answer.

The key is scoped to the caller. A different request under a used key is refused (422);
a duplicate arriving while the first is still running is refused (409). A claim whose
holder died is taken over once its lock lapses, so a crash never wedges a key.
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


@dataclass(frozen=True)
class Claim:
    outcome: Literal["proceed", "replay", "mismatch", "busy"]
    row_id: int | None = None
    status: int | None = None
    headers: dict[str, Any] | None = None
    body: bytes | None = None


async def claim(
    session: AsyncSession, owner_id: uuid.UUID, key: str, print_: str, now: datetime
) -> Claim:
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(
            owner_id=owner_id,
            key=key,
            fingerprint=print_,
            state="in_progress",
            locked_until=now + LOCK,
            created_at=now,
        )
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
    if row.fingerprint != print_:
        return Claim("mismatch")
    if row.state == "completed":
        return Claim(
            "replay",
            row_id=row.id,
            status=row.response_status,
            headers=row.response_headers,
            body=row.response_body,
        )
    if row.locked_until > now:
        return Claim("busy")
    row.locked_until = now + LOCK  # the first holder died: take over
    return Claim("proceed", row_id=row.id)


async def complete(
    session: AsyncSession, row_id: int, status: int, headers: dict[str, Any], body: bytes
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(
            state="completed", response_status=status, response_headers=headers, response_body=body
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
