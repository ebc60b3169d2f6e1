"""Who may see which patient, decided in the query, with every read and denial audited.

Ward staff see the patients of their own ward. Agency workers' consent-scoped access is
added by the agencies domain. Anyone else, or any patient outside the caller's reach,
gets the same 404 as an absent patient, and the attempt is written to the audit log.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent, Patient
from service import audit
from service.errors import NotFound
from service.principal import Principal


async def denial(
    session: AsyncSession,
    caller: Principal,
    action: str,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    object_type: str = "patient",
    object_id: uuid.UUID | None = None,
) -> NotFound:
    """A 404 carrying its audit row (written after the rollback), attributed to the patient's ward."""
    ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == patient_id))
    error = NotFound("No such patient.")
    error.keeping(
        audit.event(
            caller,
            action,
            at=now,
            outcome="denied",
            patient_id=patient_id if ward_id is not None else None,
            ward_id=ward_id,
            object_type=object_type,
            object_id=object_id or patient_id,
            detail=None if ward_id is not None else {"patient_ref": str(patient_id)},
        )
    )
    return error


async def patient_for_staff(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool = False,
) -> Patient:
    """The patient if the caller is ward staff of the patient's ward; audited either way."""
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action=action, now=now, for_update=for_update
    )
    session.add(event)
    return patient


async def patient_for_staff_deferred(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool = False,
    object_type: str = "patient",
    object_id: uuid.UUID | None = None,
) -> tuple[Patient, AuditEvent]:
    """Like `patient_for_staff`, but the allowed audit row is handed back unsaved.

    Audit rows are append-only (the database refuses UPDATE), so a row cannot be amended
    once flushed. The caller completes it with what it learns (the object's new id, the
    names of changed fields) and must `session.add(event)` when its work is done; the row
    then commits with the change. A denial is audited here, as with `patient_for_staff`.
    """
    patient: Patient | None = None
    if caller.is_ward_member and caller.ward_id is not None:
        query = select(Patient).where(Patient.id == patient_id, Patient.ward_id == caller.ward_id)
        if for_update:
            query = query.with_for_update()
        patient = await session.scalar(query)
    if patient is None:
        raise await denial(
            session, caller, action, patient_id, now, object_type=object_type, object_id=object_id
        )
    event = audit.event(
        caller,
        action,
        at=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        object_type=object_type,
        object_id=object_id or patient.id,
    )
    return patient, event
