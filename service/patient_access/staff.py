"""Who may see which patient, decided in the query, with every read and denial audited.

Ward staff see the patients of their own ward (`readable_patients`). Agency workers'
consent-scoped access is added by the agencies domain. Anyone else, or any patient outside
the caller's reach, gets the same 404 as an absent patient, and the attempt is written to
the audit log.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, false, select
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
    message: str = "No such patient.",
) -> NotFound:
    """A 404 (`message`, the same as for an absent object) carrying its denied audit row,
    attributed to the patient's ward."""
    ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == patient_id))
    return audit.denied(
        caller,
        action,
        NotFound(message),
        at=now,
        patient_id=patient_id if ward_id is not None else None,
        ward_id=ward_id,
        object_type=object_type,
        object_id=object_id or patient_id,
        detail=None if ward_id is not None else {"patient_ref": str(patient_id)},
    )


def readable_patients(caller: Principal) -> Select[Patient]:
    """The patients `caller` may read as ward staff: their own ward's; nobody's for anyone else.

    An agency worker's consent-scoped reach is the agencies domain's
    (`service.patient_access.agencies.readable_patient_scopes`)."""
    ward_id = caller.staff_ward
    if ward_id is None:
        return select(Patient).where(false())
    return select(Patient).where(Patient.ward_id == ward_id)


# `readable_patients` narrowed to one id, for the hot lookups: built once with bind parameters
# (cache key memoised) instead of per request; the ward condition is part of the query, not a
# later check. For a caller with no staff ward the lookups skip the query: it would find nothing.
STAFF_PATIENT_QUERY = select(Patient).where(
    Patient.id == bindparam("patient_id"), Patient.ward_id == bindparam("ward_id")
)
_STAFF_PATIENT_FOR_UPDATE = STAFF_PATIENT_QUERY.with_for_update()


# The same ward-scoped lookup on the table, for reads that only turn the row into a response:
# no identity map, no instrumented object, no unit of work.
_patients = cast(Table, Patient.__table__)
STAFF_PATIENT_ROW_QUERY = select(_patients).where(
    _patients.c.id == bindparam("patient_id"), _patients.c.ward_id == bindparam("ward_id")
)


# The same lookup with its allowed audit row written by the same statement (one round trip).
STAFF_PATIENT_READ = audit.audited_read(STAFF_PATIENT_ROW_QUERY, "patient")


async def patient_row_for_staff(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, *, action: str, now: datetime
) -> Row[Any]:
    """Like `patient_for_staff` (same scope, same audit), for a read: a plain row."""
    row: Row[Any] | None = None
    if caller.staff_ward is not None:
        result = await session.execute(
            STAFF_PATIENT_READ,
            {
                "patient_id": patient_id,
                "ward_id": caller.staff_ward,
                **audit.read_params(caller, action, at=now),
            },
        )
        row = result.one_or_none()
    if row is None:
        raise await denial(session, caller, action, patient_id, now)
    audit.audited_patient(row.id)
    return row


async def _write_allowed(
    session: AsyncSession,
    caller: Principal,
    action: str,
    now: datetime,
    patient_id: uuid.UUID,
    ward_id: uuid.UUID,
) -> None:
    await audit.record_now(
        session,
        caller,
        action,
        at=now,
        patient_id=patient_id,
        ward_id=ward_id,
        object_type="patient",
        object_id=patient_id,
    )


async def _staff_patient(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool,
    object_type: str,
    object_id: uuid.UUID | None,
) -> Patient:
    patient: Patient | None = None
    if caller.staff_ward is not None:
        query = _STAFF_PATIENT_FOR_UPDATE if for_update else STAFF_PATIENT_QUERY
        patient = await session.scalar(
            query, {"patient_id": patient_id, "ward_id": caller.staff_ward}
        )
    if patient is None:
        raise await denial(
            session, caller, action, patient_id, now, object_type=object_type, object_id=object_id
        )
    return patient


async def patient_for_staff(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool = False,
) -> Patient:
    """The patient if the caller is ward staff of the patient's ward; audited either way.

    The allowed row is inserted at once in the caller's transaction, so it commits or rolls
    back with whatever the request goes on to do.
    """
    patient = await _staff_patient(
        session,
        caller,
        patient_id,
        action=action,
        now=now,
        for_update=for_update,
        object_type="patient",
        object_id=None,
    )
    await _write_allowed(session, caller, action, now, patient.id, patient.ward_id)
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
    patient = await _staff_patient(
        session,
        caller,
        patient_id,
        action=action,
        now=now,
        for_update=for_update,
        object_type=object_type,
        object_id=object_id,
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
