"""What the check-in sweep does to one due check-in. Each step is a small named transition.

scheduled ──(window open, channel usable)──▶ sent ──(reminder_after)──▶ reminded
    │                                          │                            │
    ├─(opted out / closed / readmitted)▶ cancelled      (end of reply window)▼
    └─(no consent / no mobile / bad number)▶ skipped           missed ◀──────┘
A reply (service.conversation.inbound) moves sent/reminded to answered.

One open question per patient (service.checkins.turns): a prompt goes only while the sweep
holds the patient row and no other check-in is open; a survey item awaiting its answer is set
back by `make_room` (the conversation's rule, handed in by the caller) and asked again later.

A miss raises a `no_reply` escalation, urgent after several misses in a row, or at the
first miss when suicide risk is recorded (`service.risk`).

The outbox checks again when a prompt or reminder would leave (service.conversation.delivery):
- Outside the contact window it waits for the next opening, unless the reply window would
  be over by then (`still_answerable`): a question that cannot be answered in time lapses
  rather than arrive late, and at its deadline the check-in closes as `skipped`
  (`window_passed`) and raises `no_reply` all the same: a slot that passed with no word
  from the patient is staff's to follow up, whatever the reason.
- Worded for a private phone while discreet mode is now on, it is withdrawn and the step that
  queued it runs again at once (`reword`), so the words are chosen again.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, OutboxMessage, Patient
from service.checkins import turns
from service.checkins.lifecycle import OPEN_STATUSES, open_check_in
from service.checkins.prompts import prompt_body, question_for
from service.checkins.windows import is_open, next_send_time
from service.escalations.service import raise_escalation
from service.patient_access.texting import WORDING_CHANGED, why_not_text
from service.principal import SystemActor
from service.risk import suicide_risk_recorded
from service.set_aside import not_set_aside
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
PROMPT = "checkin_prompt"
REMINDER = "checkin_reminder"
# Why the send step withdrew a prompt or reminder that could no longer be answered in time
# (service.conversation.delivery), and why its check-in then closed.
LAPSED = "window_passed"


async def claim_due(
    session: AsyncSession, now: datetime, limit: int = SWEEP_BATCH
) -> list[CheckIn]:
    """Due check-ins, locked for this transaction; other sweeps skip them."""
    rows = await session.scalars(
        select(CheckIn)
        .where(CheckIn.next_action_at <= now, not_set_aside(CheckIn))
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
    words = await prompt_body(session, patient, await question_for(session, patient.id))
    await outbox.enqueue(
        session,
        dedupe_key=await _dedupe_key(session, check_in, "prompt"),
        to_number=patient.mobile,
        body=words.body,
        template=words.ref,
        purpose=PROMPT,
        fit_for_discreet=patient.discreet_messages,
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
    words = await prompt_body(
        session, patient, await question_for(session, patient.id), reminder=True
    )
    await outbox.enqueue(
        session,
        dedupe_key=await _dedupe_key(session, check_in, "reminder"),
        to_number=patient.mobile,
        body=words.body,
        template=words.ref,
        purpose=REMINDER,
        fit_for_discreet=patient.discreet_messages,
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


async def _dedupe_key(session: AsyncSession, check_in: CheckIn, step: str) -> str:
    """One text per step; a step whose text was withdrawn for its words (see `reword`) runs
    again under a fresh key, so the second text is not taken for a repeat of the first."""
    reworded = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.check_in_id == check_in.id,
            OutboxMessage.purpose == f"checkin_{step}",
            OutboxMessage.status_reason == WORDING_CHANGED,
        )
    )
    key = f"checkin:{check_in.id}:{step}"
    return f"{key}:reworded:{reworded}" if reworded else key


async def still_answerable(
    session: AsyncSession, check_in_id: uuid.UUID, arrives_at: datetime
) -> bool:
    """Whether a prompt or reminder of this check-in arriving at `arrives_at` would still
    leave time to answer it: the check-in is open and its reply window not over by then."""
    check_in = await session.get(CheckIn, check_in_id, populate_existing=True)
    if check_in is None or check_in.status not in OPEN_STATUSES or check_in.sent_at is None:
        return False
    return arrives_at < reply_deadline(check_in)


async def reword(
    session: AsyncSession, check_in_id: uuid.UUID, purpose: str, now: datetime
) -> bool:
    """The outbox withdrew this check-in's prompt or reminder because its words no longer suit
    the patient (discreet mode came on after it was queued): put the check-in back before
    the step that queued it, due now, so the sweep queues it again in the right words.

    Nothing reached the patient, so the step starts afresh (a prompt's reply window runs
    from the new text). False when the check-in sweep holds the check-in right now (the
    caller asks again shortly; waiting for it could deadlock with the outbox's own locks);
    True otherwise, also when the check-in has moved on and there is nothing to redo."""
    check_in = await session.scalar(
        select(CheckIn)
        .where(CheckIn.id == check_in_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if check_in is None:
        return False
    if purpose == PROMPT and check_in.status == "sent" and check_in.reminded_at is None:
        check_in.status = "scheduled"
        check_in.sent_at = None
    elif purpose == REMINDER and check_in.status == "reminded":
        check_in.status = "sent"
        check_in.reminded_at = None
    else:
        return True
    check_in.next_action_at = now
    check_in.updated_at = now
    return True


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
    texts = (
        await session.execute(
            select(OutboxMessage.status, OutboxMessage.status_reason).where(
                OutboxMessage.check_in_id == check_in.id
            )
        )
    ).all()
    statuses = {t.status for t in texts}
    lapsed = any(t.status == "cancelled" and t.status_reason == LAPSED for t in texts)
    note: str | None = None
    # No text on record at all should not happen; when unsure, the safe side is to escalate.
    if statuses and not statuses & set(REACHED_CARRIER):
        failed = bool(statuses & {"undelivered", "failed"})
        if failed or not lapsed:
            _close(check_in, "skipped", "undeliverable" if failed else "not_sent", now)
            return
        # The prompt was held (an outage, the SMS cap) until it could no longer be answered
        # in time, and lapsed unsent. Nobody was asked, so this is not the patient's silence
        # (skipped, not missed), but a slot with no word from them must not pass unseen:
        # staff get the `no_reply` a miss would raise, saying why.
        _close(check_in, "skipped", LAPSED, now)
        note = "The check-in text was held back and lapsed unsent: the patient was not asked."
    else:
        _close(check_in, "missed", None, now)
    misses = await _misses_in_a_row(session, check_in)
    patient = await session.get(Patient, check_in.patient_id)
    assert patient is not None
    await raise_escalation(
        session,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason="no_reply",
        # With suicide risk recorded, one silence is already urgent: waiting for a third
        # miss would leave days between a patient at risk going quiet and anyone acting.
        severity="urgent"
        if misses >= MISSES_FOR_URGENT or await suicide_risk_recorded(session, patient.id)
        else "routine",
        source_type="check_in",
        source_id=check_in.id,
        now=now,
        note=note or f"No reply to the check-in ({misses} missed in a row).",
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
