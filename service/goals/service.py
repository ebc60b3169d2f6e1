"""Recovery goals in a patient's plan, with a status history of every change.

Ward staff of the patient's ward read and change every goal. An agency worker reads (never
changes) the goals its agency owns, while the patient is visible to the agency under a
consent scope that shows goals (`plan` or `full`); under `contact_details` the goals answer
an audited 404, as does any goal another agency (or nobody) owns.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, AuditEvent, Goal, GoalStatusChange, Patient
from service.errors import Conflict, InvalidInput
from service.goals.access import readable_goals
from service.goals.schemas import GoalCreate, GoalDetail, GoalOut, GoalUpdate, StatusChangeOut
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.agencies import GOAL_SCOPES, patient_for_agency_deferred, scope_refusal
from service.patient_access.staff import denial, patient_for_staff_deferred
from service.principal import Principal

FINAL_STATUSES = frozenset({"achieved", "not_achieved", "cancelled"})


def to_out(goal: Goal) -> GoalOut:
    return GoalOut(
        id=goal.id,
        patient_id=goal.patient_id,
        domain=goal.domain,  # type: ignore[arg-type]
        description=goal.description,
        target_date=goal.target_date,
        status=goal.status,  # type: ignore[arg-type]
        owner_agency_id=goal.owner_agency_id,
        created_at=goal.created_at,
        updated_at=goal.updated_at,
    )


def to_detail(goal: Goal, history: list[GoalStatusChange]) -> GoalDetail:
    base = to_out(goal)
    return GoalDetail(
        **msgspec.structs.asdict(base),
        status_history=[
            StatusChangeOut(
                at=c.changed_at,
                by=c.changed_by,
                from_=c.from_status,  # type: ignore[arg-type]
                to=c.to_status,  # type: ignore[arg-type]
            )
            for c in history
        ],
    )


async def _check_agency(session: AsyncSession, agency_id: uuid.UUID) -> None:
    agency = await session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise InvalidInput.field("owner_agency_id", "does not name an active agency")


def _description(value: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput.field("description", "must not be blank")
    return cleaned


async def history_of(session: AsyncSession, goal_id: uuid.UUID) -> list[GoalStatusChange]:
    rows = await session.scalars(
        select(GoalStatusChange)
        .where(GoalStatusChange.goal_id == goal_id)
        .order_by(GoalStatusChange.changed_at, GoalStatusChange.id)
    )
    return list(rows.all())


def _status_change(
    goal: Goal, caller: Principal, from_status: str | None, now: datetime
) -> GoalStatusChange:
    return GoalStatusChange(
        goal_id=goal.id,
        changed_at=now,
        changed_by=caller.user_id,
        from_status=from_status,
        to_status=goal.status,
    )


async def create_goal(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: GoalCreate,
    now: datetime,
) -> tuple[Goal, list[GoalStatusChange]]:
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="goal.create", now=now
    )
    if data.status in FINAL_STATUSES:
        raise InvalidInput.field("status", "a new goal must be proposed, active or on_hold")
    if data.owner_agency_id is not None:
        await _check_agency(session, data.owner_agency_id)
    goal = Goal(
        id=uuid.uuid4(),
        patient_id=patient.id,
        domain=data.domain,
        description=_description(data.description),
        target_date=data.target_date,
        status=data.status,
        owner_agency_id=data.owner_agency_id,
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(goal)
    await session.flush()
    change = _status_change(goal, caller, None, now)
    session.add(change)
    await session.flush()
    event.object_type, event.object_id = "goal", str(goal.id)
    session.add(event)
    return goal, [change]


async def _patient_for_goals(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    object_type: str = "patient",
    object_id: uuid.UUID | None = None,
    agency_may_read: bool = False,
) -> tuple[Patient, AuditEvent]:
    """The patient and its unsaved allowed audit row. Agency workers only with
    `agency_may_read` and a scope in GOAL_SCOPES; anything else is the audited 404 (the goals
    themselves are then read from `readable_goals`)."""
    if caller.is_agency_worker and agency_may_read:
        patient, scope, event = await patient_for_agency_deferred(
            session,
            caller,
            patient_id,
            action=action,
            now=now,
            object_type=object_type,
            object_id=object_id,
        )
        if scope not in GOAL_SCOPES:
            raise scope_refusal(
                caller,
                patient,
                scope,
                action,
                now,
                object_type=object_type,
                object_id=object_id,
                detail="Goals are not shared with your agency under the consent in force.",
            )
        return patient, event
    patient, event = await patient_for_staff_deferred(
        session,
        caller,
        patient_id,
        action=action,
        now=now,
        object_type=object_type,
        object_id=object_id,
    )
    return patient, event


async def _goal_of(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool = False,
    agency_may_read: bool = False,
) -> tuple[Goal, AuditEvent]:
    patient, event = await _patient_for_goals(
        session,
        caller,
        patient_id,
        action=action,
        now=now,
        object_type="goal",
        object_id=goal_id,
        agency_may_read=agency_may_read,
    )
    query = readable_goals(caller, now).where(Goal.id == goal_id, Goal.patient_id == patient.id)
    if for_update:
        query = query.with_for_update()
    goal = await session.scalar(query)
    if goal is None:
        raise await denial(
            session,
            caller,
            action,
            patient_id,
            now,
            object_type="goal",
            object_id=goal_id,
            message="No such goal.",
        )
    return goal, event


async def get_goal(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    goal_id: uuid.UUID,
    now: datetime,
) -> tuple[Goal, list[GoalStatusChange]]:
    """Ward staff: any goal of the patient; agency workers: their agency's (plan/full scope)."""
    goal, event = await _goal_of(
        session, caller, patient_id, goal_id, action="goal.read", now=now, agency_may_read=True
    )
    session.add(event)
    return goal, await history_of(session, goal.id)


