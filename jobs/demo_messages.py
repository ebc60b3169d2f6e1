"""Demo history: the patients' phones. What the carrier reports for each text, and how each
made-up patient answers what reaches them.

Nothing here writes a row: the answers are texts handed to the inbound handler (through
demo_world), which finds the check-in or survey item they answer, raises escalations for
HELP and low scores, and opts the patient out on STOP, as it would for a real phone.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, OutboxMessage, PromItem, PromSurvey
from jobs.demo_stories import Story
from jobs.demo_world import Report, World

REPLIES = {1: "1 bad day", 2: "2", 3: "3 ok", 4: "4", 5: "5 good"}
COMMENTS = ("Staff listened to me.", "More help with money please.",
            "The texts helped me keep going.")  # fmt: skip
# Mean change in the DIALOG scores after discharge: most people feel a little better.
DIALOG_LIFT = {"discharge": 0.0, "1_month": 0.5, "3_months": 0.9}


@dataclass
class Phones:
    patients: dict[uuid.UUID, tuple[Story, random.Random]] = field(default_factory=dict)
    # Survey id → how many more items the patient will answer (decided at the first item).
    _willing: dict[uuid.UUID, int] = field(default_factory=dict)

    def add(self, world: World, patient_id: uuid.UUID, story: Story) -> None:
        self.patients[patient_id] = (story, random.Random(story.seed))  # noqa: S311 - demo data
        first = story.stays[0].discharged_at
        if story.opts_out_after_days is not None and first is not None:
            stop_at = first + timedelta(days=story.opts_out_after_days, hours=3)
            world.at(stop_at, lambda at: world.text_in(story.mobile, "STOP", at))

    def report(self, message: OutboxMessage) -> Report:
        """Mostly delivered; now and then a check-in prompt fails or is not delivered."""
        if message.purpose != "checkin_prompt" or message.patient_id not in self.patients:
            return "delivered", None
        roll = self.patients[message.patient_id][1].random()
        if roll < 0.02:
            return "failed", 30008
        if roll < 0.06:
            return "undelivered", 30003
        return "delivered", None

    async def delivered(self, world: World, message: OutboxMessage, at: datetime) -> None:
        """The text is on the patient's phone: perhaps they answer it."""
        if message.patient_id not in self.patients:
            return
        story, rng = self.patients[message.patient_id]
        body: str | None = None
        delay = timedelta(0)
        if message.purpose == "checkin_prompt" and message.check_in_id is not None:
            body = await self._check_in_reply(world.session, rng, story, message.check_in_id)
            delay = timedelta(minutes=rng.randint(3, 110))
        elif message.purpose.startswith("prom_"):
            body = await self._survey_reply(world.session, rng, story, message.dedupe_key)
            delay = timedelta(minutes=rng.randint(2, 25))
        if body is not None:
            text = body
            world.at(at + delay, lambda when: world.text_in(story.mobile, text, when))

    async def _check_in_reply(
        self, session: AsyncSession, rng: random.Random, story: Story, check_in_id: uuid.UUID
    ) -> str | None:
        check_in = await session.get(CheckIn, check_in_id)
        if check_in is None or check_in.status != "sent" or rng.random() >= story.answer_rate:
            return None  # silence: the sweep reminds, then marks it missed
        if rng.random() < 0.04:
            return "HELP"
        return REPLIES[max(1, min(5, story.usual_score + rng.choice((-2, -1, 0, 0, 0, 0, 1))))]

    async def _survey_reply(
        self, session: AsyncSession, rng: random.Random, story: Story, dedupe_key: str
    ) -> str | None:
        # prom:<survey id>:<item key>, with ":again<n>" when an item is asked again.
        _, survey_ref, item_key, *_ = dedupe_key.split(":")
        survey = await session.get(PromSurvey, uuid.UUID(survey_ref))
        item = await session.get(PromItem, item_key)
        if survey is None or item is None:
            return None
        if survey.id not in self._willing:
            items = int(
                await session.scalar(
                    select(func.count())
                    .select_from(PromItem)
                    .where(PromItem.instrument == survey.instrument)
                )
                or 0
            )
            roll = rng.random()
            self._willing[survey.id] = (
                items if roll < 0.8 else rng.randint(1, items - 1) if roll < 0.9 else 0
            )
        if self._willing[survey.id] <= 0:
            return None  # the survey times out as partial or unanswered
        self._willing[survey.id] -= 1
        if item.scale_min is None or item.scale_max is None:
            return rng.choice(COMMENTS)
        if survey.instrument == "fft":
            return str(rng.choice((1, 1, 2, 2, 3, 4)))
        centre = story.dialog_base + DIALOG_LIFT.get(survey.time_point, 0.0)
        score = round(centre + rng.uniform(-1.2, 1.2))
        return str(max(item.scale_min, min(item.scale_max, score)))
