"""Which wards a caller may read, and manage, decided in the query (see `service` for the
vocabulary)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Ward
from service import audit
from service.errors import Forbidden, NotFound
from service.principal import Principal


def readable_wards(caller: Principal) -> Select[Ward]:
    """Wards the caller may read: admins every ward, anyone else their own (if any)."""
    if caller.is_admin:
        return select(Ward)
    if caller.ward_id is None:
        return select(Ward).where(false())
    return select(Ward).where(Ward.id == caller.ward_id)


async def managed_ward(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    action: str,
    now: datetime,
    *,
    lock: bool = False,
) -> Ward:
    """The ward, when the caller may change its settings or rota: admins any ward, a ward's
    managers their own. Another ward is 404 (as for reading it); a staff role of this ward
    that may only read is 403. Both refusals are audited."""
    query = readable_wards(caller).where(Ward.id == ward_id)
    ward = await session.scalar(query.with_for_update() if lock else query)
    if ward is None:
        raise audit.denied(
            caller, action, NotFound("No such ward."), at=now, object_type="ward", object_id=ward_id
        )
    if not (caller.is_admin or caller.is_ward_manager):
        raise audit.denied(
            caller,
            action,
            Forbidden("Only the ward's managers and admins may change this."),
            at=now,
            ward_id=ward.id,
            object_type="ward",
            object_id=ward.id,
        )
    return ward
