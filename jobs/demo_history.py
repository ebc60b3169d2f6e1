"""Demo history: a ward's last few months, so every outcome measure has something to show.

Each made-up patient (demo_stories) is registered, given a plan and goals, discharged,
followed up, perhaps readmitted, with feedback from a carer: dated events on the ward's
story clock (demo_world), each through its service at its time. What follows from them
(check-ins, reminders, misses, surveys, breached clocks, climbing escalations) is left to
the worker's sweeps and the inbound handler. Runs once per ward: a ward whose first demo
patient exists is left alone, so running seed-demo again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FollowUp, Patient
from jobs.demo_care import CarePlayer
from jobs.demo_escalations import Staff
from jobs.demo_messages import Phones
from jobs.demo_stories import Stay, Story, stories
from jobs.demo_world import Event, World
from service.feedback import service as feedback
from service.feedback.schemas import FeedbackIn
from service.follow_ups import service as follow_ups
from service.follow_ups.schemas import AttemptIn
from service.patients import episodes
from service.patients import service as patients
from service.patients.schemas import DischargeIn, PatientCreate
from service.principal import Principal

FEEDBACK = (
    ("carer", "Mother", "The ward kept me informed; the follow-up call came quickly."),
    ("family", "Brother", "Hard to reach anyone at weekends."),
    ("patient", None, "The daily texts felt like someone was checking on me."),
)


@dataclass
class WardHistory:
    ward_number: int
    staff: Principal
    escalations: Staff
    care: CarePlayer
    now: datetime

    async def already_built(self, session: AsyncSession, count: int) -> bool:
        first = stories(self.ward_number, self.now, count)[0]
        found = await session.scalar(
            select(Patient.id).where(Patient.nhs_number == first.nhs_number)
        )
        return found is not None

    async def build(self, session: AsyncSession, count: int) -> int:
        await self.escalations.load_policy(session)
        phones = Phones()
        world = World(
            session,
            end=self.now,
            report=phones.report,
            on_delivered=lambda row, at: phones.delivered(world, row, at),
            on_escalation=lambda row: self.escalations.noticed(world, row),
            on_reply=lambda reply: self.escalations.reply_held(world, reply),
        )
        for story in stories(self.ward_number, self.now, count):
            world.at(story.stays[0].admitted_at, _Life(self, world, phones, story).register)
        await world.run()
        await session.flush()
        return count


@dataclass
class _Life:
    """One patient's story events, from registration on."""

    history: WardHistory
    world: World
    phones: Phones
    story: Story

    async def register(self, at: datetime) -> None:
        session, story, staff = self.world.session, self.story, self.history.staff
        patient = await patients.create_patient(
            session,
            staff,
            PatientCreate(
                nhs_number=story.nhs_number,
                given_name=story.given_name,
                family_name=story.family_name,
                date_of_birth=story.date_of_birth,
                admitted_at=at,
            ),
            at,
        )
        # Set here, not through the validator: it refuses Ofcom's drama range, and that
        # range is what keeps a demo from ever texting a real phone.
        patient.mobile, patient.sms_consent = story.mobile, True
        self.patient = patient
        self.world.patient_ids.append(patient.id)
        self.phones.add(self.world, patient.id, story)
        self.history.care.plan(self.world, patient, story)
        for k, stay in enumerate(story.stays):
            if k > 0:
                self.world.at(stay.admitted_at, self._admit)
            if stay.discharged_at is not None:
                until = story.stays[k + 1].admitted_at if k + 1 < len(story.stays) else None
                self.world.at(stay.discharged_at, self._discharge(stay, until))
        first = story.stays[0].discharged_at
        if story.number < len(FEEDBACK) and first is not None:
            heard = first + timedelta(days=4, hours=2)
            self.world.at(heard + timedelta(minutes=20), self._feedback(heard))

    async def _admit(self, at: datetime) -> None:
        await episodes.admit(self.world.session, self.history.staff, self.patient.id, at, at)

    def _discharge(self, stay: Stay, until: datetime | None) -> Event:
        async def run(at: datetime) -> None:
            session = self.world.session
            episode = await episodes.discharge(
                session,
                self.history.staff,
                self.patient.id,
                DischargeIn(discharged_at=at, suicide_risk=stay.suicide_risk,
                            destination="Home"),
                at,
            )  # fmt: skip
            follow_up = await session.scalar(
                select(FollowUp).where(FollowUp.episode_id == episode.id)
            )
            assert follow_up is not None
            # One unanswered call first, as usually happens; then the call that gets through
            # (if it comes before a readmission). A breach is the follow-up sweep's to find.
            attempts = [(at + timedelta(hours=2), False)]
            if stay.contact_after_hours is not None:
                attempts.append((at + timedelta(hours=stay.contact_after_hours), True))
            for when, successful in attempts:
                if until is None or when < until:
                    # Recorded ten minutes after the call.
                    self.world.at(
                        when + timedelta(minutes=10), self._attempt(follow_up, successful)
                    )

        return run

    def _attempt(self, follow_up: FollowUp, successful: bool) -> Event:
        async def run(at: datetime) -> None:
            await follow_ups.record_attempt(
                self.world.session,
                self.history.staff,
                self.patient.id,
                follow_up.id,
                AttemptIn(occurred_at=at - timedelta(minutes=10), method="phone",
                          successful=successful,
                          note="Spoke with the patient." if successful else "No answer."),
                at,
            )  # fmt: skip

        return run

    def _feedback(self, heard: datetime) -> Event:
        source, relationship, text = FEEDBACK[self.story.number]

        async def run(at: datetime) -> None:
            await feedback.record_feedback(
                self.world.session, self.history.staff, self.patient.id,
                FeedbackIn(source=source, text=text, received_at=heard,  # type: ignore[arg-type]
                           relationship=relationship, given_by=None),
                at,
            )  # fmt: skip

        return run
