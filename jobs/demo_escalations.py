"""Demo history: the ward's staff answering the escalations the services raised.

Each escalation the product raises (a missed check-in, HELP, a low score, a breached
follow-up clock, an unanswered referral, an opt-out, an undeliverable text) is acknowledged
and later resolved by the demo nurse through the escalation service; every 6th is answered
late enough for the ladder sweep to climb it once, every 15th twice. One left unanswered at
the end of the story stays open, as it would on the ward. Agency concerns are raised through
the concern service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, ReplyToRead, Ward
from jobs.demo_world import Event, World
from service.escalations import concerns
from service.escalations import service as escalations
from service.escalations.history import ack_minutes, resolve_minutes
from service.principal import Principal
from service.replies import service as replies

# What the nurse found (the outcome) and wrote (the note), by reason.
RESOLUTIONS = {
    "follow_up_due": ("contacted_patient_needs_support", "Community team visiting today."),
    "help_request": (
        "contacted_patient_safe",
        "Crisis team called the patient back; safe at home.",
    ),
    "referral_unanswered": ("other", "Called the agency; they will respond today."),
    "agency_concern": (
        "contacted_patient_safe",
        "Home visit by the community team; patient well.",
    ),
    "opted_out": ("contacted_patient_safe", "Contacted the patient by phone instead."),
    "undeliverable": ("contacted_patient_safe", "Contacted the patient by phone instead."),
}
DEFAULT_RESOLUTION = ("contacted_patient_safe", "Spoke with the patient; plan reviewed.")


@dataclass
class Staff:
    ward_id: uuid.UUID
    nurse: Principal
    raised: int = 0
    held: int = 0
    policy: dict[str, object] = field(default_factory=dict)

    async def load_policy(self, session: AsyncSession) -> None:
        self.policy = (
            await session.scalar(select(Ward.escalation_policy).where(Ward.id == self.ward_id))
            or {}
        )

    def reply_held(self, world: World, reply: ReplyToRead) -> None:
        """Most replies are read within the hour; every third waits until the sweep raises
        `unread_reply`, and reading it then settles that escalation too."""
        self.held += 1
        if self.held % 3 != 0:
            read_at = reply.received_at + timedelta(minutes=15 + self.held % 30)
            world.at(read_at, self._read(world, reply.id, "Read; nothing more needed."))

    def _read(self, world: World, reply_id: uuid.UUID, note: str) -> Event:
        async def run(at: datetime) -> None:
            status = await world.session.scalar(
                select(ReplyToRead.status)
                .where(ReplyToRead.id == reply_id)
                .execution_options(populate_existing=True)
            )
            if status == "unread":
                await replies.read_reply(world.session, self.nurse, reply_id, at, note)

        return run

    def noticed(self, world: World, row: Escalation) -> None:
        """Plan when the nurse acknowledges (inside the allowance of the level reached)."""
        if row.reason == "unread_reply":
            # Answered by reading the reply, which resolves the escalation.
            read_at = row.opened_at + timedelta(minutes=30)
            reply_id = uuid.UUID(row.source_id)
            world.at(read_at, self._read(world, reply_id, "Rang the patient back."))
            return
        self.raised += 1
        climbs = 2 if self.raised % 15 == 0 else 1 if self.raised % 6 == 0 else 0
        allowed = [ack_minutes(self.policy, row.severity, level) for level in (1, 2, 3)]
        fraction = (3 + self.raised % 6) / 10
        minutes = sum(allowed[:climbs]) + round(allowed[climbs] * fraction)
        ack_at = row.opened_at + timedelta(minutes=minutes)
        # Resolved inside the ward's resolve-by allowance, so the demo re-opens nothing.
        allowance = resolve_minutes(self.policy, row.severity)
        resolve_at = ack_at + timedelta(minutes=min(60 * (1 + self.raised % 5), allowance - 15))
        resolution = RESOLUTIONS.get(row.reason, DEFAULT_RESOLUTION)
        world.at(ack_at, self._acknowledge(world, row.id, resolve_at, resolution))

    def _acknowledge(
        self,
        world: World,
        escalation_id: uuid.UUID,
        resolve_at: datetime,
        resolution: tuple[str, str],
    ) -> Event:
        async def run(at: datetime) -> None:
            # Its source may have settled it meanwhile (a follow-up made, a referral answered).
            if await self._status(world.session, escalation_id) != "open":
                return
            await escalations.acknowledge(world.session, self.nurse, escalation_id, at)
            world.at(resolve_at, self._resolve(world, escalation_id, resolution))

        return run

    def _resolve(
        self, world: World, escalation_id: uuid.UUID, resolution: tuple[str, str]
    ) -> Event:
        outcome, note = resolution

        async def run(at: datetime) -> None:
            if await self._status(world.session, escalation_id) == "acknowledged":
                await escalations.resolve(
                    world.session, self.nurse, escalation_id, at, outcome, note
                )

        return run

    async def _status(self, session: AsyncSession, escalation_id: uuid.UUID) -> str | None:
        status: str | None = await session.scalar(
            select(Escalation.status)
            .where(Escalation.id == escalation_id)
            .execution_options(populate_existing=True)
        )
        return status


async def raise_concern(
    session: AsyncSession, worker: Principal, patient_id: uuid.UUID, urgent: bool, at: datetime
) -> None:
    await concerns.raise_concern(
        session,
        worker,
        patient_id,
        note="The housing worker is worried: the patient missed two visits.",
        urgent=urgent,
        now=at,
    )
