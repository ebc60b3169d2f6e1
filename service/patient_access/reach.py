"""Whether a caller may still reach a patient at all, by today's rules: the question a
replayed answer must pass (service.http.idempotency) before it is handed back."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient, Referral
from service.patient_access.agencies import readable_patient_scopes
from service.principal import Principal


async def reachable_ward(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> uuid.UUID | None:
    """The patient's ward when `caller` may reach the patient now, else None.

    Ward staff: a patient of their ward. Agency workers: a patient their agency may see under
    consent, or one it holds a referral for (referrals are the agency's to answer)."""
    query = select(Patient.ward_id).where(Patient.id == patient_id)
    if caller.staff_ward is not None:
        query = query.where(Patient.ward_id == caller.staff_ward)
    elif caller.is_agency_worker and caller.agency_id is not None:
        consented = readable_patient_scopes(caller, now, patient_id).subquery()
        query = query.where(
            or_(
                Patient.id.in_(select(consented.c.patient_id)),
                Patient.id.in_(
                    select(Referral.patient_id).where(Referral.agency_id == caller.agency_id)
                ),
            )
        )
    else:
        return None
    ward_id: uuid.UUID | None = await session.scalar(query)
    return ward_id
