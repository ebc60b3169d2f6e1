"""The audit trail: every read or change of patient data, and every denied attempt.

Allowed events are added to the caller's session, so they commit (or vanish) with the change
they describe. Denials ride on the raised error and are written after the rollback.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent
from service.principal import Principal, SystemActor

Actor = Principal | SystemActor | None
Outcome = Literal["allowed", "denied"]


def values(
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
) -> dict[str, Any]:
    """The columns of one audit row (every column but the id, so one statement fits all)."""
    role: str | None
    if isinstance(actor, Principal):
        actor_id, role, request_id = actor.user_id, actor.role, actor.request_id
    elif isinstance(actor, SystemActor):
        actor_id, role, request_id = None, f"system:{actor.name}"[:20], actor.request_id
    else:
        actor_id, role, request_id = None, None, None
    return {
        "occurred_at": at,
        "actor_id": actor_id,
        "actor_role": role,
        "action": action,
        "outcome": outcome,
        "patient_id": patient_id,
        "ward_id": ward_id,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "request_id": request_id,
        "detail": detail,
    }


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
    """An unsaved row, for callers that add it to the session or keep it past a rollback."""
    return AuditEvent(
        **values(
            actor,
            action,
            at=at,
            outcome=outcome,
            patient_id=patient_id,
            ward_id=ward_id,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )
    )


# Core, without RETURNING: nothing needs the new id, and the ORM's unit of work would cost
# more than the insert itself on hot read paths.
INSERT = insert(cast(Table, AuditEvent.__table__)).inline()


async def write(session: AsyncSession, actor: Actor, action: str, **fields: Any) -> None:
    """Insert an allowed event now, inside the session's transaction (it commits or vanishes
    with the work it describes, like `record`)."""
    await session.execute(INSERT, values(actor, action, **fields))


def record(session: AsyncSession, actor: Actor, action: str, **fields: Any) -> AuditEvent:
    """Add an allowed event to the current transaction."""
    row = event(actor, action, **fields)
    session.add(row)
    return row