async def update_goal(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    goal_id: uuid.UUID,
    data: GoalUpdate,
    now: datetime,
) -> tuple[Goal, list[GoalStatusChange]]:
    goal, event = await _goal_of(
        session, caller, patient_id, goal_id, action="goal.update", now=now, for_update=True
    )
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    changed: set[str] = set()
    if "description" in changes:
        changes["description"] = _description(changes["description"])
    if changes.get("owner_agency_id") is not None and changes["owner_agency_id"] != (
        goal.owner_agency_id
    ):
        await _check_agency(session, changes["owner_agency_id"])
    for field in ("domain", "description", "target_date", "owner_agency_id"):
        if field in changes and getattr(goal, field) != changes[field]:
            setattr(goal, field, changes[field])
            changed.add(field)
    if "status" in changes and changes["status"] != goal.status:
        if goal.status in FINAL_STATUSES:
            raise Conflict("The goal is closed; its status can no longer change.")
        previous = goal.status
        goal.status = changes["status"]
        session.add(_status_change(goal, caller, previous, now))
        changed.add("status")
        # hook: closing a goal may complete or withdraw its open referrals (agencies domain).
    if changed:
        goal.updated_at = now
        await session.flush()
    event.detail = {"fields": sorted(changed)}
    session.add(event)
    return goal, await history_of(session, goal.id)


async def list_goals(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
    *,
    status: str | None = None,
    domain: str | None = None,
) -> tuple[list[Goal], str | None]:
    """Oldest first. Ward staff: every goal; agency workers: their agency's (plan/full scope)."""
    _, event = await _patient_for_goals(
        session, caller, patient_id, action="goal.list", now=now, agency_may_read=True
    )
    query = readable_goals(caller, now).where(Goal.patient_id == patient_id)
    if status is not None:
        query = query.where(Goal.status == status)
    if domain is not None:
        query = query.where(Goal.domain == domain)
    query = page_after(query, Goal.created_at, Goal.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    page, next_cursor = split_page(rows, limit, lambda g: (g.created_at, g.id))
    event.detail = {**(event.detail or {}), "goal_ids": [str(g.id) for g in page]}
    session.add(event)
    return page, next_cursor
