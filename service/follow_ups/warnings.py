"""Warnings before a follow-up clock runs out: the key worker is told while there is time to call.

Every clock warns once 24 hours before it is due. A patient at home whom no check-in can reach
by SMS (`patient_access.texting.monitoring_gap`: no consent, no mobile, opted out, a number the
carrier refused) has nothing else watching them, so their clock warns earlier, twice:

- at once: as soon as the sweep sees the clock running for such a patient (at discharge, or
  when the patient stops being textable while it runs), "check-in texts cannot reach them";
- at half-time instead of 24 h ahead: the clock's midpoint, 36 h before a 72 h clock is due
  (a 48 h clock's midpoint is 24 h ahead, the usual warning).

Claimed through partial indexes of pending, unwarned follow-ups; `warned_at` and
`unmonitored_warned_at` are the claim markers and the outbox keys are per follow-up and
warning, so a retried sweep texts nobody twice.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import UTCDateTime
from db.models import Episode, FollowUp, Patient, Ward
from service import audit
from service.follow_ups.service import BREACH_ACTOR, no_longer_due, superseded_by_admission
from service.paging.recipients import recipients_at
from service.paging.texts import patient_ref, text_staff
from service.patient_access.texting import monitoring_gap
from service.set_aside import not_set_aside
from service.standards import FOLLOW_UP_WITHIN

WARN_BEFORE = timedelta(hours=24)
# The earliest a half-time warning can come: half of the longest clock.
HALF_TIME_LEAD = FOLLOW_UP_WITHIN / 2
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


async def claim_half_time(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[FollowUp]:
    """Pending, unwarned follow-ups of patients whom no check-in can reach, past their clock's
    midpoint but more than a day from due (within a day `claim_warnable` has them)."""
    rows = await session.scalars(
        select(FollowUp)
        .join(Episode, Episode.id == FollowUp.episode_id)
        .join(Patient, Patient.id == FollowUp.patient_id)
        .where(
            FollowUp.status == "pending",
            FollowUp.warned_at.is_(None),
            FollowUp.due_at > now + WARN_BEFORE,
            FollowUp.due_at <= now + HALF_TIME_LEAD,
            # Past the midpoint: as long since discharge as is left until due.
            literal(now, UTCDateTime()) - Episode.discharged_at >= FollowUp.due_at - now,
            monitoring_gap().is_not(None),
            not_set_aside(FollowUp),
        )
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
        .with_for_update(of=FollowUp, skip_locked=True)
    )
    return list(rows.all())


async def claim_unmonitored(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[FollowUp]:
    """Running clocks (pending, not yet due) of patients at home whom no check-in can reach,
    not yet warned about that."""
    rows = await session.scalars(
        select(FollowUp)
        .join(Patient, Patient.id == FollowUp.patient_id)
        .where(
            FollowUp.status == "pending",
            FollowUp.unmonitored_warned_at.is_(None),
            FollowUp.due_at > now,
            monitoring_gap().is_not(None),
            ~superseded_by_admission(),
            not_set_aside(FollowUp),
        )
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
        .with_for_update(of=FollowUp, skip_locked=True)
    )
    return list(rows.all())


def _hours_left(follow_up: FollowUp, now: datetime) -> int:
    return max(1, math.ceil((follow_up.due_at - now) / timedelta(hours=1)))


async def warn(session: AsyncSession, follow_up: FollowUp, now: datetime) -> int:
    """Text level 1 (or the first level with someone) that the clock is running out: 24 h
    ahead, or at half-time for a patient no check-in reaches (`claim_half_time`)."""
    if follow_up.status != "pending" or follow_up.warned_at is not None:
        return 0
    follow_up.warned_at = now
    left = follow_up.due_at - now
    within = "24 h" if left <= WARN_BEFORE else f"{_hours_left(follow_up, now)} h"
    return await _tell(
        session,
        follow_up,
        now,
        key="warning",
        body=f"is due within {within}, see the ward board.",
        purpose="follow_up_warning",
        action="follow_up.warn",
    )


async def warn_unmonitored(session: AsyncSession, follow_up: FollowUp, now: datetime) -> int:
    """Text level 1 that check-in texts cannot reach the patient while this clock runs."""
    if follow_up.status != "pending" or follow_up.unmonitored_warned_at is not None:
        return 0
    follow_up.unmonitored_warned_at = now
    return await _tell(
        session,
        follow_up,
        now,
        key="unmonitored",
        body=(
            f"is due within {_hours_left(follow_up, now)} h and check-in texts cannot reach "
            "the patient, see the ward board."
        ),
        purpose="follow_up_warning",
        action="follow_up.warn_unmonitored",
    )


async def _tell(
    session: AsyncSession,
    follow_up: FollowUp,
    now: datetime,
    *,
    key: str,
    body: str,
    purpose: str,
    action: str,
) -> int:
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
        key=f"follow_up:{follow_up.id}:{key}",
        # No name, no reason: a staff text names only the patient's reference.
        body=f"Homeward: follow-up for patient ref {patient_ref(follow_up.patient_id)} {body}",
        purpose=purpose,
        now=now,
        patient_id=follow_up.patient_id,
        ward_id=ward.id,
    )
    audit.record(
        session,
        BREACH_ACTOR,
        action,
        at=now,
        patient_id=follow_up.patient_id,
        ward_id=ward.id,
        object_type="follow_up",
        object_id=follow_up.id,
        detail={"texted": queued},
    )
    await session.flush()
    return queued
