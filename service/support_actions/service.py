"""Support actions: what an agency did for a patient it may see (visit, call, housing ...).

Agency workers log them against a patient visible to their agency (open referral + consent
in force); the agency is always the caller's own. Ward staff of the ward read every agency's;
agency workers read only their own agency's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient, SupportAction
from service import audit
from service.errors import Forbidden, InvalidInput
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.agencies import patient_for_agency
from service.patient_access.staff import denial, patient_for_staff
from service.principal import Principal
from service.support_actions.access import readable_support_actions
from service.support_actions.schemas import SupportActionCreate, SupportActionOut


def to_out(action: SupportAction) -> SupportActionOut:
    return SupportActionOut(
        id=action.id,
        patient_id=action.patient_id,
        agency_id=action.agency_id,
        kind=action.kind,  # type: ignore[arg-type]
        occurred_at=action.occurred_at,
        note=action.note,
        recorded_by=action.recorded_by_id,
    )


async def log_support_action(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: SupportActionCreate,
    now: datetime,
) -> SupportAction:
    if not caller.is_agency_worker or caller.agency_id is None:
        raise Forbidden("Only agency workers log support actions.")
    patient, _scope = await patient_for_agency(
        session, caller, patient_id, action="support_action.create", now=now
    )
    occurred_at = data.occurred_at or now
    if occurred_at > now:
        raise InvalidInput.field("occurred_at", "may not be in the future")
    note = data.note.strip() if data.note else None
    row = SupportAction(
        patient_id=patient.id,
        agency_id=caller.agency_id,
        kind=data.kind,
        occurred_at=occurred_at,
        note=note or None,
        recorded_by_id=caller.user_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def list_support_actions(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[SupportAction], str | None]:
    """Newest first. Ward staff of the ward see all agencies'; an agency worker only their own
    agency's, and only while the patient is visible to that agency."""
    if caller.is_ward_member:
        await patient_for_staff(session, caller, patient_id, action="support_action.list", now=now)
    elif caller.is_agency_worker:
        await patient_for_agency(session, caller, patient_id, action="support_action.list", now=now)
    else:
        raise await denial(session, caller, "support_action.list", patient_id, now)
    query = readable_support_actions(caller, now).where(SupportAction.patient_id == patient_id)
    query = page_after(
        query,
        SupportAction.occurred_at,
        SupportAction.id,
        decode_cursor(cursor),
        limit,
        newest_first=True,
    )
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda a: (a.occurred_at, a.id))


async def list_own_support_actions(
    session: AsyncSession, caller: Principal, now: datetime, limit: int
) -> list[SupportAction]:
    """An agency worker's own support actions, newest first, only for patients their agency
    may see now (the same rule as every agency read); each patient reached is audited."""
    if not caller.is_agency_worker or caller.agency_id is None:
        raise Forbidden("Only agency workers log support actions.")
    query = (
        readable_support_actions(caller, now)
        .add_columns(Patient.ward_id)
        .join(Patient, Patient.id == SupportAction.patient_id)
        .where(SupportAction.recorded_by_id == caller.user_id)
        .order_by(SupportAction.occurred_at.desc(), SupportAction.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    seen: set[uuid.UUID] = set()
    for action, ward_id in rows:
        if action.patient_id not in seen:
            seen.add(action.patient_id)
            audit.record(
                session,
                caller,
                "support_action.list",
                at=now,
                patient_id=action.patient_id,
                ward_id=ward_id,
                object_type="support_action",
                object_id=action.id,
            )
    return [action for action, _ in rows]
