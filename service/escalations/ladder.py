"""The ladder: an escalation nobody acknowledged by its deadline climbs and is announced again.

Level 1 → 2 → 3, each with the ward's deadline for that level and severity. At the top the
crisis contact is told again at every missed level-3 deadline, so silence never ends the
escalation. Due rows are claimed with FOR UPDATE SKIP LOCKED through the partial index on
open escalations' deadlines; each climb is one row update plus outbox rows keyed by the step,
so concurrent or retried sweeps neither skip nor repeat a step.
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


async def claim_due(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[Escalation]:
    """Open escalations past their acknowledge deadline, locked for this transaction."""
    rows = await session.scalars(
        select(Escalation)
        .where(Escalation.status == "open", Escalation.ack_due_at <= now, not_set_aside(Escalation))
        .order_by(Escalation.ack_due_at, Escalation.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def climb(session: AsyncSession, escalation: Escalation, now: datetime) -> None:
    """One missed deadline: move up a level (or stay at the top), set the next deadline, and
    tell the people at the new level. A row acknowledged meanwhile is left alone."""
    if escalation.status != "open" or escalation.ack_due_at > now:
        return
    missed_level = escalation.level
    escalation.level = min(missed_level + 1, TOP_LEVEL)
    # Loaded into the session: announcing below reads the same ward without a second query.
    ward = await session.get(Ward, escalation.ward_id)
    policy = ward.escalation_policy if ward is not None else None
    escalation.ack_due_at = now + timedelta(
        minutes=ack_minutes(policy, escalation.severity, escalation.level)
    )
    escalation.updated_at = now
    kind = "climbed" if escalation.level > missed_level else "deadline_missed"
    session.add(
        history_event(
            escalation,
            kind,
            now,
            LADDER_ACTOR,
            from_status="open",
            note=f"not acknowledged at level {missed_level}",
        )
    )
    await announce(session, escalation, now)
    audit_change(
        session,
        LADDER_ACTOR,
        "escalation.climb",
        escalation,
        now,
        {"from_level": missed_level, "to_level": escalation.level},
    )
    await session.flush()
