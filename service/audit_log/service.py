"""Reading the audit log: admins see everything, ward managers their own ward's events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent, Patient, User
from service.audit_log.access import readable_audit_events
from service.audit_log.schemas import AuditEventOut
from service.checks import check_aware
from service.errors import InvalidInput
from service.pagination import decode_seq_cursor, page_after, split_page
from service.principal import Principal


def to_out(row: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=row.id,
        occurred_at=row.occurred_at,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        action=row.action,
        outcome=row.outcome,  # type: ignore[arg-type]
        patient_id=row.patient_id,
        ward_id=row.ward_id,
        object_type=row.object_type,
        object_id=row.object_id,
        request_id=row.request_id,
        detail=row.detail,
    )


async def list_events(
    session: AsyncSession,
    caller: Principal,
    cursor: str | None,
    limit: int,
    *,
    patient_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    nhs_number: str | None = None,
    actor_email: str | None = None,
) -> tuple[list[AuditEvent], str | None]:
    """Newest first. `from` is inclusive, `to` exclusive.

    `nhs_number` and `actor_email` (the pages' way to name a patient or a user) only narrow
    the events the caller may read anyway: an unknown or unreadable one finds nothing, and
    says nothing about whether it exists."""
    start = check_aware(from_, "from") if from_ is not None else None
    end = check_aware(to, "to") if to is not None else None
    if start is not None and end is not None and start > end:
        raise InvalidInput.field("from", "must not be after to")
    query = readable_audit_events(caller)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if nhs_number is not None:
        query = query.where(
            AuditEvent.patient_id.in_(select(Patient.id).where(Patient.nhs_number == nhs_number))
        )
    if actor_email is not None:
        query = query.where(
            AuditEvent.actor_id.in_(
                select(User.id).where(User.email == actor_email.strip().lower())
            )
        )
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if start is not None:
        query = query.where(AuditEvent.occurred_at >= start)
    if end is not None:
        query = query.where(AuditEvent.occurred_at < end)
    query = page_after(
        query,
        AuditEvent.occurred_at,
        AuditEvent.id,
        decode_seq_cursor(cursor),
        limit,
        newest_first=True,
    )
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda e: (e.occurred_at, e.id))


async def actor_names(session: AsyncSession, rows: list[AuditEvent]) -> dict[uuid.UUID, str]:
    """Display names of the actors of these events (ids only in the log itself)."""
    ids = {r.actor_id for r in rows if r.actor_id is not None}
    if not ids:
        return {}
    found = await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return {r.id: r.full_name for r in found}
