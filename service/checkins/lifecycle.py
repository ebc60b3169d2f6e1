"""Check-in schedule lifecycle: start at discharge, pause on readmission, cancel, restore.

These functions are called by other domains (discharge, readmission, closure, opt-out), so
they take only a session, ids and `now`; unsent texts are withdrawn through the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import CheckIn, CheckInSchedule, Patient, Ward
from service.checkin_defaults import (
    DEFAULT_OFFSETS_HOURS,
    DEFAULT_REMINDER_AFTER_MINUTES,
    DEFAULT_REPLY_WINDOW_MINUTES,
    CheckInDefaults,
)
from service.checkins.windows import next_send_time
from service.sms import outbox

OPEN_STATUSES = ("sent", "reminded")
PENDING_STATUSES = ("scheduled", *OPEN_STATUSES)


def new_schedule(patient_id: uuid.UUID, now: datetime) -> CheckInSchedule:
    return CheckInSchedule(
        patient_id=patient_id,
        offsets_hours=list(DEFAULT_OFFSETS_HOURS),
        reply_window_minutes=DEFAULT_REPLY_WINDOW_MINUTES,
        reminder_after_minutes=DEFAULT_REMINDER_AFTER_MINUTES,
        active=True,
        anchor_at=None,
        paused_at=None,
        created_at=now,
        updated_at=now,
    )


async def ward_defaults(session: AsyncSession, patient_id: uuid.UUID) -> CheckInDefaults:
    policy = await session.scalar(
        select(Ward.escalation_policy)
        .join(Patient, Patient.ward_id == Ward.id)
        .where(Patient.id == patient_id)
    )
    try:
        return msgspec.convert((policy or {}).get("check_ins") or {}, CheckInDefaults)
    except msgspec.ValidationError:
        # A policy stored before the field had bounds: the standard schedule, never none.
        return CheckInDefaults()


async def schedule_for_update(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime
) -> CheckInSchedule:
    """The patient's schedule row, locked; created on first use with the ward's check-in
    defaults (`escalation_policy.check_ins`), else the standard ones."""
    defaults = await ward_defaults(session, patient_id)
    await session.execute(
        insert(CheckInSchedule)
        .values(
            patient_id=patient_id,
            offsets_hours=list(defaults.offsets_hours),
            reply_window_minutes=defaults.reply_window_minutes,
            reminder_after_minutes=defaults.reminder_after_minutes,
            active=True,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["patient_id"])
    )
    schedule = await session.scalar(
        select(CheckInSchedule)
        .where(CheckInSchedule.patient_id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert schedule is not None
    return schedule


def first_action_at(patient: Patient, due_at: datetime) -> datetime:
    """When the sweep should first look at a check-in due at `due_at`: the window's opening."""
    return next_send_time(
        due_at, patient.timezone, patient.contact_window_start, patient.contact_window_end
    )


