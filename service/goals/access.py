"""Which goals a caller may read, decided in the query (see `service` for the vocabulary)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, false, select

from db.models import Goal, Patient
from service.patient_access.agencies import GOAL_RANKS, readable_patient_scopes
from service.patient_access.staff import readable_patients
from service.principal import Principal


def readable_goals(caller: Principal, now: datetime) -> Select[Goal]:
    """Goals the caller may read at `now`: ward staff every goal of their ward's patients;
    agency workers the goals their agency owns, of patients it may see under a consent scope
    that shows goals; nothing for anyone else."""
    if caller.staff_ward is not None:
        of_ward = readable_patients(caller).with_only_columns(Patient.id)
        return select(Goal).where(Goal.patient_id.in_(of_ward))
    if caller.is_agency_worker and caller.agency_id is not None:
        scopes = readable_patient_scopes(caller, now).subquery()
        shown = select(scopes.c.patient_id).where(scopes.c.rank.in_(GOAL_RANKS))
        return select(Goal).where(
            Goal.owner_agency_id == caller.agency_id, Goal.patient_id.in_(shown)
        )
    return select(Goal).where(false())
