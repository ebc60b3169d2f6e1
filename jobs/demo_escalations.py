"""Demo history: escalations raised, climbed, acknowledged and resolved in the past.

Raising, acknowledging and resolving go through the escalation service, and a late answer
lets the real ladder climb at the missed deadline (history rows and audit included).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, Ward
from service.escalations import ladder
from service.escalations import service as escalations
from service.escalations.history import ack_minutes
from service.principal import Principal, SystemActor


@dataclass
class EscalationPlayer:
    """Answers every escalation it raises; every 6th climbs once, every 15th twice."""

    ward_id: uuid.UUID
    staff: Principal
    now: datetime
    raised: int = 0
    policy: dict[str, object] = field(default_factory=dict)

    async def load_policy(self, session: AsyncSession) -> None:
        self.policy = (
            await session.scalar(select(Ward.escalation_policy).where(Ward.id == self.ward_id))
            or {}
        )

    async def play(
        self,
        session: AsyncSession,
        *,
        patient_id: uuid.UUID,
        reason: str,
        severity: str,
        source: tuple[str, uuid.UUID],
        at: datetime,
        note: str,
        actor: Principal | SystemActor | None = None,
        resolve_note: str = "Spoke with the patient; plan reviewed.",
    ) -> Escalation | None:
        if at >= self.now:
            return None
        row = await escalations.raise_escalation(
            session,
            patient_id=patient_id,
            ward_id=self.ward_id,
            reason=reason,
            severity=severity,
            source_type=source[0],
            source_id=source[1],
            now=at,
            note=note,
            actor=actor,
        )
        await self.answer(session, row, resolve_note)
        return row

    async def answer_source(
        self, session: AsyncSession, reason: str, source_type: str, source_id: uuid.UUID
    ) -> None:
        """Answer an escalation a service raised by itself (opt-out, undeliverable text)."""
        row = await session.scalar(
            select(Escalation).where(
                Escalation.reason == reason,
                Escalation.source_type == source_type,
                Escalation.source_id == str(source_id),
            )
        )
        if row is not None and row.status == "open":
            await self.answer(session, row, "Contacted the patient by phone instead.")

    async def answer(self, session: AsyncSession, row: Escalation, resolve_note: str) -> None:
        """Climb if the ward was slow, then acknowledge and (later) resolve, all before now."""
        self.raised += 1
        climbs = 2 if self.raised % 15 == 0 else 1 if self.raised % 6 == 0 else 0
        for _ in range(climbs):
            if row.ack_due_at >= self.now:
                break
            await ladder.climb(session, row, row.ack_due_at)
        ack_at = self._ack_time(row)
        if ack_at >= self.now:
            return  # still waiting: the ward will see it open
        await escalations.acknowledge(session, self.staff, row.id, ack_at)
        resolve_at = ack_at + timedelta(hours=1 + self.raised % 5)
        if resolve_at < self.now:
            await escalations.resolve(session, self.staff, row.id, resolve_at, resolve_note)

    def _ack_time(self, row: Escalation) -> datetime:
        """Some time inside the current level's allowance (a climbed one was late first)."""
        allowed = ack_minutes(self.policy, row.severity, row.level)
        fraction = (3 + self.raised % 6) / 10
        since = row.opened_at if row.level == 1 else row.ack_due_at - timedelta(minutes=allowed)
        return since + timedelta(minutes=round(allowed * fraction))
