"""Which agencies a caller may read, decided in the query (see `service` for the vocabulary).

What an agency's workers may read of patients is the other half of this domain's access:
`service.patient_access.agencies.readable_patient_scopes`.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select

from db.models import Agency
from service.principal import Principal


def readable_agencies(caller: Principal) -> Select[Agency]:
    """Agencies the caller may read: admins and ward staff every agency, an agency worker
    only their own, nobody else any."""
    if caller.is_agency_worker:
        return select(Agency).where(Agency.id == caller.agency_id)
    if caller.is_admin or caller.is_ward_member:
        return select(Agency)
    return select(Agency).where(false())
