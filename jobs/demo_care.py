"""Demo history: recovery goals and their agency referrals, and PROM survey answers.

Goals and referrals go through their services with back-dated times (status history and
audit included). PROM items are texted through the outbox under their usual dedupe keys
and the answers stored as the reply handler stores them; the survey is then closed as the
sweep closes it (completed, partial or unanswered).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import OutboxMessage, Patient, PromAnswer, PromItem, PromSurvey, Referral
from db.models.goals import GOAL_DOMAINS
from jobs.demo_escalations import EscalationPlayer
from jobs.demo_stories import DECLINE_REASONS, Story
from service.goals import service as goals
from service.goals.schemas import GoalCreate, GoalUpdate
from service.principal import Principal
from service.proms.service import REPLY_WINDOW
from service.referrals import service as referrals
from service.referrals.schemas import ReferralCreate
from service.sms import outbox

AGENCY_DOMAINS = ("housing", "employment_education", "finances")
OUTCOMES = ("achieved", "achieved", "not_achieved", "achieved", "cancelled", "achieved")
# Mean change in the DIALOG scores after discharge: most people feel a little better.
DIALOG_LIFT = {"discharge": 0.0, "1_month": 0.5, "3_months": 0.9}


@dataclass
class CarePlayer:
    staff: Principal
    agency_worker: Principal
    agency_id: uuid.UUID
    escalations: EscalationPlayer
    now: datetime
    goals_made: int = 0
    accepted: int = 0

    async def goals(self, session: AsyncSession, patient: Patient, story: Story) -> None:
        """Goals set on the ward; closed some weeks after discharge (if that has come)."""
        stay = story.stays[0]
        for k in range(story.goals):
            domain = GOAL_DOMAINS[self.goals_made % len(GOAL_DOMAINS)]
            made_at = stay.admitted_at + timedelta(days=2 + k, hours=1)
            goal, _ = await goals.create_goal(
                session,
                self.staff,
                patient.id,
                GoalCreate(
                    domain=domain,  # type: ignore[arg-type]
                    description=f"Demo goal: {domain.replace('_', ' ')}",
                    status="active",
                ),
                made_at,
            )
            outcome = OUTCOMES[self.goals_made % len(OUTCOMES)]
            self.goals_made += 1
            referral = None
            if domain in AGENCY_DOMAINS:
                referral = await self._refer(
                    session, patient, goal.id, made_at + timedelta(hours=2)
                )
            assert stay.discharged_at is not None
            closed_at = stay.discharged_at + timedelta(days=5 + 9 * k, hours=2)
            if closed_at >= self.now:
                continue
            await goals.update_goal(
                session, self.staff, patient.id, goal.id,
                GoalUpdate(status=outcome), closed_at,  # type: ignore[arg-type]
            )  # fmt: skip
            if referral is not None and outcome == "achieved" and referral.status == "accepted":
                await referrals.transition(session, self.agency_worker, referral.id, "complete",
                                           closed_at + timedelta(hours=1))  # fmt: skip

    async def _refer(
        self, session: AsyncSession, patient: Patient, goal_id: uuid.UUID, at: datetime
    ) -> Referral:
        row = await referrals.create_referral(
            session,
            self.staff,
            ReferralCreate(patient_id=patient.id, agency_id=self.agency_id, goal_id=goal_id,
                           reason="Support towards this goal after discharge."),
            at,
        )  # fmt: skip
        n = self.goals_made
        if n % 5 == 1:
            reason = DECLINE_REASONS[n % len(DECLINE_REASONS)]
            answered = at + timedelta(hours=6 + n % 30)
            if answered < self.now:
                await referrals.transition(session, self.agency_worker, row.id, "decline",
                                           answered, reason=reason)  # fmt: skip
            return row
        if n % 5 == 3 and row.respond_by < self.now:
            # Nobody answered in time: the ward is told, and the agency answers late.
            await self.escalations.play(
                session,
                patient_id=patient.id,
                reason="referral_unanswered",
                severity="routine",
                source=("referral", row.id),
                at=row.respond_by,
                note="The agency has not answered the referral by its respond-by time.",
                resolve_note="Called the agency; they will respond today.",
            )
            late = row.respond_by + timedelta(hours=20)
            if late < self.now:
                await referrals.transition(session, self.agency_worker, row.id, "accept", late)
            return row
        answered = at + timedelta(hours=3 + (n * 7) % 40)
        if answered >= self.now:
            return row
        await referrals.transition(session, self.agency_worker, row.id, "accept", answered)
        self.accepted += 1
        if self.accepted % 3 == 0:
            await self.escalations.play(
                session,
                patient_id=patient.id,
                reason="agency_concern",
                severity="urgent" if self.accepted % 2 else "routine",
                source=("referral", row.id),
                at=answered + timedelta(days=3),
                note="The housing worker is worried: the patient missed two visits.",
                actor=self.agency_worker,
                resolve_note="Home visit by the community team; patient well.",
            )
        return row


async def play_surveys(
    session: AsyncSession, patient: Patient, story: Story, until: datetime
) -> None:
    """Answer the surveys due (with their 48-hour reply window) before `until`."""
    rows = await session.scalars(
        select(PromSurvey)
        .where(PromSurvey.patient_id == patient.id, PromSurvey.status == "scheduled")
        .order_by(PromSurvey.due_at)
    )
    for survey in list(rows.all()):
        if survey.due_at + REPLY_WINDOW >= until:
            break
        rng = random.Random(story.seed + int(survey.due_at.timestamp()))  # noqa: S311 - demo data
        await _answer_survey(session, rng, patient, story, survey)


async def _answer_survey(
    session: AsyncSession,
    rng: random.Random,
    patient: Patient,
    story: Story,
    survey: PromSurvey,
) -> None:
    items = list(
        (
            await session.scalars(
                select(PromItem)
                .where(PromItem.instrument == survey.instrument)
                .order_by(PromItem.position)
            )
        ).all()
    )
    roll = rng.random()
    answered = len(items) if roll < 0.8 else rng.randint(1, len(items) - 1) if roll < 0.9 else 0
    at = survey.due_at.replace(hour=10, minute=0, second=0, microsecond=0)
    at = max(at, survey.due_at)
    for item in items[: max(answered, 1)]:
        await _text_item(session, patient, survey, item, at)
        if answered == 0:
            break
        at += timedelta(minutes=rng.randint(2, 25))
        score, text = _reply(rng, story, survey, item)
        session.add(PromAnswer(id=new_id(), survey_id=survey.id, item_key=item.key,
                               score=score, text=text, answered_at=at))  # fmt: skip
    closed = at + (REPLY_WINDOW if answered < len(items) else timedelta(0))
    survey.status = (
        "completed" if answered == len(items) else "partial" if answered else "unanswered"
    )
    survey.next_action_at = None
    survey.awaiting_item_key = None
    survey.awaiting_since = None
    survey.completed_at = closed
    survey.updated_at = closed
    await session.flush()


def _reply(
    rng: random.Random, story: Story, survey: PromSurvey, item: PromItem
) -> tuple[int | None, str | None]:
    if item.scale_min is None or item.scale_max is None:
        return None, rng.choice(("Staff listened to me.", "More help with money please.",
                                 "The texts helped me keep going."))  # fmt: skip
    if survey.instrument == "fft":
        return rng.choice((1, 1, 2, 2, 3, 4)), None
    centre = story.dialog_base + DIALOG_LIFT.get(survey.time_point, 0.0)
    score = round(centre + rng.uniform(-1.2, 1.2))
    return max(item.scale_min, min(item.scale_max, score)), None


async def _text_item(
    session: AsyncSession, patient: Patient, survey: PromSurvey, item: PromItem, at: datetime
) -> None:
    assert patient.mobile is not None
    message_id = await outbox.enqueue(
        session,
        dedupe_key=f"prom:{survey.id}:{item.key}",
        to_number=patient.mobile,
        body=item.prompt,
        purpose=f"prom_{survey.instrument}",
        now=at,
        patient_id=patient.id,
        ward_id=patient.ward_id,
    )
    message = await session.get(OutboxMessage, message_id)
    assert message is not None
    message.status = message.provider_status = "delivered"
    message.provider = "twilio"
    message.attempts = 1
    message.next_attempt_at = None
    message.sending_started_at = at + timedelta(seconds=2)
    message.sent_at = at + timedelta(seconds=3)
    message.finished_at = message.updated_at = at + timedelta(seconds=30)
