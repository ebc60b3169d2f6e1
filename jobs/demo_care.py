"""Demo history: recovery plans, goals and their agency referrals, as dated story events.

Everything goes through the services at the story's time (status history and audit
included): the plan, the consent to share with the housing agency, goals, referrals and the
agency's answers and support actions. An unanswered referral is escalated by the referral
sweep at its respond-by time, not here; a worried housing worker raises a concern through the
service. Every referral goes with the patient's consent (the send rule); one patient per ward
later withdraws it, which closes that referral (`consent_ended`: the agency then sees only
that); a couple of referrals are left for the demo agency worker to answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient, Referral
from db.models.goals import GOAL_DOMAINS
from jobs.demo_escalations import raise_concern
from jobs.demo_stories import DECLINE_REASONS, Story
from jobs.demo_world import Event, World
from service.consents import service as consents
from service.consents.schemas import ConsentCreate
from service.goals import service as goals
from service.goals.schemas import GoalCreate, GoalUpdate
from service.plans import service as plans
from service.plans.schemas import PlanIn
from service.principal import Principal
from service.referrals import service as referrals
from service.referrals.schemas import ReferralCreate
from service.support_actions.schemas import SupportActionCreate
from service.support_actions.service import log_support_action

AGENCY_DOMAINS = ("housing", "employment_education", "finances")
OUTCOMES = ("achieved", "achieved", "not_achieved", "achieved", "cancelled", "achieved")
SUPPORT_KINDS = ("visit", "phone_call", "appointment", "housing_secured", "benefits_claimed")
# Per ward, the first referrals for goals still open at the end of the story are left for the
# demo agency worker to answer (the referral sweep has told the ward they are late).
LEFT_TO_ANSWER = 2
PLAN = PlanIn(
    early_warning_signs=["Sleeping badly", "Not answering the phone"],
    triggers=["Money worries"],
    coping_strategies=["Walk in the park", "Call my sister"],
)


@dataclass
class CarePlayer:
    staff: Principal
    agency_worker: Principal
    agency_id: uuid.UUID
    goals_made: int = 0
    accepted: int = 0
    withdrawn_one: bool = False
    left_to_answer: int = 0
    # The consent in force per patient (given once, until withdrawn).
    _consented: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)

    def plan(self, world: World, patient: Patient, story: Story) -> None:
        """A relapse-prevention plan the day after admission; goals from the day after."""
        stay = story.stays[0]
        world.at(stay.admitted_at + timedelta(days=1), self._plan(world, patient.id))
        assert stay.discharged_at is not None
        for k in range(story.goals):
            domain = GOAL_DOMAINS[self.goals_made % len(GOAL_DOMAINS)]
            outcome = OUTCOMES[self.goals_made % len(OUTCOMES)]
            self.goals_made += 1
            made_at = stay.admitted_at + timedelta(days=2 + k, hours=1)
            closed_at = stay.discharged_at + timedelta(days=5 + 9 * k, hours=2)
            goal = _Goal(self, world, patient.id, domain, outcome, self.goals_made, closed_at)
            world.at(made_at, goal.create)

    def _plan(self, world: World, patient_id: uuid.UUID) -> Event:
        async def run(at: datetime) -> None:
            await plans.put_plan(world.session, self.staff, patient_id, PLAN, at)

        return run

    async def consent(self, session: AsyncSession, patient_id: uuid.UUID, at: datetime) -> None:
        """The patient agrees to share their plan with the housing agency (once, until they
        withdraw it)."""
        if patient_id in self._consented:
            return
        given = await consents.give_consent(
            session,
            self.staff,
            patient_id,
            ConsentCreate(agency_id=self.agency_id, scope="plan", given_at=at),
            at,
        )
        self._consented[patient_id] = given.id

    async def withdraw(self, session: AsyncSession, patient_id: uuid.UUID, at: datetime) -> None:
        """The patient withdraws the consent: the service closes the agency's open referral."""
        consent_id = self._consented.pop(patient_id, None)
        if consent_id is not None:
            await consents.withdraw_consent(session, self.staff, patient_id, consent_id, at)


