"""Replies still unread at their read-by time raise `unread_reply`, once each.

`escalated_at` is the claim marker: the partial index holds only unread replies not yet
escalated, so the sweep reads what is due and nothing else, and two sweeps at once skip
each other's rows (FOR UPDATE SKIP LOCKED). The escalation's unique source key makes a
repeat harmless anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ReplyToRead
from service.escalations.service import raise_escalation
from service.principal import SystemActor
from service.replies.service import ESCALATION_REASON, SOURCE_TYPE
from service.set_aside import not_set_aside

REPLIES_ACTOR = SystemActor("replies")
CLAIM_BATCH = 200


async def claim_overdue(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[ReplyToRead]:
    rows = await session.scalars(
        select(ReplyToRead)
        .where(
            ReplyToRead.status == "unread",
            ReplyToRead.escalated_at.is_(None),
            ReplyToRead.read_due_at <= now,
            not_set_aside(ReplyToRead),
        )
        .order_by(ReplyToRead.read_due_at, ReplyToRead.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def escalate_overdue(session: AsyncSession, reply: ReplyToRead, now: datetime) -> None:
    if reply.status != "unread" or reply.escalated_at is not None:
        return
    reply.escalated_at = now
    who = "the patient's carer" if reply.from_carer else "the patient"
    await raise_escalation(
        session,
        patient_id=reply.patient_id,
        ward_id=reply.ward_id,
        reason=ESCALATION_REASON,
        severity=reply.severity,
        source_type=SOURCE_TYPE,
        source_id=reply.id,
        now=now,
        note=f"A text from {who} has not been read by its read-by time.",
        actor=REPLIES_ACTOR,
    )
