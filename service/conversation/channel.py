"""A patient's SMS channel: opting out, opting back in, numbers that cannot receive SMS.

An opt-out has the same effects whatever its source (a STOP text, the carrier's 21610):
the channel closes, check-ins still to come and surveys are cancelled, texts not yet sent
are withdrawn, and staff are told, all here and once: the patient row is locked and the
transition checked, and the escalation is keyed by its source.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import Patient, SmsNumberFlag
from service import audit
from service.checkins import lifecycle
from service.escalations.service import raise_escalation
from service.message_templates.service import Wording, wording
from service.principal import SystemActor
from service.proms import service as proms
from service.sms import outbox

SMS_ACTOR = SystemActor("sms")

# The answer to a patient's STOP and START, in two wordings (service.message_templates): the
# usual one, and one for a patient with discreet messages on that names no service and no
# clinical word.
OPT_OUT_CONFIRMATION = "opt_out_confirmation"
OPT_IN_CONFIRMATION = "opt_in_confirmation"
_TEMPLATES = {
    OPT_OUT_CONFIRMATION: "optout.confirmation",
    OPT_IN_CONFIRMATION: "optin.confirmation",
}


async def confirmation(session: AsyncSession, purpose: str, patient: Patient) -> Wording:
    """The words that confirm an opt-out or opt-in to this patient, in their language."""
    template = _TEMPLATES[purpose] + (".discreet" if patient.discreet_messages else "")
    return await wording(session, patient.ward_id, patient.language, template)


async def opt_out(
    session: AsyncSession,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    source_type: str,
    source_id: uuid.UUID | str,
) -> bool:
    """Close the channel. Returns True when this call opted the patient out (False if they
    already were)."""
    patient = await session.get(Patient, patient_id, with_for_update=True)
    if patient is None or patient.sms_opted_out:
        return False
    patient.sms_opted_out = True
    patient.updated_at = now
    await lifecycle.cancel_check_ins(session, patient_id, now, reason="opted_out")
    await proms.cancel_surveys(session, patient_id, now)
    # Texts of no check-in (survey items, ward texts) are withdrawn too.
    await outbox.cancel_queued(session, patient_id=patient_id, now=now, reason="opted_out")
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
