"""Which wards a caller may read, decided in the query (see `service` for the vocabulary)."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from db.models import Ward
from service.principal import Principal


def readable_wards(caller: Principal) -> Select[Ward]:
    """Wards the caller may read: admins every ward, anyone else their own (if any)."""
    if caller.is_admin:
        return select(Ward)
    if caller.ward_id is None:
        return select(Ward).where(false())
    return select(Ward).where(Ward.id == caller.ward_id)
