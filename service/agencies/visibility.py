"""What an agency worker may see of a patient, decided in one SQL query.

The rule: an agency worker sees a patient only while
  * a referral of that patient to the worker's agency is `pending` or `accepted`, AND
  * a consent to share with that agency is in force at `now`
    (given_at <= now, not withdrawn, expires_at NULL or > now), AND
  * the agency is active,
and then only the fields of the widest scope in force. Nothing is cached: withdrawal,
expiry, a closed referral or a deactivated agency take effect on the very next request.

Anything outside the rule answers the same audited 404 as an absent patient
(`service.patients.access.denial`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, Consent, Patient, Referral
from db.models.consents import CONSENT_SCOPES
from db.models.referrals import OPEN_REFERRAL_STATUSES
from service import audit
from service.patients.access import denial
from service.principal import Principal

Scope = Literal["contact_details", "plan", "full"]

# Ranks follow CONSENT_SCOPES (narrowest first), so max(rank) is the widest scope in force.
_RANK = {scope: rank for rank, scope in enumerate(CONSENT_SCOPES, start=1)}
_SCOPE_OF_RANK: dict[int, Scope] = {
    1: "contact_details",
    2: "plan",
    3: "full",
}

# Which patient fields each scope shows. Keys a caller's dict lacks are simply left out.
CONTACT_DETAILS_FIELDS: tuple[str, ...] = (
    "id",
    "given_name",
    "family_name",
    "mobile",
    "key_worker_id",
    "key_worker_name",
)
# hook: `goals` come from the goals table (patients/plans branch): pass only the patient's
# goals, project_patient keeps those owned by the caller's agency. `crisis_contacts` are
# the relapse-prevention plan's `crisis_contacts`.
PLAN_FIELDS: tuple[str, ...] = (*CONTACT_DETAILS_FIELDS, "goals", "crisis_contacts")
# hook: `relapse_prevention_plan` (current version) and `check_ins` (history) come from the
# plans and check-ins branches.
FULL_FIELDS: tuple[str, ...] = (*PLAN_FIELDS, "relapse_prevention_plan", "check_ins")
SCOPE_FIELDS: dict[Scope, tuple[str, ...]] = {
    "contact_details": CONTACT_DETAILS_FIELDS,
    "plan": PLAN_FIELDS,
    "full": FULL_FIELDS,
}


def _rank_expr() -> Any:
    return case(
        *((Consent.scope == scope, rank) for scope, rank in _RANK.items()),
        else_=0,
    )


def visible_patients(
    agency_id: uuid.UUID, now: datetime, patient_id: uuid.UUID | None = None
) -> Select[Any]:
    """(patient_id, rank) for each patient the agency may see at `now`: one grouped query over
    consents joined to open referrals and the (active) agency. Use it as a subquery."""
    query = (
        select(Consent.patient_id.label("patient_id"), func.max(_rank_expr()).label("rank"))
        .join(
            Referral,
            and_(
                Referral.patient_id == Consent.patient_id,
                Referral.agency_id == Consent.agency_id,
                Referral.status.in_(OPEN_REFERRAL_STATUSES),
            ),
        )
        .join(Agency, and_(Agency.id == Consent.agency_id, Agency.active.is_(True)))
        .where(
            Consent.agency_id == agency_id,
            Consent.given_at <= now,
            Consent.withdrawn_at.is_(None),
            or_(Consent.expires_at.is_(None), Consent.expires_at > now),
        )
        .group_by(Consent.patient_id)
    )
    if patient_id is not None:
        query = query.where(Consent.patient_id == patient_id)
    return query


def scope_of_rank(rank: int | None) -> Scope | None:
    return _SCOPE_OF_RANK.get(rank or 0)


async def agency_scope(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> Scope | None:
    """The widest consent scope in force for the caller's agency and this patient, or None
    when the caller is not an agency worker or may not see the patient at all."""
    if not caller.is_agency_worker or caller.agency_id is None:
        return None
    visible = visible_patients(caller.agency_id, now, patient_id).subquery()
    rank = await session.scalar(select(visible.c.rank))
    return scope_of_rank(rank)


async def patient_for_agency(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
) -> tuple[Patient, Scope]:
    """The patient and the caller's scope, with an allowed audit event; otherwise the audited
    404 of `service.patients.access.denial` (same answer as an absent patient)."""
    found: tuple[Patient, Scope] | None = None
    if caller.is_agency_worker and caller.agency_id is not None:
        visible = visible_patients(caller.agency_id, now, patient_id).subquery()
        row = (
            await session.execute(
                select(Patient, visible.c.rank)
                .join(visible, visible.c.patient_id == Patient.id)
                .where(Patient.id == patient_id)
            )
        ).first()
        scope = scope_of_rank(row[1]) if row is not None else None
        if row is not None and scope is not None:
            found = (row[0], scope)
    if found is None:
        raise await denial(session, caller, action, patient_id, now)
    patient, scope = found
    audit.record(
        session,
        caller,
        action,
        at=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        object_type="patient",
        object_id=patient.id,
        detail={"scope": scope},
    )
    return patient, scope


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
