"""Paging the system's admins: for faults in the system itself, not about any one patient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from service.paging.recipients import Recipient
from service.sms import outbox


async def admins(session: AsyncSession) -> list[Recipient]:
    rows = await session.execute(
        select(User.id, User.mobile)
        .where(User.role == "admin", User.active, User.mobile.is_not(None))
        .order_by(User.id)
    )
    return [Recipient(r.mobile, r.id) for r in rows]


async def page_admins(
    session: AsyncSession, *, key: str, body: str, purpose: str, now: datetime
) -> int:
    """Queue one staff text per active admin with a mobile under `key` (so once each, however
    often this is called); returns how many were newly queued."""
    queued = 0
    for recipient in await admins(session):
        assert recipient.number is not None  # admins() lists only admins with a mobile
        outbox_id = await outbox.enqueue(
            session,
            dedupe_key=f"{key}:{recipient.user_id}",
            to_number=recipient.number,
            body=body,
            purpose=purpose,
            now=now,
            recipient_kind="staff",
            user_id=recipient.user_id,
        )
        queued += outbox_id is not None
    return queued