async def generate(
    session: AsyncSession, patient: Patient, schedule: CheckInSchedule, now: datetime
) -> int:
    """Create the schedule's future check-ins from its anchor (idempotent). Returns how many.

    Offsets already in the past when the schedule (re)starts are not created: a discharge
    recorded late starts from the next offset still ahead.
    """
    if not schedule.active or schedule.anchor_at is None or schedule.paused_at is not None:
        return 0
    rows = []
    for offset in sorted(set(schedule.offsets_hours)):
        due = schedule.anchor_at + timedelta(hours=offset)
        if due <= now:
            continue
        rows.append(
            {
                "id": new_id(),
                "patient_id": patient.id,
                "kind": "scheduled",
                "anchor_at": schedule.anchor_at,
                "offset_hours": offset,
                "due_at": due,
                "next_action_at": first_action_at(patient, due),
                "status": "scheduled",
                "reply_window_minutes": schedule.reply_window_minutes,
                "reminder_after_minutes": schedule.reminder_after_minutes,
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return 0
    created = await session.scalars(
        insert(CheckIn)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_check_ins_offset")
        .returning(CheckIn.id)
    )
    return len(created.all())


async def drop_unsent_scheduled(session: AsyncSession, patient_id: uuid.UUID) -> int:
    """Remove schedule-generated check-ins nothing has happened to yet (before regenerating)."""
    result = await session.execute(
        delete(CheckIn)
        .where(
            CheckIn.patient_id == patient_id,
            CheckIn.kind == "scheduled",
            CheckIn.status == "scheduled",
        )
        .returning(CheckIn.id)
    )
    return len(result.all())


async def start_schedule(
    session: AsyncSession, patient_id: uuid.UUID, discharged_at: datetime, now: datetime
) -> CheckInSchedule:
    """Start (or restart) the patient's check-ins counting from this discharge.

    Called by the discharge flow in its transaction. Idempotent for the same discharge;
    a new discharge replaces check-ins left unsent from an earlier run.
    """
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise LookupError("no such patient")
    schedule = await schedule_for_update(session, patient_id, now)
    if schedule.anchor_at != discharged_at or schedule.paused_at is not None:
        await drop_unsent_scheduled(session, patient_id)
    schedule.anchor_at = discharged_at
    schedule.paused_at = None
    schedule.updated_at = now
    await session.flush()
    await generate(session, patient, schedule, now)
    return schedule


async def cancel_check_ins(
    session: AsyncSession,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    reason: str,
    statuses: Sequence[str] = PENDING_STATUSES,
) -> int:
    """Cancel the patient's scheduled and open check-ins and their unsent SMS.

    `reason` is kept on each row: "opted_out", "readmitted", "closed", ...
    """
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.patient_id == patient_id, CheckIn.status.in_(statuses))
        .values(
            status="cancelled",
            status_reason=reason,
            next_action_at=None,
            closed_at=now,
            updated_at=now,
        )
        .returning(CheckIn.id)
    )
    cancelled = len(result.all())
    await outbox.cancel_queued(session, patient_id=patient_id, now=now, reason=reason)
    return cancelled


async def pause_for_readmission(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> int:
    """Readmitted: no community check-ins while on the ward. The next discharge restarts them."""
    schedule = await session.get(CheckInSchedule, patient_id, with_for_update=True)
    if schedule is not None:
        schedule.paused_at = now
        schedule.updated_at = now
    return await cancel_check_ins(session, patient_id, now, reason="readmitted")


async def cancel_for_closure(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> int:
    """Care closed: stop the schedule and cancel everything still to come."""
    schedule = await session.get(CheckInSchedule, patient_id, with_for_update=True)
    if schedule is not None:
        schedule.active = False
        schedule.updated_at = now
    return await cancel_check_ins(session, patient_id, now, reason="closed")


async def restore_after_opt_in(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> int:
    """Opted back in: check-ins cancelled by the opt-out that are still ahead come back."""
    patient = await session.get(Patient, patient_id)
    if patient is None:
        return 0
    rows = (
        await session.scalars(
            select(CheckIn).where(
                CheckIn.patient_id == patient_id,
                CheckIn.status == "cancelled",
                CheckIn.status_reason == "opted_out",
                CheckIn.due_at > now,
            )
        )
    ).all()
    for row in rows:
        row.status = "scheduled"
        row.status_reason = None
        row.closed_at = None
        row.next_action_at = first_action_at(patient, row.due_at)
        row.updated_at = now
    return len(rows)


async def skip_check_in(
    session: AsyncSession, check_in_id: uuid.UUID, now: datetime, *, reason: str
) -> bool:
    """A check-in that cannot happen (its prompt was undeliverable, no consent, ...)."""
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.id == check_in_id, CheckIn.status.in_(PENDING_STATUSES))
        .values(
            status="skipped",
            status_reason=reason,
            next_action_at=None,
            closed_at=now,
            updated_at=now,
        )
        .returning(CheckIn.id)
    )
    return result.first() is not None


async def open_check_in(
    session: AsyncSession, patient_id: uuid.UUID, *, lock: bool = True
) -> CheckIn | None:
    """The check-in a reply answers: the most recently sent one still open (locked unless
    `lock=False`, for a look that changes nothing)."""
    query = (
        select(CheckIn)
        .where(CheckIn.patient_id == patient_id, CheckIn.status.in_(OPEN_STATUSES))
        .order_by(CheckIn.sent_at.desc(), CheckIn.id.desc())
        .limit(1)
    )
    result: CheckIn | None = await session.scalar(query.with_for_update() if lock else query)
    return result


def answer(check_in: CheckIn, now: datetime, *, score: int | None, reply: str) -> None:
    check_in.status = "answered"
    check_in.answered_at = now
    check_in.score = score
    check_in.reply = reply
    check_in.next_action_at = None
    check_in.closed_at = now
    check_in.updated_at = now
