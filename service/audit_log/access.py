"""Which audit events a caller may read, decided in the query (see `service` for the
vocabulary)."""

from __future__ import annotations

from sqlalchemy import Select, select

from db.models import AuditEvent
from service.errors import Forbidden
from service.principal import Principal


def readable_audit_events(caller: Principal) -> Select[AuditEvent]:
    """Audit events the caller may read: admins every event, ward managers their ward's.
    Anyone else is refused outright (403) rather than shown an empty log."""
    if caller.is_admin:
        return select(AuditEvent)
    if caller.is_ward_manager and caller.ward_id is not None:
        return select(AuditEvent).where(AuditEvent.ward_id == caller.ward_id)
    raise Forbidden("Only admins and ward managers read the audit log.")
