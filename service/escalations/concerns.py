"""A worried person raises an `agency_concern` escalation about a patient they may see.

Agency workers may raise one for a patient visible to their agency (consent in force and an
open referral); ward staff for a patient of their ward. Anyone else gets the audited 404.
Each concern is its own source; retries of one request are collapsed by Idempotency-Key.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import Escalation
from service.errors import InvalidInput
from service.escalations.service import raise_escalation
from service.patient_access.agencies import patient_for_agency_deferred
from service.patient_access.staff import denial, patient_for_staff_deferred
from service.principal import Principal

ACTION = "escalation.concern"


async def raise_concern(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    note: str,
    urgent: bool,
    now: datetime,
) -> Escalation:
    text = note.strip()
    if not text:
        raise InvalidInput.field("note", "must not be blank")
    concern_id = new_id()
    if caller.is_agency_worker:
        patient, _scope, event = await patient_for_agency_deferred(
            session,
            caller,
            patient_id,
            action=ACTION,
            now=now,
            object_type="concern",
            object_id=concern_id,
        )
    elif caller.is_ward_member:
        patient, event = await patient_for_staff_deferred(
            session,
            caller,
            patient_id,
            action=ACTION,
            now=now,
            object_type="concern",
            object_id=concern_id,
        )
    else:
        raise await denial(session, caller, ACTION, patient_id, now, object_type="concern")
    escalation = await raise_escalation(
        session,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason="agency_concern",
        severity="urgent" if urgent else "routine",
        source_type="concern",
        source_id=concern_id,
        now=now,
        note=text,
        actor=caller,
    )
    event.detail = {**(event.detail or {}), "escalation_id": str(escalation.id), "urgent": urgent}
    session.add(event)
    return escalation
