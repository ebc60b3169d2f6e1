"""The post-discharge follow-up clock.

Discharge creates one follow-up due 72 h later (48 h when suicide risk is recorded),
counted as elapsed time in UTC so a clock change never moves it. Only a person's recorded
contact completes it: there is no path from an SMS. A pending follow-up past its due time
is breached; `follow_up_is_breached` is the rule and `mark_breached` applies it (the sweep
that claims rows with `claim_overdue` and calls it belongs to the jobs).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from db.models import Episode, FollowUp, FollowUpAttempt, Patient
from service import audit
from service.checks import check_not_future
from service.errors import InvalidInput
from service.escalations.service import raise_escalation, resolve_for_source
from service.follow_ups.access import readable_follow_ups
from service.follow_ups.schemas import AttemptIn, AttemptOut, FollowUpOut
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import denial, patient_for_staff_deferred
from service.principal import Principal, SystemActor
from service.set_aside import not_set_aside
from service.standards import FOLLOW_UP_WITHIN, FOLLOW_UP_WITHIN_SUICIDE_RISK, whole_hours

BREACH_ACTOR = SystemActor("follow_ups")


def follow_up_window(suicide_risk: bool) -> timedelta:
    return FOLLOW_UP_WITHIN_SUICIDE_RISK if suicide_risk else FOLLOW_UP_WITHIN


def due_at_for(discharged_at: datetime, suicide_risk: bool) -> datetime:
    """Exact elapsed hours: UTC arithmetic, never wall-clock arithmetic in a local zone."""
    return discharged_at.astimezone(UTC) + follow_up_window(suicide_risk)


def follow_up_is_breached(follow_up: FollowUp, now: datetime) -> bool:
    """Still pending after its due time. Due exactly now is still in time."""
    return follow_up.status == "pending" and now > follow_up.due_at


def attempt_out(attempt: FollowUpAttempt) -> AttemptOut:
    return AttemptOut(
        id=attempt.id,
        follow_up_id=attempt.follow_up_id,
        occurred_at=attempt.occurred_at,
        method=attempt.method,  # type: ignore[arg-type]
        successful=attempt.successful,
        note=attempt.note,
        recorded_by=attempt.recorded_by,
        recorded_at=attempt.recorded_at,
    )


def to_out(follow_up: FollowUp, attempts: list[FollowUpAttempt]) -> FollowUpOut:
    return FollowUpOut(
        id=follow_up.id,
        patient_id=follow_up.patient_id,
        episode_id=follow_up.episode_id,
        due_at=follow_up.due_at,
        status=follow_up.status,  # type: ignore[arg-type]
        completed_at=follow_up.completed_at,
        method=follow_up.method,  # type: ignore[arg-type]
        outcome=follow_up.outcome,
        suicide_risk=follow_up.suicide_risk,
        breached_at=follow_up.breached_at,
        attempts=[attempt_out(a) for a in attempts],
    )


async def create_for_discharge(session: AsyncSession, episode: Episode, now: datetime) -> FollowUp:
    """Called by the discharge, inside its transaction."""
    if episode.discharged_at is None:
        raise ValueError("a follow-up needs a discharged episode")
    suicide_risk = bool(episode.suicide_risk)
    follow_up = FollowUp(
        patient_id=episode.patient_id,
        episode_id=episode.id,
        due_at=due_at_for(episode.discharged_at, suicide_risk),
        suicide_risk=suicide_risk,
        status="pending",
        created_at=now,
    )
    session.add(follow_up)
    await session.flush()
    return follow_up


async def claim_overdue(session: AsyncSession, now: datetime, limit: int = 100) -> list[FollowUp]:
    """Pending follow-ups past due, oldest first, locked for this transaction (SKIP LOCKED)."""
    rows = await session.scalars(
        select(FollowUp)
        .where(FollowUp.status == "pending", FollowUp.due_at < now, not_set_aside(FollowUp))
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


def superseded_by_admission() -> ColumnElement[bool]:
    """SQL condition on FollowUp: the patient was admitted again after this follow-up's
    discharge, so it no longer applies."""
    its_stay, later_stay = aliased(Episode), aliased(Episode)
    return (
        select(later_stay.id)
        .join(its_stay, its_stay.id == FollowUp.episode_id)
        .where(
            later_stay.patient_id == FollowUp.patient_id,
            later_stay.admitted_at > its_stay.discharged_at,
        )
        .exists()
    )


def follow_up_due(
    patient_id: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> ColumnElement[bool]:
    """SQL condition: the patient has a follow-up still waiting for a human contact (pending
    or breached, and not superseded by a later admission)."""
    return (
        select(FollowUp.id)
        .where(
            FollowUp.patient_id == patient_id,
            FollowUp.status.in_(("pending", "breached")),
            ~superseded_by_admission(),
        )
        .exists()
    )


async def no_longer_due(session: AsyncSession, follow_up: FollowUp) -> str | None:
    """Why nobody should chase this follow-up any more ("readmitted", "closed"), or None."""
    readmitted = await session.scalar(
        select(FollowUp.id).where(FollowUp.id == follow_up.id, superseded_by_admission())
    )
    if readmitted is not None:
        return "readmitted"
    status = await session.scalar(select(Patient.status).where(Patient.id == follow_up.patient_id))
    return "closed" if status == "closed" else None


async def mark_breached(
    session: AsyncSession,
    follow_up: FollowUp,
    now: datetime,
    actor: Principal | SystemActor = BREACH_ACTOR,
) -> bool:
    """Mark a pending, overdue follow-up breached; False (and no change) otherwise."""
    if not follow_up_is_breached(follow_up, now):
        return False
    follow_up.status = "breached"
    follow_up.breached_at = now
    ward_id = await session.scalar(
        select(Patient.ward_id).where(Patient.id == follow_up.patient_id)
    )
    assert ward_id is not None
    moot = await no_longer_due(session, follow_up)
    audit.record(
        session,
        actor,
        "follow_up.breach",
        at=now,
        patient_id=follow_up.patient_id,
        ward_id=ward_id,
        object_type="follow_up",
        object_id=follow_up.id,
        detail={"not_escalated": moot} if moot else None,
    )
    if moot:
        # Recorded as breached so the row leaves the due set (the outcomes measure leaves out
        # patients readmitted before the due time), but nobody is sent to find a patient who
        # is back on the ward or whose record is closed.
        await session.flush()
        return True
    await raise_escalation(
        session,
        patient_id=follow_up.patient_id,
        ward_id=ward_id,
        reason="follow_up_due",
        severity="urgent" if follow_up.suicide_risk else "routine",
        source_type="follow_up",
        source_id=follow_up.id,
        now=now,
        note="No successful follow-up contact within "
        f"{whole_hours(follow_up_window(follow_up.suicide_risk))} hours of discharge.",
        actor=actor,
    )
    await session.flush()
    return True


async def _attempts_by_follow_up(
    session: AsyncSession, follow_up_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[FollowUpAttempt]]:
    grouped: dict[uuid.UUID, list[FollowUpAttempt]] = defaultdict(list)
    if not follow_up_ids:
        return grouped
    rows = await session.scalars(
        select(FollowUpAttempt)
        .where(FollowUpAttempt.follow_up_id.in_(follow_up_ids))
        .order_by(FollowUpAttempt.occurred_at, FollowUpAttempt.id)
    )
    for attempt in rows:
        grouped[attempt.follow_up_id].append(attempt)
    return grouped


async def list_follow_ups(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[FollowUpOut], str | None]:
    """Newest due first, each with its attempts (oldest first)."""
    _, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="follow_up.list", now=now
    )
    query = readable_follow_ups(caller).where(FollowUp.patient_id == patient_id)
    query = page_after(
        query, FollowUp.due_at, FollowUp.id, decode_cursor(cursor), limit, newest_first=True
    )
    rows = list((await session.scalars(query)).all())
    page, next_cursor = split_page(rows, limit, lambda f: (f.due_at, f.id))
    attempts = await _attempts_by_follow_up(session, [f.id for f in page])
    event.detail = {"follow_up_ids": [str(f.id) for f in page]}
    session.add(event)
    return [to_out(f, attempts[f.id]) for f in page], next_cursor


async def record_attempt(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    follow_up_id: uuid.UUID,
    data: AttemptIn,
    now: datetime,
) -> FollowUpAttempt:
    """Record a contact attempt. A successful one completes a follow-up that is not yet
    completed (pending, or breached and now reached late); later attempts are kept but
    change nothing."""
    patient, event = await patient_for_staff_deferred(
        session,
        caller,
        patient_id,
        action="follow_up.attempt",
        now=now,
        object_type="follow_up",
        object_id=follow_up_id,
    )
    follow_up = await session.scalar(
        readable_follow_ups(caller)
        .where(FollowUp.id == follow_up_id, FollowUp.patient_id == patient.id)
        .with_for_update()
    )
    if follow_up is None:
        raise await denial(
            session,
            caller,
            "follow_up.attempt",
            patient_id,
            now,
            object_type="follow_up",
            object_id=follow_up_id,
            message="No such follow-up.",
        )
    occurred_at = check_not_future(data.occurred_at, now, "occurred_at")
    discharged_at = await session.scalar(
        select(Episode.discharged_at).where(Episode.id == follow_up.episode_id)
    )
    if discharged_at is not None and occurred_at < discharged_at:
        raise InvalidInput.field("occurred_at", "must not be before the discharge")
    note = data.note.strip() if data.note else None
    attempt = FollowUpAttempt(
        follow_up_id=follow_up.id,
        occurred_at=occurred_at,
        method=data.method,
        successful=data.successful,
        note=note or None,
        recorded_by=caller.user_id,
        recorded_at=now,
    )
    session.add(attempt)
    completed = False
    if data.successful and follow_up.status != "completed":
        follow_up.status = "completed"
        follow_up.completed_at = occurred_at
        follow_up.completed_by = caller.user_id
        follow_up.method = data.method
        follow_up.outcome = note or None
        completed = True
        await resolve_for_source(
            session,
            reason="follow_up_due",
            source_type="follow_up",
            source_id=follow_up.id,
            now=now,
            note="Resolved by the successful follow-up contact recorded.",
            actor=caller,
        )
    await session.flush()
    event.detail = {"attempt_id": str(attempt.id), "completed": completed}
    session.add(event)
    return attempt
