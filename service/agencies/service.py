"""Partner agencies: admins manage them; ward staff read them; an agency worker reads only
their own agency (any other answers 404, as if absent)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, Patient
from service import audit
from service.agencies.access import readable_agencies
from service.agencies.schemas import (
    AgencyCreate,
    AgencyOut,
    AgencyPatientOut,
    AgencyUpdate,
)
from service.agencies.visibility import agency_patient_out, patient_sources
from service.checks import flush_or
from service.errors import Conflict, InvalidInput, NotFound
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.agencies import Scope, readable_patient_scopes, scope_of_rank
from service.phones import normalise_phone
from service.principal import Principal


def to_out(agency: Agency) -> AgencyOut:
    return AgencyOut(
        id=agency.id,
        name=agency.name,
        kind=agency.kind,  # type: ignore[arg-type]
        email=agency.email,
        phone=agency.phone,
        active=agency.active,
    )


def _email(value: str | None) -> str | None:
    return value.strip() if value else None


def _phone(value: str | None) -> str | None:
    return normalise_phone(value, "phone") if value else None


async def _flush_unique(session: AsyncSession) -> None:
    await flush_or(session, lambda: Conflict("An agency with this name already exists."))


async def create_agency(session: AsyncSession, data: AgencyCreate) -> Agency:
    agency = Agency(
        name=data.name.strip(),
        kind=data.kind,
        email=_email(data.email),
        phone=_phone(data.phone),
        active=data.active,
    )
    session.add(agency)
    await _flush_unique(session)
    return agency


async def active_agency(session: AsyncSession, agency_id: uuid.UUID, field: str) -> Agency:
    """The agency if it exists and is active; otherwise a 422 on `field` (for references in
    request bodies: consents and referrals name an agency)."""
    agency = await session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise InvalidInput.field(field, "does not name an active agency")
    return agency


async def get_agency(session: AsyncSession, caller: Principal, agency_id: uuid.UUID) -> Agency:
    agency = await session.scalar(readable_agencies(caller).where(Agency.id == agency_id))
    if agency is None:
        raise NotFound("No such agency.")
    return agency


async def update_agency(
    session: AsyncSession, agency_id: uuid.UUID, data: AgencyUpdate, now: datetime
) -> Agency:
    agency = await session.get(Agency, agency_id, with_for_update=True)
    if agency is None:
        raise NotFound("No such agency.")
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    if "name" in changes:
        agency.name = changes["name"].strip()
    if "kind" in changes:
        agency.kind = changes["kind"]
    if "email" in changes:
        agency.email = _email(changes["email"])
    if "phone" in changes:
        agency.phone = _phone(changes["phone"])
    if "active" in changes:
        # Deactivating closes the agency's view of every patient at once: the visibility
        # query requires an active agency.
        agency.active = changes["active"]
    agency.updated_at = now
    await _flush_unique(session)
    return agency


async def list_agencies(
    session: AsyncSession,
    caller: Principal,
    cursor: str | None,
    limit: int,
    *,
    active: bool | None = None,
    kind: str | None = None,
) -> tuple[list[Agency], str | None]:
    query = readable_agencies(caller)
    if active is not None:
        query = query.where(Agency.active.is_(active))
    if kind is not None:
        query = query.where(Agency.kind == kind)
    query = page_after(query, Agency.created_at, Agency.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda a: (a.created_at, a.id))


async def list_visible_patients(
    session: AsyncSession, caller: Principal, now: datetime, cursor: str | None, limit: int
) -> tuple[list[AgencyPatientOut], str | None]:
    """The patients the caller's agency may see right now, each projected to its scope
    (goals, crisis contacts and plan loaded only where the scope shows them), oldest
    registration first; every patient shown is audited as `patient.list` with what it showed."""
    if not caller.is_agency_worker or caller.agency_id is None:
        return [], None
    visible = readable_patient_scopes(caller, now).subquery()
    query = select(Patient, visible.c.rank).join(visible, visible.c.patient_id == Patient.id)
    query = page_after(query, Patient.created_at, Patient.id, decode_cursor(cursor), limit)
    rows = [(row[0], row[1]) for row in (await session.execute(query)).all()]
    page, next_cursor = split_page(rows, limit, lambda row: (row[0].created_at, row[0].id))
    shown: list[tuple[Patient, Scope]] = []
    for patient, rank in page:
        scope = scope_of_rank(rank)
        if scope is not None:  # the join only yields ranked rows
            shown.append((patient, scope))
    sources = await patient_sources(session, caller.agency_id, shown)
    items: list[AgencyPatientOut] = []
    for patient, scope in shown:
        item, detail = agency_patient_out(sources[patient.id], scope, caller.agency_id)
        items.append(item)
        audit.record(
            session,
            caller,
            "patient.list",
            at=now,
            patient_id=patient.id,
            ward_id=patient.ward_id,
            object_type="patient",
            object_id=patient.id,
            detail=detail,
        )
    return items, next_cursor
