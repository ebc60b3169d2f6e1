"""The 24-hour warning: the key worker is told once while there is still time to call.

Claimed through the partial index of pending, unwarned follow-ups; `warned_at` is the claim
marker and the outbox key is per follow-up, so a retried sweep texts nobody twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FollowUp, Patient, Ward
from service import audit
from service.follow_ups.service import BREACH_ACTOR, no_longer_due
from service.paging.recipients import recipients_at
from service.paging.texts import patient_ref, text_staff
from service.set_aside import not_set_aside

WARN_BEFORE = timedelta(hours=24)
CLAIM_BATCH = 200


async def claim_warnable(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[FollowUp]:
    """Pending follow-ups due within a day and not yet warned about (past-due ones are the
    breach sweep's), locked for this transaction."""
    rows = await session.scalars(
        select(FollowUp)
        .where(
            FollowUp.status == "pending",
            FollowUp.warned_at.is_(None),
            FollowUp.due_at <= now + WARN_BEFORE,
            FollowUp.due_at > now,
            not_set_aside(FollowUp),
        )
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def warn(session: AsyncSession, follow_up: FollowUp, now: datetime) -> int:
    """Text level 1 (or the first level with someone) that the clock is running out."""
    if follow_up.status != "pending" or follow_up.warned_at is not None:
        return 0
    follow_up.warned_at = now
    if await no_longer_due(session, follow_up) is not None:
        return 0  # back on the ward or closed: nothing to warn about
    ward = await session.scalar(
        select(Ward)
        .join(Patient, Patient.ward_id == Ward.id)
        .where(Patient.id == follow_up.patient_id)
    )
    assert ward is not None
    _, recipients = await recipients_at(session, ward, follow_up.patient_id, 1, now)
    queued = await text_staff(
        session,
        recipients,
        key=f"follow_up:{follow_up.id}:warning",
        body=(
            "Homeward: follow-up for patient ref "
            f"{patient_ref(follow_up.patient_id)} is due within 24 h, see the ward board."
        ),
        purpose="follow_up_warning",
        now=now,
        patient_id=follow_up.patient_id,
        ward_id=ward.id,
    )
    audit.record(
        session,
        BREACH_ACTOR,
        "follow_up.warn",
        at=now,
        patient_id=follow_up.patient_id,
        ward_id=ward.id,
        object_type="follow_up",
        object_id=follow_up.id,
        detail={"texted": queued},
    )
    await session.flush()
    return queued
