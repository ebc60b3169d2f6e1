"""What the check-in sweep does to one due check-in. Each step is a small named transition.

scheduled ──(window open, channel usable)──▶ sent ──(reminder_after)──▶ reminded
    │                                          │                            │
    ├─(opted out / closed / readmitted)▶ cancelled      (end of reply window)▼
    └─(no consent / no mobile / bad number)▶ skipped           missed ◀──────┘
A reply (service.sms.inbound) moves sent/reminded to answered.

A missed check-in raises a routine `no_reply` escalation (issue 6 may grade its severity by
consecutive misses).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, Escalation, OutboxMessage, Patient
from service.checkins.prompts import prompt_body, question_for
from service.checkins.windows import is_open, next_send_time
from service.escalations.service import raise_escalation
from service.principal import SystemActor
from service.sms import outbox
from service.sms.channel import number_flagged

Step = Literal[
    "deferred", "prompted", "reminded", "missed", "cancelled", "skipped", "waiting", "none"
]
SWEEP_BATCH = 200


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


async def why_not_send(session: AsyncSession, patient: Patient) -> tuple[str, str] | None:
    """(new status, reason) when this patient must not get a prompt now; None to go ahead."""
    if patient.status == "closed":
        return "cancelled", "closed"
    if patient.status != "discharged":
        return "cancelled", "readmitted"
    if patient.sms_opted_out:
        return "cancelled", "opted_out"
    if not patient.sms_consent:
        return "skipped", "no_consent"
    if not patient.mobile:
        return "skipped", "no_mobile"
    if await number_flagged(session, patient.id, patient.mobile):
        return "skipped", "undeliverable"
    return None


def _close(check_in: CheckIn, status: str, reason: str | None, now: datetime) -> None:
    check_in.status = status
    check_in.status_reason = reason
    check_in.next_action_at = None
    check_in.closed_at = now
    check_in.updated_at = now


async def advance(session: AsyncSession, check_in: CheckIn, now: datetime) -> Step:
    """Take the one step that is due for this check-in."""
    patient = await session.get(Patient, check_in.patient_id)
    assert patient is not None
    if check_in.status == "scheduled":
        return await _prompt(session, patient, check_in, now)
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
    session: AsyncSession, patient: Patient, check_in: CheckIn, now: datetime
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
    """No reply by the end of the reply window: silence is a signal, so staff are told.

    Not when the prompt could not be delivered: that raised `undeliverable` already, and a
    second escalation for the same silence would only be noise. (Issue 6 may grade severity
    by consecutive misses.)
    """
    _close(check_in, "missed", None, now)
    if await _undeliverable_raised(session, check_in):
        return
    ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == check_in.patient_id))
    if ward_id is None:
        return
    await raise_escalation(
        session,
        patient_id=check_in.patient_id,
        ward_id=ward_id,
        reason="no_reply",
        severity="routine",
        source_type="check_in",
        source_id=check_in.id,
        now=now,
        note="No reply to a check-in by the end of its reply window.",
        actor=SystemActor("checkins"),
    )


async def _undeliverable_raised(session: AsyncSession, check_in: CheckIn) -> bool:
    messages = select(cast(OutboxMessage.id, String)).where(
        OutboxMessage.check_in_id == check_in.id
    )
    found = await session.scalar(
        select(Escalation.id)
        .where(
            Escalation.reason == "undeliverable",
            Escalation.source_type == "sms_outbox",
            Escalation.source_id.in_(messages),
        )
        .limit(1)
    )
    return found is not None
