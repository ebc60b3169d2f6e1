"""Which escalations a caller may read, decided in the query (see `service` for the vocabulary)."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from db.models import Escalation
from service.principal import Principal


def readable_escalations(caller: Principal) -> Select[Escalation]:
    """Escalations the caller may read: ward staff their ward's; nobody's for anyone else."""
    if caller.staff_ward is None:
        return select(Escalation).where(false())
    return select(Escalation).where(Escalation.ward_id == caller.staff_ward)
