"""What the check-in sweep does to one due check-in. Each step is a small named transition.

scheduled ──(window open, channel usable)──▶ sent ──(reminder_after)──▶ reminded
    │                                          │                            │
    ├─(opted out / closed / readmitted)▶ cancelled      (end of reply window)▼
    └─(no consent / no mobile / bad number)▶ skipped           missed ◀──────┘
A reply (service.conversation.inbound) moves sent/reminded to answered.

One open question per patient (service.checkins.turns): a prompt goes only while the sweep
holds the patient row and no other check-in is open; a survey item awaiting its answer is set
back by `make_room` (the conversation's rule, handed in by the caller) and asked again later.

A miss raises a `no_reply` escalation, urgent after several misses in a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, OutboxMessage, Patient
from service.checkins import turns
from service.checkins.lifecycle import open_check_in
from service.checkins.prompts import prompt_body, question_for
from service.checkins.windows import is_open, next_send_time
from service.escalations.service import raise_escalation
from service.patient_access.texting import why_not_text
from service.principal import SystemActor
from service.sms import outbox

Step = Literal[
    "deferred", "prompted", "reminded", "missed", "cancelled", "skipped", "waiting", "busy", "none"
]
# Clears the way for a check-in prompt: sets back whatever else awaits the patient's answer.
MakeRoom = Callable[[AsyncSession, uuid.UUID, datetime], Awaitable[None]]
SWEEP_BATCH = 200
# Three silent check-ins in a row make the no_reply escalation urgent.
MISSES_FOR_URGENT = 3
# Prompt statuses after which silence is the patient's: the carrier took the text.
REACHED_CARRIER = ("sent", "delivered")
CHECKIN_ACTOR = SystemActor("checkins")


async def claim_due(
    session: AsyncSession, now: datetime, limit: int = SWEEP_BATCH
) -> list[CheckIn]:
    """Due check-ins, locked for this transaction; other sweeps skip them."""
    rows = await session.scalars(
        select(CheckIn)
        .where(CheckIn.next_action_at <= now)
        .order_by(CheckIn.next_action_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


def reply_deadline(check_in: CheckIn) -> datetime:
    assert check_in.sent_at is not None
    return check_in.sent_at + timedelta(minutes=check_in.reply_window_minutes)


# What the texting rule's refusal (service.patient_access.texting) does to a check-in still to be
# sent: a channel that is shut for good cancels it, one that may come back skips it.
_STATUS_FOR_REFUSAL = {
    "closed": ("cancelled", "closed"),
    "on_ward": ("cancelled", "readmitted"),
    "opted_out": ("cancelled", "opted_out"),
}


async def why_not_send(session: AsyncSession, patient: Patient) -> tuple[str, str] | None:
    """(new status, reason) when this patient must not get a prompt now; None to go ahead."""
    refused = await why_not_text(session, patient)
    if refused is None:
        return None
    return _STATUS_FOR_REFUSAL.get(refused, ("skipped", refused))


def _close(check_in: CheckIn, status: str, reason: str | None, now: datetime) -> None:
    check_in.status = status
    check_in.status_reason = reason
    check_in.next_action_at = None
    check_in.closed_at = now
    check_in.updated_at = now


async def advance(
    session: AsyncSession, check_in: CheckIn, now: datetime, *, make_room: MakeRoom
) -> Step:
    """Take the one step that is due for this check-in."""
    patient = await session.get(Patient, check_in.patient_id)
    assert patient is not None
    if check_in.status == "scheduled":
        return await _prompt(session, patient, check_in, now, make_room)
    if check_in.status == "sent":
        return await _remind_or_close(session, patient, check_in, now)
    if check_in.status == "reminded":
        if now >= reply_deadline(check_in):
            await mark_missed(session, check_in, now)
            return "missed"
        check_in.next_action_at = reply_deadline(check_in)
        return "waiting"
    check_in.next_action_at = None
    return "none"


async def _prompt(
    session: AsyncSession,
    patient: Patient,
    check_in: CheckIn,
    now: datetime,
    make_room: MakeRoom,
) -> Step:
    blocked = await why_not_send(session, patient)
    if blocked is not None:
        status, reason = blocked
        _close(check_in, status, reason, now)
        return "cancelled" if status == "cancelled" else "skipped"
    window = (patient.timezone, patient.contact_window_start, patient.contact_window_end)
    if not is_open(now, *window):
        # Quiet hours (or the window changed since it was scheduled): wait for the opening.
        check_in.next_action_at = next_send_time(now, *window)
        check_in.updated_at = now
        return "deferred"
    if not await turns.claim_turn(session, patient.id, wait=False):
        # Another transaction is deciding what to ask this patient: try again next tick.
        return "busy"
    other = await open_check_in(session, patient.id, lock=False)
    if other is not None and other.id != check_in.id:
        # One check-in at a time: this one waits until the open one is answered or ends.
        check_in.next_action_at = reply_deadline(other)
        check_in.updated_at = now
        return "waiting"
    await make_room(session, patient.id, now)
    assert patient.mobile is not None
    body = prompt_body(patient, await question_for(session, patient.id))
    await outbox.enqueue(
        session,
        dedupe_key=f"checkin:{check_in.id}:prompt",
        to_number=patient.mobile,
        body=body,
        purpose="checkin_prompt",
        now=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        check_in_id=check_in.id,
    )
    check_in.status = "sent"
    check_in.sent_at = now
    check_in.next_action_at = now + timedelta(minutes=check_in.reminder_after_minutes)
    check_in.updated_at = now
    return "prompted"


async def _remind_or_close(
    session: AsyncSession, patient: Patient, check_in: CheckIn, now: datetime
) -> Step:
    deadline = reply_deadline(check_in)
    if now >= deadline:
        await mark_missed(session, check_in, now)
        return "missed"
    blocked = await why_not_send(session, patient)
    if blocked is not None:
        # No reminder to a closed channel; the check-in still ends at its deadline.
        check_in.next_action_at = deadline
        return "waiting"
    window = (patient.timezone, patient.contact_window_start, patient.contact_window_end)
    if not is_open(now, *window):
        opening = next_send_time(now, *window)
        check_in.next_action_at = opening if opening < deadline else deadline
        return "deferred"
    assert patient.mobile is not None
    body = prompt_body(patient, await question_for(session, patient.id), reminder=True)
    await outbox.enqueue(
        session,
        dedupe_key=f"checkin:{check_in.id}:reminder",
        to_number=patient.mobile,
        body=body,
        purpose="checkin_reminder",
        now=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        check_in_id=check_in.id,
    )
    check_in.status = "reminded"
    check_in.reminded_at = now
    check_in.next_action_at = deadline
    check_in.updated_at = now
    return "reminded"


async def mark_missed(session: AsyncSession, check_in: CheckIn, now: datetime) -> None:
    """No reply by the end of the reply window: close it and tell the ward (`no_reply`).

    Texts still queued for it are withdrawn first (they would arrive after the close).
    Silence means something only if the prompt or the reminder reached the carrier; if
    neither did (failed, held by the SMS cap, unconfirmed), the check-in is `skipped` with
    the reason, raises nothing (a failure raised `undeliverable` already) and does not count
    towards a run of misses. Several real misses in a row make the escalation urgent.
    """
    await outbox.cancel_queued(
        session,
        patient_id=check_in.patient_id,
        now=now,
        reason="check_in_closed",
        check_in_id=check_in.id,
    )
    statuses = set(
        (
            await session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.check_in_id == check_in.id)
            )
        ).all()
    )
    # No text on record at all should not happen; when unsure, the safe side is to escalate.
    if statuses and not statuses & set(REACHED_CARRIER):
        failed = bool(statuses & {"undelivered", "failed"})
        _close(check_in, "skipped", "undeliverable" if failed else "not_sent", now)
        return
    _close(check_in, "missed", None, now)
    misses = await _misses_in_a_row(session, check_in)
    patient = await session.get(Patient, check_in.patient_id)
    assert patient is not None
    await raise_escalation(
        session,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason="no_reply",
        severity="urgent" if misses >= MISSES_FOR_URGENT else "routine",
        source_type="check_in",
        source_id=check_in.id,
        now=now,
        note=f"No reply to the check-in ({misses} missed in a row).",
        actor=CHECKIN_ACTOR,
    )


async def _misses_in_a_row(session: AsyncSession, check_in: CheckIn) -> int:
    """This miss plus the missed check-ins just before it, back to the last answered one."""
    recent = await session.scalars(
        select(CheckIn.status)
        .where(
            CheckIn.patient_id == check_in.patient_id,
            CheckIn.due_at < check_in.due_at,
            CheckIn.status.in_(("answered", "missed")),
        )
        .order_by(CheckIn.due_at.desc())
        .limit(MISSES_FOR_URGENT)
    )
    streak = 1
    for status in recent:
        if status != "missed":
            break
        streak += 1
    return streak
