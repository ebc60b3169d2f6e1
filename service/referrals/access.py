"""Which referrals a caller may read, decided in the query (see `service` for the vocabulary),
each with what consent lets its agency learn of it (service.patient_access.referral_sharing).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, false, select

from db.models import Agency, Patient, Referral
from service.patient_access.referral_sharing import (
    Sharing,
    consent_in_force,
    effective_status,
    sharing,
)
from service.principal import Principal

__all__ = ["Sharing", "consent_in_force", "effective_status", "readable_referrals", "sharing"]


def readable_referrals(caller: Principal, now: datetime) -> Select[Referral, uuid.UUID, str]:
    """(referral, its patient's ward, sharing) the caller may read: ward staff their ward's,
    agency workers their active agency's; nobody's for anyone else."""
    query = select(Referral, Patient.ward_id, sharing(now).label("sharing")).join(
        Patient, Patient.id == Referral.patient_id
    )
    if caller.staff_ward is not None:
        return query.where(Patient.ward_id == caller.staff_ward)
    if caller.is_agency_worker and caller.agency_id is not None:
        # An inactive agency's workers see none of its referrals.
        return query.join(Agency, Agency.id == Referral.agency_id).where(
            Referral.agency_id == caller.agency_id, Agency.active.is_(True)
        )
    return query.where(false())
