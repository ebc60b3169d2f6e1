"""Ward staff's view of check-ins: the schedule, extra check-ins, and the list."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, CheckInSchedule, Episode
from service.checkin_defaults import CheckInDefaults
from service.checkins import lifecycle
from service.checkins.schemas import (
    CheckInCreate,
    CheckInOut,
    ScheduleIn,
    ScheduleOut,
)
from service.errors import Conflict, InvalidInput, NotFound
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import patient_for_staff, patient_for_staff_deferred
from service.patient_access.texting import require_textable
from service.principal import Principal
from service.sms import outbox

EXTRA_MAX_AHEAD = timedelta(days=366)
EXTRA_PAST_TOLERANCE = timedelta(minutes=5)


def schedule_out(
    row: CheckInSchedule | None, defaults: CheckInDefaults | None = None
) -> ScheduleOut:
    """The schedule; with no row yet, the ward's defaults it will start from."""
    if row is None:
        defaults = defaults or CheckInDefaults()
        return ScheduleOut(
            offsets_hours=list(defaults.offsets_hours),
            reply_window_minutes=defaults.reply_window_minutes,
            reminder_after_minutes=defaults.reminder_after_minutes,
            active=True,
            started_at=None,
            paused_at=None,
        )
    return ScheduleOut(
        offsets_hours=list(row.offsets_hours),
        reply_window_minutes=row.reply_window_minutes,
        reminder_after_minutes=row.reminder_after_minutes,
        active=row.active,
        started_at=row.anchor_at,
        paused_at=row.paused_at,
    )


def check_in_out(row: CheckIn) -> CheckInOut:
    return CheckInOut(
        id=row.id,
        due_at=row.due_at,
        status=row.status,  # type: ignore[arg-type]
        sent_at=row.sent_at,
        answered_at=row.answered_at,
        score=row.score,
        reply=row.reply,
        kind=row.kind,  # type: ignore[arg-type]
        send_at=row.next_action_at if row.status == "scheduled" else None,
        reminded_at=row.reminded_at,
        closed_at=row.closed_at,
        status_reason=row.status_reason,
        reply_window_minutes=row.reply_window_minutes,
        reminder_after_minutes=row.reminder_after_minutes,
    )


def _check_reminder(reminder_after: int, reply_window: int) -> None:
    if reminder_after >= reply_window:
        raise InvalidInput.field(
            "reminder_after_minutes", "must be shorter than reply_window_minutes"
        )


async def get_schedule(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> ScheduleOut:
    await patient_for_staff(session, caller, patient_id, action="checkin_schedule.read", now=now)
    row = await session.get(CheckInSchedule, patient_id)
    return schedule_out(row, None if row else await lifecycle.ward_defaults(session, patient_id))


async def _last_discharge(session: AsyncSession, patient_id: uuid.UUID) -> datetime | None:
    result: datetime | None = await session.scalar(
        select(Episode.discharged_at)
        .where(Episode.patient_id == patient_id, Episode.discharged_at.is_not(None))
        .order_by(Episode.discharged_at.desc())
        .limit(1)
    )
    return result


async def put_schedule(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: ScheduleIn,
    now: datetime,
) -> ScheduleOut:
    """Replace the schedule. Unsent check-ins it generated are regenerated from it."""
    _check_reminder(data.reminder_after_minutes, data.reply_window_minutes)
    patient = await patient_for_staff(
        session, caller, patient_id, action="checkin_schedule.update", now=now, for_update=True
    )
    schedule = await lifecycle.schedule_for_update(session, patient.id, now)
    schedule.offsets_hours = sorted(set(data.offsets_hours))
    schedule.reply_window_minutes = data.reply_window_minutes
    schedule.reminder_after_minutes = data.reminder_after_minutes
    schedule.active = data.active
    schedule.updated_at = now
    if schedule.anchor_at is None and patient.status == "discharged":
        # Discharged before a schedule existed: count from that discharge.
        schedule.anchor_at = await _last_discharge(session, patient.id)
    await session.flush()
    await lifecycle.drop_unsent_scheduled(session, patient.id)
    if patient.status == "discharged":
        await lifecycle.generate(session, patient, schedule, now)
    return schedule_out(schedule)


async def create_check_in(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: CheckInCreate,
    now: datetime,
) -> CheckIn:
    patient = await patient_for_staff(
        session, caller, patient_id, action="checkin.create", now=now, for_update=True
    )
    if data.due_at < now - EXTRA_PAST_TOLERANCE:
        raise InvalidInput.field("due_at", "must not be in the past")
    if data.due_at > now + EXTRA_MAX_AHEAD:
        raise InvalidInput.field("due_at", "must be within a year")
    schedule = await session.get(CheckInSchedule, patient.id)
    defaults = None if schedule else await lifecycle.ward_defaults(session, patient.id)
    reply_window = data.reply_window_minutes or (
        schedule.reply_window_minutes if schedule else defaults.reply_window_minutes  # type: ignore[union-attr]
    )
    reminder_after = data.reminder_after_minutes or (
        schedule.reminder_after_minutes if schedule else defaults.reminder_after_minutes  # type: ignore[union-attr]
    )
    if reminder_after >= reply_window and data.reminder_after_minutes is None:
        reminder_after = max(5, reply_window // 2)
    _check_reminder(reminder_after, reply_window)
    await require_textable(session, patient)
    row = CheckIn(
        patient_id=patient.id,
        kind="extra",
        due_at=data.due_at,
        next_action_at=lifecycle.first_action_at(patient, max(data.due_at, now)),
        status="scheduled",
        reply_window_minutes=reply_window,
        reminder_after_minutes=reminder_after,
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


# Kept on a check-in staff cancelled (and on its withdrawn text), beside the lifecycle's
# "opted_out", "readmitted", "closed".
STAFF_CANCELLED = "staff_cancelled"


async def cancel_check_in(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    check_in_id: uuid.UUID,
    now: datetime,
) -> CheckIn:
    """Cancel one check-in not yet sent (409 once its prompt has gone: a question already
    asked is answered or missed, never taken back). Its text, if queued, is withdrawn; a
    schedule's check-in stays cancelled when the schedule is saved again."""
    patient, event = await patient_for_staff_deferred(
        session,
        caller,
        patient_id,
        action="checkin.cancel",
        now=now,
        for_update=True,
        object_type="check_in",
        object_id=check_in_id,
    )
    row = await session.scalar(
        select(CheckIn)
        .where(CheckIn.id == check_in_id, CheckIn.patient_id == patient.id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("No such check-in.")
    if row.status != "scheduled":
        raise Conflict(f"Only a check-in not yet sent can be cancelled; this one is {row.status}.")
    row.status = "cancelled"
    row.status_reason = STAFF_CANCELLED
    row.next_action_at = None
    row.closed_at = now
    row.updated_at = now
    await outbox.cancel_queued(
        session, patient_id=patient.id, now=now, reason=STAFF_CANCELLED, check_in_id=row.id
    )
    event.detail = {"kind": row.kind}
    session.add(event)
    await session.flush()
    return row


async def list_check_ins(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
) -> tuple[list[CheckIn], str | None]:
    await patient_for_staff(session, caller, patient_id, action="checkin.list", now=now)
    query = select(CheckIn).where(CheckIn.patient_id == patient_id)
    if status is not None:
        query = query.where(CheckIn.status == status)
    query = page_after(query, CheckIn.due_at, CheckIn.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda r: (r.due_at, r.id))
