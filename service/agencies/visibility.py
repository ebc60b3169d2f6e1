"""What an agency worker is shown of a patient it may see: the fields of the widest consent
scope in force (the rule itself, in SQL, is service.patient_access.agencies)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Goal, Patient, RelapsePreventionPlan, User
from service.agencies.schemas import AgencyPatientOut
from service.errors import NotFound
from service.goals.schemas import GoalOut
from service.patient_access.agencies import SCOPE_FIELDS, Scope, patient_for_agency_deferred
from service.plans.service import to_out as plan_out
from service.principal import Principal


def project_patient(
    patient_dict: Mapping[str, Any], scope: Scope, *, agency_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Only the fields `scope` allows, from a patient as a dict (e.g. the PatientOut of the
    patients domain, optionally enriched with key_worker_name, goals, plan, check-ins).

    * contact_details: id, given_name, family_name, mobile, key_worker_id, key_worker_name
    * plan: + goals owned by `agency_id` + the plan's crisis contacts
    * full: + relapse_prevention_plan + check_ins
    Keys missing from the input are left out, never invented. Unknown scopes show nothing.
    """
    allowed = SCOPE_FIELDS.get(scope, ())
    source = dict(patient_dict)
    if "crisis_contacts" in allowed and "crisis_contacts" not in source:
        plan = source.get("relapse_prevention_plan")
        if isinstance(plan, Mapping) and "crisis_contacts" in plan:
            source["crisis_contacts"] = plan["crisis_contacts"]
    result = {key: source[key] for key in allowed if key in source}
    if "goals" in result:
        # An agency sees only the goals it owns, even with full consent.
        result["goals"] = [
            goal
            for goal in result["goals"] or []
            if agency_id is not None and str(goal.get("owner_agency_id")) == str(agency_id)
        ]
    return result


def patient_as_dict(patient: Patient, key_worker_name: str | None = None) -> dict[str, Any]:
    """Every stored patient field (plus the key worker's name), for `project_patient` to cut."""
    return {
        "id": patient.id,
        "ward_id": patient.ward_id,
        "nhs_number": patient.nhs_number,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth,
        "mobile": patient.mobile,
        "timezone": patient.timezone,
        "language": patient.language,
        "key_worker_id": patient.key_worker_id,
        "key_worker_name": key_worker_name,
        "status": patient.status,
    }


# --- the agency's view of patients: loaded per scope, then cut by project_patient ---------


async def patient_sources(
    session: AsyncSession, agency_id: uuid.UUID, shown: Sequence[tuple[Patient, Scope]]
) -> dict[uuid.UUID, dict[str, Any]]:
    """For each (patient, scope): the patient as a dict, enriched with only what the scope
    may show: the key worker's name always; the goals owned by `agency_id` and the current
    plan (for its crisis contacts, and whole under `full`) only for scopes that show them.
    A fixed number of queries for any number of patients."""
    key_worker_ids = {p.key_worker_id for p, _ in shown if p.key_worker_id is not None}
    names: dict[uuid.UUID, str] = {}
    if key_worker_ids:
        rows = await session.execute(
            select(User.id, User.full_name).where(User.id.in_(key_worker_ids))
        )
        names = {row[0]: row[1] for row in rows.all()}
    with_goals = [p.id for p, scope in shown if "goals" in SCOPE_FIELDS[scope]]
    with_plan = [p.id for p, scope in shown if "crisis_contacts" in SCOPE_FIELDS[scope]]
    goals: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if with_goals:
        goal_rows = await session.scalars(
            select(Goal)
            .where(Goal.patient_id.in_(with_goals), Goal.owner_agency_id == agency_id)
            .order_by(Goal.created_at, Goal.id)
        )
        for goal in goal_rows.all():
            shown_goal = msgspec.convert(goal, GoalOut, from_attributes=True)
            goals.setdefault(goal.patient_id, []).append(msgspec.structs.asdict(shown_goal))
    plans: dict[uuid.UUID, RelapsePreventionPlan] = {}
    if with_plan:
        plan_rows = await session.scalars(
            select(RelapsePreventionPlan)
            .where(RelapsePreventionPlan.patient_id.in_(with_plan))
            .ext(distinct_on(RelapsePreventionPlan.patient_id))
            .order_by(
                RelapsePreventionPlan.patient_id,
                RelapsePreventionPlan.created_at.desc(),
                RelapsePreventionPlan.version.desc(),
            )
        )
        plans = {row.patient_id: row for row in plan_rows.all()}
    sources: dict[uuid.UUID, dict[str, Any]] = {}
    for patient, _scope in shown:
        source = patient_as_dict(
            patient, names.get(patient.key_worker_id) if patient.key_worker_id else None
        )
        source["goals"] = goals.get(patient.id, [])
        plan = plans.get(patient.id)
        current = None if plan is None else plan_out(plan)
        source["relapse_prevention_plan"] = (
            None if current is None else msgspec.structs.asdict(current)
        )
        source["crisis_contacts"] = [] if current is None else list(current.crisis_contacts)
        sources[patient.id] = source
    return sources


def agency_patient_out(
    source: Mapping[str, Any], scope: Scope, agency_id: uuid.UUID
) -> tuple[AgencyPatientOut, dict[str, Any]]:
    """The projected patient, and the audit detail saying what it showed (ids only)."""
    shown = project_patient(source, scope, agency_id=agency_id)
    detail: dict[str, Any] = {"scope": scope}
    if "goals" in shown:
        detail["goal_ids"] = [str(goal["id"]) for goal in shown["goals"]]
    if "crisis_contacts" in shown:
        plan = source.get("relapse_prevention_plan")
        detail["plan_version"] = plan["version"] if isinstance(plan, Mapping) else None
    return msgspec.convert({**shown, "scope": scope}, AgencyPatientOut), detail


async def read_patient_for_agency(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> AgencyPatientOut:
    """GET /api/v1/patients/{id} for an agency worker: the widest scope in force decides the
    fields; audited as `patient.read` with what was shown. Otherwise the audited 404."""
    patient, scope, event = await patient_for_agency_deferred(
        session, caller, patient_id, action="patient.read", now=now
    )
    agency_id = caller.agency_id
    if agency_id is None:  # pragma: no cover - patient_for_agency_deferred refuses them
        raise NotFound("No such patient.")
    sources = await patient_sources(session, agency_id, [(patient, scope)])
    out, detail = agency_patient_out(sources[patient.id], scope, agency_id)
    event.detail = detail
    session.add(event)
    return out
