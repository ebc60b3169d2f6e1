"""What an agency worker may see of a patient, decided in one SQL query.

The rule: an agency worker sees a patient only while
  * a referral of that patient to the worker's agency is `pending` or `accepted`, AND
  * a consent to share with that agency is in force at `now`
    (given_at <= now, not withdrawn, expires_at NULL or > now), AND
  * the agency is active,
and then only the fields of the widest scope in force. Nothing is cached: withdrawal,
expiry, a closed referral or a deactivated agency take effect on the very next request.

`readable_patient_scopes` is the rule in SQL; every agency read of patients (and of what
hangs off them: goals, support actions) starts from it. Anything outside the rule answers the
same audited 404 as an absent patient (`service.patient_access.staff.denial`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Agency,
    AuditEvent,
    Consent,
    Patient,
    Referral,
)
from db.models.consents import CONSENT_SCOPES
from db.models.referrals import OPEN_REFERRAL_STATUSES
from service import audit
from service.errors import NotFound
from service.patient_access.staff import denial
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
# `goals`: only those owned by the caller's agency (loaded so, and cut again by
# project_patient). `crisis_contacts`: those of the current relapse-prevention plan.
PLAN_FIELDS: tuple[str, ...] = (*CONTACT_DETAILS_FIELDS, "goals", "crisis_contacts")
# `relapse_prevention_plan`: the current version. hook: `check_ins` (history) comes with the
# check-ins branch: add it to `patient_sources` and to AgencyPatientOut; nothing else changes.
FULL_FIELDS: tuple[str, ...] = (*PLAN_FIELDS, "relapse_prevention_plan", "check_ins")
SCOPE_FIELDS: dict[Scope, tuple[str, ...]] = {
    "contact_details": CONTACT_DETAILS_FIELDS,
    "plan": PLAN_FIELDS,
    "full": FULL_FIELDS,
}
# Scopes under which an agency may read the goals it owns (GET .../goals, .../goals/{id}).
GOAL_SCOPES: frozenset[Scope] = frozenset(s for s, f in SCOPE_FIELDS.items() if "goals" in f)
GOAL_RANKS: tuple[int, ...] = tuple(sorted(_RANK[scope] for scope in GOAL_SCOPES))


def _rank_expr() -> Any:
    return case(
        *((Consent.scope == scope, rank) for scope, rank in _RANK.items()),
        else_=0,
    )


def readable_patient_scopes(
    caller: Principal, now: datetime, patient_id: uuid.UUID | None = None
) -> Select[uuid.UUID, int]:
    """(patient_id, rank) for each patient the caller's agency may see at `now`: one grouped
    query over consents joined to open referrals and the (active) agency; nothing for callers
    who are not agency workers. Use it as a subquery; `scope_of_rank` names the rank."""
    agency_id = caller.agency_id if caller.is_agency_worker else None
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
    if agency_id is None:
        query = query.where(false())
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
    visible = readable_patient_scopes(caller, now, patient_id).subquery()
    rank = await session.scalar(select(visible.c.rank))
    return scope_of_rank(rank)


async def _visible_patient(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> tuple[Patient, Scope] | None:
    if not caller.is_agency_worker or caller.agency_id is None:
        return None
    visible = readable_patient_scopes(caller, now, patient_id).subquery()
    row = (
        await session.execute(
            select(Patient, visible.c.rank)
            .join(visible, visible.c.patient_id == Patient.id)
            .where(Patient.id == patient_id)
        )
    ).first()
    scope = scope_of_rank(row[1]) if row is not None else None
    if row is None or scope is None:
        return None
    return row[0], scope


async def patient_for_agency_deferred(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    object_type: str = "patient",
    object_id: uuid.UUID | None = None,
) -> tuple[Patient, Scope, AuditEvent]:
    """Like `patient_for_agency`, but the allowed audit row (detail `{"scope": ...}`) is handed
    back unsaved: the caller completes it and must `session.add(event)` when done. Audit rows
    are append-only, so they cannot be amended once flushed. A denial is audited here."""
    found = await _visible_patient(session, caller, patient_id, now)
    if found is None:
        raise await denial(
            session, caller, action, patient_id, now, object_type=object_type, object_id=object_id
        )
    patient, scope = found
    event = audit.event(
        caller, action, at=now, **_audit_fields(patient, scope, object_type, object_id)
    )
    return patient, scope, event


def _audit_fields(
    patient: Patient, scope: Scope, object_type: str, object_id: uuid.UUID | None
) -> dict[str, Any]:
    """What an agency's audit row says it reached (allowed or denied): the object, its patient
    and ward, and the scope in force."""
    return {
        "patient_id": patient.id,
        "ward_id": patient.ward_id,
        "object_type": object_type,
        "object_id": object_id or patient.id,
        "detail": {"scope": scope},
    }


async def patient_for_agency(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
) -> tuple[Patient, Scope]:
    """The patient and the caller's scope, with an allowed audit event; otherwise the audited
    404 of `service.patient_access.staff.denial` (same answer as an absent patient)."""
    patient, scope, event = await patient_for_agency_deferred(
        session, caller, patient_id, action=action, now=now
    )
    session.add(event)
    return patient, scope


def scope_refusal(
    caller: Principal,
    patient: Patient,
    scope: Scope,
    action: str,
    now: datetime,
    *,
    object_type: str,
    object_id: uuid.UUID | None = None,
    detail: str = "Not shared with your agency under the consent in force.",
) -> NotFound:
    """A 404 for a patient the agency sees, asking for something its scope does not cover;
    the attempt is kept as a denied audit event (written after the rollback)."""
    return audit.denied(
        caller,
        action,
        NotFound(detail),
        at=now,
        **_audit_fields(patient, scope, object_type, object_id),
    )
