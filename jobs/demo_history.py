"""Demo history: a ward's last few months, so every outcome measure has something to show.

Each made-up patient (demo_stories) is registered, discharged, followed up, texted, perhaps
readmitted, given goals and referrals and surveyed, in time order, through the services
with back-dated times. Runs once per ward: a ward whose first demo patient exists is left
alone, so running seed-demo again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FollowUp, Patient
from jobs.demo_care import CarePlayer, play_surveys
from jobs.demo_messages import TextPlayer
from jobs.demo_stories import Stay, Story, stories
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
    texts: TextPlayer
    care: CarePlayer
    now: datetime

    async def already_built(self, session: AsyncSession, count: int) -> bool:
        first = stories(self.ward_number, self.now, count)[0]
        found = await session.scalar(
            select(Patient.id).where(Patient.nhs_number == first.nhs_number)
        )
        return found is not None

    async def build(self, session: AsyncSession, count: int) -> int:
        await self.texts.escalations.load_policy(session)
        for story in stories(self.ward_number, self.now, count):
            await self._patient(session, story)
        return count

    async def _patient(self, session: AsyncSession, story: Story) -> None:
        first = story.stays[0]
        patient = await patients.create_patient(
            session,
            self.staff,
            PatientCreate(
                nhs_number=story.nhs_number,
                given_name=story.given_name,
                family_name=story.family_name,
                date_of_birth=story.date_of_birth,
                admitted_at=first.admitted_at,
            ),
            first.admitted_at,
        )
        # Set here, not through the validator: it refuses Ofcom's drama range, and that
        # range is what keeps a demo from ever texting a real phone.
        patient.mobile, patient.sms_consent = story.mobile, True
        for k, stay in enumerate(story.stays):
            if k > 0:
                await episodes.admit(session, self.staff, patient.id, stay.admitted_at,
                                     stay.admitted_at)  # fmt: skip
            if stay.discharged_at is None:
                break
            until = story.stays[k + 1].admitted_at if k + 1 < len(story.stays) else self.now
            await self._discharge(session, patient, story, stay, until)
        await self.care.goals(session, patient, story)
        if story.number < len(FEEDBACK) and first.discharged_at is not None:
            source, relationship, text = FEEDBACK[story.number]
            heard = first.discharged_at + timedelta(days=4, hours=2)
            await feedback.record_feedback(
                session, self.staff, patient.id,
                FeedbackIn(source=source, text=text, received_at=heard,  # type: ignore[arg-type]
                           relationship=relationship, given_by=None),
                heard + timedelta(minutes=20),
            )  # fmt: skip
        await session.flush()

    async def _discharge(
        self, session: AsyncSession, patient: Patient, story: Story, stay: Stay, until: datetime
    ) -> None:
        assert stay.discharged_at is not None
        episode = await episodes.discharge(
            session,
            self.staff,
            patient.id,
            DischargeIn(discharged_at=stay.discharged_at, suicide_risk=stay.suicide_risk,
                        destination="Home"),
            stay.discharged_at,
        )  # fmt: skip
        follow_up = await session.scalar(select(FollowUp).where(FollowUp.episode_id == episode.id))
        assert follow_up is not None
        await self._follow_up(session, patient, stay, follow_up, until)
        await self.texts.play(session, patient, story, until)
        await play_surveys(session, patient, story, until)

    async def _follow_up(
        self,
        session: AsyncSession,
        patient: Patient,
        stay: Stay,
        follow_up: FollowUp,
        until: datetime,
    ) -> None:
        assert stay.discharged_at is not None
        contact = (
            stay.discharged_at + timedelta(hours=stay.contact_after_hours)
            if stay.contact_after_hours is not None
            else None
        )
        # One unanswered call first, as usually happens.
        tried = stay.discharged_at + timedelta(hours=2)
        if tried < until:
            await self._attempt(session, patient, follow_up, tried, successful=False)
        if follow_up.due_at < until and (contact is None or contact > follow_up.due_at):
            breached_at = follow_up.due_at + timedelta(minutes=1)
            await follow_ups.mark_breached(session, follow_up, breached_at)
            await self.texts.escalations.play(
                session,
                patient_id=patient.id,
                reason="follow_up_due",
                severity="urgent" if stay.suicide_risk else "routine",
                source=("follow_up", follow_up.id),
                at=breached_at,
                note="No human contact by the follow-up deadline.",
                resolve_note="Community team visiting today.",
            )
        if contact is not None and contact < until:
            await self._attempt(session, patient, follow_up, contact, successful=True)

    async def _attempt(
        self,
        session: AsyncSession,
        patient: Patient,
        follow_up: FollowUp,
        at: datetime,
        *,
        successful: bool,
    ) -> None:
        await follow_ups.record_attempt(
            session,
            self.staff,
            patient.id,
            follow_up.id,
            AttemptIn(occurred_at=at, method="phone", successful=successful,
                      note="Spoke with the patient." if successful else "No answer."),
            at + timedelta(minutes=10),
        )  # fmt: skip
