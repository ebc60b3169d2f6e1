"""Acknowledged is not done: an acknowledged escalation still unresolved at its resolve-by
deadline re-opens one level up (the top stays the top) and is paged again.

Due rows are claimed with FOR UPDATE SKIP LOCKED through the partial index on acknowledged
escalations' resolve-by deadlines, so the cost follows the work due. Re-opening clears the
deadline and moves the row out of that index in the same update, and the page is keyed by the
new level and acknowledge deadline, so concurrent or retried sweeps re-open and page once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, Ward
from service.escalations.history import LADDER_ACTOR, ack_minutes, audit_change, history_event
from service.escalations.notify import announce
from service.paging.recipients import TOP_LEVEL
from service.set_aside import not_set_aside

CLAIM_BATCH = 200


async def claim_overdue(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[Escalation]:
    """Acknowledged escalations past their resolve-by deadline, locked for this transaction."""
    rows = await session.scalars(
        select(Escalation)
        .where(
            Escalation.status == "acknowledged",
            Escalation.resolve_due_at <= now,
            not_set_aside(Escalation),
        )
        .order_by(Escalation.resolve_due_at, Escalation.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def reopen(session: AsyncSession, escalation: Escalation, now: datetime) -> None:
    """Re-open one overdue acknowledged escalation a level up and page that level. A row
    resolved (or given a later deadline) meanwhile is left alone."""
    due = escalation.resolve_due_at
    if escalation.status != "acknowledged" or due is None or due > now:
        return
    acknowledged_level = escalation.level
    ward = await session.get(Ward, escalation.ward_id)
    policy = ward.escalation_policy if ward is not None else None
    escalation.status = "open"
    escalation.level = min(acknowledged_level + 1, TOP_LEVEL)
    escalation.ack_due_at = now + timedelta(
        minutes=ack_minutes(policy, escalation.severity, escalation.level)
    )
    # The next acknowledgement is someone's new answer; the history keeps the earlier one.
    escalation.acknowledged_at = None
    escalation.acknowledged_by = None
    escalation.resolve_due_at = None
    escalation.updated_at = now
    session.add(
        history_event(
            escalation,
            "reopened",
            now,
            LADDER_ACTOR,
            from_status="acknowledged",
            note=(
                f"acknowledged at level {acknowledged_level} but not resolved by "
                f"{due.isoformat()}; re-opened at level {escalation.level}"
            ),
        )
    )
    await announce(session, escalation, now)
    audit_change(
        session,
        LADDER_ACTOR,
        "escalation.reopen",
        escalation,
        now,
        {
            "from_level": acknowledged_level,
            "to_level": escalation.level,
            "resolve_due_at": due.isoformat(),
        },
    )
    await session.flush()
