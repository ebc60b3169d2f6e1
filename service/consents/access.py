"""Which consents a caller may read, decided in the query (see `service` for the vocabulary)."""

from __future__ import annotations

from sqlalchemy import Select, select

from db.models import Consent, Patient
from service.patient_access.staff import readable_patients
from service.principal import Principal


def readable_consents(caller: Principal) -> Select[Consent]:
    """Consents the caller may read: those of patients the caller may read as ward staff
    (nobody's for anyone else, as `readable_patients` finds nobody for them)."""
    of_ward = readable_patients(caller).with_only_columns(Patient.id)
    return select(Consent).where(Consent.patient_id.in_(of_ward))
