"""Which support actions a caller may read, decided in the query (see `service` for the
vocabulary)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, false, select

from db.models import Patient, SupportAction
from service.patient_access.agencies import readable_patient_scopes
from service.patient_access.staff import readable_patients
from service.principal import Principal


def readable_support_actions(caller: Principal, now: datetime) -> Select[SupportAction]:
    """Support actions the caller may read at `now`: ward staff every agency's, for their
    ward's patients; agency workers their own agency's, for patients it may see now; nothing
    for anyone else."""
    if caller.staff_ward is not None:
        of_ward = readable_patients(caller).with_only_columns(Patient.id)
        return select(SupportAction).where(SupportAction.patient_id.in_(of_ward))
    if caller.is_agency_worker and caller.agency_id is not None:
        scopes = readable_patient_scopes(caller, now).subquery()
        return select(SupportAction).where(
            SupportAction.agency_id == caller.agency_id,
            SupportAction.patient_id.in_(select(scopes.c.patient_id)),
        )
    return select(SupportAction).where(false())