@dataclass
class _Goal:
    care: CarePlayer
    world: World
    patient_id: uuid.UUID
    domain: str
    outcome: str
    n: int
    closed_at: datetime
    referral: Referral | None = None
    goal_id: uuid.UUID = field(init=False)

    async def create(self, at: datetime) -> None:
        session, care = self.world.session, self.care
        goal, _ = await goals.create_goal(
            session,
            care.staff,
            self.patient_id,
            GoalCreate(
                domain=self.domain,  # type: ignore[arg-type]
                description=f"Demo goal: {self.domain.replace('_', ' ')}",
                status="active",
            ),
            at,
        )
        self.goal_id = goal.id
        if self.domain in AGENCY_DOMAINS:
            self.world.at(at + timedelta(hours=2), self.refer)
        self.world.at(self.closed_at, self.close)

    async def refer(self, at: datetime) -> None:
        session, care, n = self.world.session, self.care, self.n
        await care.consent(session, self.patient_id, at)
        self.referral = await referrals.create_referral(
            session,
            care.staff,
            ReferralCreate(patient_id=self.patient_id, agency_id=care.agency_id,
                           goal_id=self.goal_id,
                           reason="Support towards this goal after discharge."),
            at,
        )  # fmt: skip
        if self.closed_at >= self.world.end and care.left_to_answer < LEFT_TO_ANSWER:
            care.left_to_answer += 1
            return  # waiting in the demo agency worker's inbox
        if n % 5 == 1:
            self.world.at(at + timedelta(hours=6 + n % 30), self._agency("decline"))
        elif n % 5 == 3:
            # Nobody answers in time (the referral sweep tells the ward); a late acceptance.
            self.world.at(self.referral.respond_by + timedelta(hours=20), self._agency("accept"))
        else:
            self.world.at(at + timedelta(hours=3 + (n * 7) % 40), self._agency("accept"))

    def _agency(self, action: str) -> Event:
        async def run(at: datetime) -> None:
            assert self.referral is not None
            if self.referral.status != "pending":
                return  # closed meanwhile (the patient's consent was withdrawn)
            reason = DECLINE_REASONS[self.n % len(DECLINE_REASONS)] if action == "decline" else None
            await referrals.transition(self.world.session, self.care.agency_worker,
                                       self.referral.id, action, at, reason=reason)  # fmt: skip
            if action == "accept" and self.n % 5 != 3:
                self.care.accepted += 1
                self.world.at(at + timedelta(days=1, hours=2), self._support)
                if self.care.accepted % 3 == 0:
                    urgent = self.care.accepted % 2 == 1
                    self.world.at(at + timedelta(days=3), self._concern(urgent))
                elif self.care.accepted == 4 and not self.care.withdrawn_one:
                    self.care.withdrawn_one = True
                    self.world.at(at + timedelta(days=2), self._withdraw_consent)

        return run

    async def _support(self, at: datetime) -> None:
        # Only while the agency still works with the patient (it can see them then).
        if self.referral is not None and self.referral.status == "accepted":
            kind = SUPPORT_KINDS[self.n % len(SUPPORT_KINDS)]
            data = SupportActionCreate(kind=kind, occurred_at=at, note="Demo: met as planned.")  # type: ignore[arg-type]
            await log_support_action(
                self.world.session, self.care.agency_worker, self.patient_id, data, at
            )

    async def _withdraw_consent(self, at: datetime) -> None:
        if self.referral is not None and self.referral.status == "accepted":
            await self.care.withdraw(self.world.session, self.patient_id, at)

    def _concern(self, urgent: bool) -> Event:
        async def run(at: datetime) -> None:
            # Only while the agency still works with the patient (it can see them then).
            if self.referral is not None and self.referral.status == "accepted":
                await raise_concern(
                    self.world.session, self.care.agency_worker, self.patient_id, urgent, at
                )

        return run

    async def close(self, at: datetime) -> None:
        session, care = self.world.session, self.care
        await goals.update_goal(
            session, care.staff, self.patient_id, self.goal_id,
            GoalUpdate(status=self.outcome), at,  # type: ignore[arg-type]
        )  # fmt: skip
        if self.referral is not None and self.outcome == "achieved":
            self.world.at(at + timedelta(hours=1), self._complete)

    async def _complete(self, at: datetime) -> None:
        if self.referral is not None and self.referral.status == "accepted":
            await referrals.transition(self.world.session, self.care.agency_worker,
                                       self.referral.id, "complete", at)  # fmt: skip
