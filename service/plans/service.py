"""Relapse-prevention plans, versioned: every PUT adds a version, none is ever changed.

`current_plan` is the read other domains use (the SMS check-ins take `check_in_question`
from it); it does not audit, so its caller records its own use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RelapsePreventionPlan
from service.checks import check_aware, flush_or
from service.errors import Conflict, InvalidInput, NotFound
from service.pagination import decode_seq_cursor, page_after, split_page
from service.patient_access.staff import patient_for_staff_deferred
from service.phones import normalise_phone
from service.plans.schemas import CrisisContact, PlanIn, PlanOut
from service.principal import Principal


@dataclass(frozen=True)
class Plan:
    """The plan in force, as other domains see it."""

    patient_id: uuid.UUID
    version: int
    created_at: datetime
    early_warning_signs: tuple[str, ...]
    triggers: tuple[str, ...]
    coping_strategies: tuple[str, ...]
    crisis_contacts: tuple[CrisisContact, ...]
    check_in_question: str | None


def _contacts(row: RelapsePreventionPlan) -> list[CrisisContact]:
    return [msgspec.convert(c, CrisisContact) for c in row.crisis_contacts]


def to_out(row: RelapsePreventionPlan) -> PlanOut:
    return PlanOut(
        patient_id=row.patient_id,
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        early_warning_signs=list(row.early_warning_signs),
        triggers=list(row.triggers),
        coping_strategies=list(row.coping_strategies),
        crisis_contacts=_contacts(row),
        check_in_question=row.check_in_question,
    )


def to_plan(row: RelapsePreventionPlan) -> Plan:
    return Plan(
        patient_id=row.patient_id,
        version=row.version,
        created_at=row.created_at,
        early_warning_signs=tuple(row.early_warning_signs),
        triggers=tuple(row.triggers),
        coping_strategies=tuple(row.coping_strategies),
        crisis_contacts=tuple(_contacts(row)),
        check_in_question=row.check_in_question,
    )


async def _latest(
    session: AsyncSession, patient_id: uuid.UUID, as_of: datetime | None = None
) -> RelapsePreventionPlan | None:
    query = select(RelapsePreventionPlan).where(RelapsePreventionPlan.patient_id == patient_id)
    if as_of is not None:
        query = query.where(RelapsePreventionPlan.created_at <= as_of)
    query = query.order_by(
        RelapsePreventionPlan.created_at.desc(), RelapsePreventionPlan.version.desc()
    ).limit(1)
    row: RelapsePreventionPlan | None = await session.scalar(query)
    return row


async def current_plan(session: AsyncSession, patient_id: uuid.UUID) -> Plan | None:
    """The newest version of the patient's plan, or None. Not audited: callers audit."""
    row = await _latest(session, patient_id)
    return None if row is None else to_plan(row)


def _items(values: list[str], field: str) -> list[str]:
    cleaned = [" ".join(v.split()) for v in values]
    for index, value in enumerate(cleaned):
        if not value:
            raise InvalidInput.field(f"{field}[{index}]", "must not be blank")
    return cleaned


def _contact_json(contacts: list[CrisisContact]) -> list[dict[str, str]]:
    result: list[dict[str, str]] = []
    for index, contact in enumerate(contacts):
        field = f"crisis_contacts[{index}]"
        name = " ".join(contact.name.split())
        relationship = " ".join(contact.relationship.split())
        if not name:
            raise InvalidInput.field(f"{field}.name", "must not be blank")
        if not relationship:
            raise InvalidInput.field(f"{field}.relationship", "must not be blank")
        phone = normalise_phone(contact.phone, f"{field}.phone")
        result.append({"name": name, "relationship": relationship, "phone": phone})
    return result


async def put_plan(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: PlanIn,
    now: datetime,
) -> RelapsePreventionPlan:
    """Store the plan as the next version (the patient row lock orders concurrent PUTs)."""
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="plan.update", now=now, for_update=True
    )
    question = " ".join(data.check_in_question.split()) if data.check_in_question else None
    if data.check_in_question is not None and not question:
        raise InvalidInput.field("check_in_question", "must not be blank")
    previous = await session.scalar(
        select(RelapsePreventionPlan)
        .where(RelapsePreventionPlan.patient_id == patient.id)
        .order_by(RelapsePreventionPlan.version.desc())
        .limit(1)
    )
    # Versions never go back in time, even if a server's clock does.
    created_at = max(now, previous.created_at) if previous is not None else now
    row = RelapsePreventionPlan(
        patient_id=patient.id,
        version=previous.version + 1 if previous is not None else 1,
        early_warning_signs=_items(data.early_warning_signs, "early_warning_signs"),
        triggers=_items(data.triggers, "triggers"),
        coping_strategies=_items(data.coping_strategies, "coping_strategies"),
        crisis_contacts=_contact_json(data.crisis_contacts),
        check_in_question=question,
        created_at=created_at,
        created_by=caller.user_id,
    )
    session.add(row)
    await flush_or(
        session, lambda: Conflict("The plan changed at the same moment; read it and try again.")
    )
    event.object_type, event.object_id = "relapse_prevention_plan", str(row.id)
    event.detail = {"version": row.version}
    session.add(event)
    return row


async def get_plan(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    as_of: datetime | None = None,
) -> RelapsePreventionPlan:
    """The current version, or the one in force at `as_of`; 404 when there is none."""
    if as_of is not None:
        check_aware(as_of, "as_of")
    _, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="plan.read", now=now
    )
    row = await _latest(session, patient_id, as_of.astimezone(UTC) if as_of else None)
    if row is None:
        # The read happened and told the caller something: keep its audit row.
        raise NotFound("No relapse-prevention plan for this patient yet.").keeping(event)
    event.object_type, event.object_id = "relapse_prevention_plan", str(row.id)
    event.detail = {"version": row.version}
    session.add(event)
    return row


async def list_versions(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[RelapsePreventionPlan], str | None]:
    """Every version, newest first."""
    _, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="plan.versions", now=now
    )
    query = select(RelapsePreventionPlan).where(RelapsePreventionPlan.patient_id == patient_id)
    query = page_after(
        query,
        RelapsePreventionPlan.created_at,
        RelapsePreventionPlan.version,
        decode_seq_cursor(cursor),
        limit,
        newest_first=True,
    )
    rows = list((await session.scalars(query)).all())
    page, next_cursor = split_page(rows, limit, lambda r: (r.created_at, r.version))
    event.detail = {"versions": [r.version for r in page]}
    session.add(event)
    return page, next_cursor
