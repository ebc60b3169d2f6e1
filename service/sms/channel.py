"""What happens to a patient's SMS channel: opt-out, opt-in, numbers that cannot receive SMS.

Each change is guarded so that it happens once: the patient row is locked and the
transition checked, and escalations are keyed by their source.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import OutboxMessage, Patient, SmsNumberFlag
from service import audit
from service.checkins import lifecycle
from service.escalations.service import raise_escalation
from service.principal import SystemActor
from service.sms.gateway import OPTED_OUT, UNDELIVERABLE_NUMBER_CODES

SMS_ACTOR = SystemActor("sms")


async def opt_out(
    session: AsyncSession,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    source_type: str,
    source_id: uuid.UUID | str,
) -> bool:
    """Close the channel: no more prompts, future check-ins cancelled, staff told (once).

    Returns True when this call opted the patient out (False if they already were).
    """
    patient = await session.get(Patient, patient_id, with_for_update=True)
    if patient is None or patient.sms_opted_out:
        return False
    patient.sms_opted_out = True
    patient.updated_at = now
    await lifecycle.cancel_check_ins(session, patient_id, now, reason="opted_out")
    audit.record(
        session,
        SMS_ACTOR,
        "patient.sms_opt_out",
        at=now,
        patient_id=patient_id,
        ward_id=patient.ward_id,
        object_type="patient",
        object_id=patient_id,
        detail={"source_type": source_type},
    )
    await raise_escalation(
        session,
        patient_id=patient_id,
        ward_id=patient.ward_id,
        reason="opted_out",
        severity="routine",
        source_type=source_type,
        source_id=source_id,
        now=now,
        note="The patient opted out of SMS; check-in texts have stopped.",
        actor=SMS_ACTOR,
    )
    return True


async def opt_in(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> bool:
    """Reopen the channel (START/UNSTOP/YES); check-ins still ahead come back."""
    patient = await session.get(Patient, patient_id, with_for_update=True)
    if patient is None or not patient.sms_opted_out:
        return False
    patient.sms_opted_out = False
    patient.updated_at = now
    await lifecycle.restore_after_opt_in(session, patient_id, now)
    audit.record(
        session,
        SMS_ACTOR,
        "patient.sms_opt_in",
        at=now,
        patient_id=patient_id,
        ward_id=patient.ward_id,
        object_type="patient",
        object_id=patient_id,
    )
    return True


async def number_flagged(session: AsyncSession, patient_id: uuid.UUID, mobile: str) -> bool:
    found = await session.scalar(
        select(SmsNumberFlag.id).where(
            SmsNumberFlag.patient_id == patient_id, SmsNumberFlag.mobile == mobile
        )
    )
    return found is not None


async def flag_number(
    session: AsyncSession,
    patient_id: uuid.UUID,
    mobile: str,
    error_code: int | None,
    now: datetime,
) -> bool:
    """Mark this patient's number as unable to receive SMS. True when newly flagged.

    The flag belongs to the number: once staff record a different mobile, prompts resume.
    """
    inserted = await session.scalar(
        insert(SmsNumberFlag)
        .values(
            id=new_id(), patient_id=patient_id, mobile=mobile, error_code=error_code, flagged_at=now
        )
        .on_conflict_do_nothing(constraint="uq_sms_number_flags_number")
        .returning(SmsNumberFlag.id)
    )
    return inserted is not None


async def delivery_failed(
    session: AsyncSession, message: OutboxMessage, error_code: int | None, now: datetime
) -> None:
    """A patient's message was refused or not delivered: close, flag, or tell staff. A staff
    alert or carer notice that failed is noted on its escalation."""
    if message.recipient_kind in ("staff", "carer"):
        await _notice_failed(session, message, now, f"error {error_code or 'unknown'}")
        return
    if message.recipient_kind != "patient" or message.patient_id is None:
        return
    patient_id = message.patient_id
    if error_code == OPTED_OUT:
        await opt_out(session, patient_id, now, source_type="sms_outbox", source_id=message.id)
        return
    patient = await session.get(Patient, patient_id)
    if patient is None:
        return
    if message.check_in_id is not None:
        await lifecycle.skip_check_in(session, message.check_in_id, now, reason="undeliverable")
    raise_it = True
    if error_code in UNDELIVERABLE_NUMBER_CODES:
        # One escalation per bad number, not one per message sent to it.
        raise_it = await flag_number(session, patient_id, message.to_number, error_code, now)
        audit.record(
            session,
            SMS_ACTOR,
            "patient.sms_number_flagged",
            at=now,
            patient_id=patient_id,
            ward_id=patient.ward_id,
            object_type="patient",
            object_id=patient_id,
            detail={"error_code": error_code},
        )
    if raise_it:
        await raise_escalation(
            session,
            patient_id=patient_id,
            ward_id=patient.ward_id,
            reason="undeliverable",
            severity="routine",
            source_type="sms_outbox",
            source_id=message.id,
            now=now,
            note=_undeliverable_note(error_code),
            actor=SMS_ACTOR,
        )


async def delivery_unconfirmed(
    session: AsyncSession, message: OutboxMessage, now: datetime
) -> None:
    """An ambiguous send nobody could confirm: staff decide; we never resend blindly."""
    if message.recipient_kind in ("staff", "carer"):
        await _notice_failed(session, message, now, "delivery could not be confirmed")
        return
    if message.recipient_kind != "patient" or message.patient_id is None:
        return
    ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == message.patient_id))
    if ward_id is None:
        return
    await raise_escalation(
        session,
        patient_id=message.patient_id,
        ward_id=ward_id,
        reason="undeliverable",
        severity="routine",
        source_type="sms_outbox",
        source_id=message.id,
        now=now,
        note="Delivery of a text could not be confirmed; it was not sent again.",
        actor=SMS_ACTOR,
    )


def _undeliverable_note(error_code: int | None) -> str:
    if error_code in UNDELIVERABLE_NUMBER_CODES:
        return (
            f"The carrier refused the patient's number (Twilio error {error_code}); "
            "check the mobile number on record."
        )
    if error_code:
        return f"A text to the patient could not be delivered (Twilio error {error_code})."
    return "A text to the patient could not be delivered."


async def _notice_failed(
    session: AsyncSession, message: OutboxMessage, now: datetime, why: str
) -> None:
    # Imported here: the notices build on the outbox, which builds on this module.
    from service.escalations.notices import notice_not_delivered

    await notice_not_delivered(session, message, now, why)
