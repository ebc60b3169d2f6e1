"""An escalation's history and deadlines: the helpers raising, the ladder and paging share.

Kept apart from raise/acknowledge/resolve so every writer of history uses one shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, EscalationEvent
from service import audit
from service.principal import Actor, SystemActor, actor_identity

LADDER_ACTOR = SystemActor("ladder")  # audit roles hold 20 characters: "system:ladder"

# Used when a ward's policy lacks a value (the ward schema always fills them in).
DEFAULT_ACK_MINUTES: dict[str, list[int]] = {"urgent": [15, 30, 60], "routine": [240, 480, 1440]}
DEFAULT_RESOLVE_MINUTES: dict[str, int] = {"urgent": 240, "routine": 1440}


def ack_minutes(policy: dict[str, Any] | None, severity: str, level: int) -> int:
    """Minutes the ward allows to acknowledge an escalation of this severity at this level."""
    fallback = DEFAULT_ACK_MINUTES[severity][level - 1]
    try:
        value = (policy or {})["ack_minutes"][severity][level - 1]
    except (KeyError, IndexError, TypeError):
        return fallback
    return int(value) if isinstance(value, int) and value > 0 else fallback


def resolve_minutes(policy: dict[str, Any] | None, severity: str) -> int:
    """Minutes the ward allows from acknowledging an escalation of this severity to resolving
    it. Wards created before resolve deadlines existed have none stored: the default applies."""
    fallback = DEFAULT_RESOLVE_MINUTES[severity]
    try:
        value = (policy or {})["resolve_minutes"][severity]
    except (KeyError, TypeError):
        return fallback
    return value if isinstance(value, int) and value > 0 else fallback


def history_event(
    escalation: Escalation,
    kind: str,
    now: datetime,
    actor: Actor,
    *,
    from_status: str | None,
    note: str | None = None,
) -> EscalationEvent:
    actor_id, actor_role = actor_identity(actor)
    return EscalationEvent(
        escalation_id=escalation.id,
        occurred_at=now,
        kind=kind,
        actor_id=actor_id,
        actor_role=actor_role,
        from_status=from_status,
        to_status=escalation.status,
        level=escalation.level,
        note=note,
    )


def audit_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    escalation: Escalation,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """The audit row for something done to one escalation, filed under its patient and ward."""
    audit.record(
        session,
        actor,
        action,
        at=now,
        patient_id=escalation.patient_id,
        ward_id=escalation.ward_id,
        object_type="escalation",
        object_id=escalation.id,
        detail=detail,
    )
