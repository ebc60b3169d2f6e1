"""The audit trail: every read or change of patient data, and every denied attempt.

Allowed events are added to the caller's session, so they commit (or vanish) with the change
they describe. Denials ride on the raised error and are written after the rollback.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent
from service.principal import Principal, SystemActor

Actor = Principal | SystemActor | None
Outcome = Literal["allowed", "denied"]


def event(
    actor: Actor,
    action: str,
    *,
    at: datetime,
    outcome: Outcome = "allowed",
    patient_id: uuid.UUID | None = None,
    ward_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    role: str | None
    if isinstance(actor, Principal):
        actor_id, role, request_id = actor.user_id, actor.role, actor.request_id
    elif isinstance(actor, SystemActor):
        actor_id, role, request_id = None, f"system:{actor.name}"[:20], actor.request_id
    else:
        actor_id, role, request_id = None, None, None
    return AuditEvent(
        occurred_at=at,
        actor_id=actor_id,
        actor_role=role,
        action=action,
        outcome=outcome,
        patient_id=patient_id,
        ward_id=ward_id,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        request_id=request_id,
        detail=detail,
    )


def record(session: AsyncSession, actor: Actor, action: str, **fields: Any) -> AuditEvent:
    """Add an allowed event to the current transaction."""
    row = event(actor, action, **fields)
    session.add(row)
    return row
