"""Demo history: the check-ins a discharge scheduled, played out by text up to a moment.

Each due check-in goes through the real dispatch step (`advance`: the prompt is queued in
the outbox under its usual dedupe key), then the carrier's answer is written onto the
outbox row (delivered, or undelivered/failed with a Twilio error code, as the status
callback would) and the patient's reply, reminder or silence follows, again through the
services: `delivery_failed`, `answer`, `mark_missed`, `opt_out`, and escalations for help,
low scores, no reply and undeliverable prompts.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import CheckIn, InboundMessage, OutboxMessage, Patient
from jobs.demo_escalations import EscalationPlayer
from jobs.demo_stories import Story
from service.checkins import dispatch, lifecycle
from service.conversation import channel
from service.conversation.delivery import DELIVERY_HOOKS
from service.conversation.inbound import LOW_SCORES
from service.conversation.questions import make_room_for_check_in
from service.proms import service as proms

REPLIES = {1: "1 bad day", 2: "2", 3: "3 ok", 4: "4", 5: "5 good"}


@dataclass
class TextPlayer:
    escalations: EscalationPlayer
    now: datetime

    async def play(
        self, session: AsyncSession, patient: Patient, story: Story, until: datetime
    ) -> None:
        """Every scheduled check-in whose reply window closed before `until`."""
        rng = random.Random(story.seed + int(until.timestamp()))  # noqa: S311 - demo data
        opt_out_at = self._opt_out_at(story)
        rows = await session.scalars(
            select(CheckIn)
            .where(CheckIn.patient_id == patient.id, CheckIn.status == "scheduled")
            .order_by(CheckIn.due_at)
        )
        for check_in in list(rows.all()):
            send_at = check_in.next_action_at or check_in.due_at
            deadline = send_at + timedelta(minutes=check_in.reply_window_minutes)
            stopping = opt_out_at is not None and opt_out_at < min(deadline, until)
            if stopping and opt_out_at is not None and not patient.sms_opted_out:
                await self._opt_out(session, patient, opt_out_at)
            if deadline >= until or patient.sms_opted_out:
                break
            await self._one(session, rng, patient, story, check_in, send_at)

    def _opt_out_at(self, story: Story) -> datetime | None:
        if story.opts_out_after_days is None or story.stays[0].discharged_at is None:
            return None
        return story.stays[0].discharged_at + timedelta(days=story.opts_out_after_days, hours=3)

    async def _one(
        self,
        session: AsyncSession,
        rng: random.Random,
        patient: Patient,
        story: Story,
        check_in: CheckIn,
        send_at: datetime,
    ) -> None:
        if (
            await dispatch.advance(session, check_in, send_at, make_room=make_room_for_check_in)
            != "prompted"
        ):
            await session.flush()
            return
        await session.flush()
        prompt = await self._delivery(session, check_in, "prompt", rng)
        if prompt.status != "delivered":
            assert prompt.finished_at is not None
            await DELIVERY_HOOKS.failed(session, prompt, prompt.error_code, prompt.finished_at)
            await session.flush()
            await self.escalations.answer_source(session, "undeliverable", "sms_outbox", prompt.id)
            return
        if rng.random() < story.answer_rate:
            await self._answer(session, rng, patient, story, check_in, send_at)
            return
        # No reply: the sweep's later steps (a reminder if the window is open, then missed).
        at = send_at + timedelta(minutes=check_in.reminder_after_minutes)
        deadline = dispatch.reply_deadline(check_in)
        while check_in.status in ("sent", "reminded"):
            step = await dispatch.advance(session, check_in, at, make_room=make_room_for_check_in)
            await session.flush()
            if step == "reminded":
                await self._delivery(session, check_in, "reminder", rng, always=True)
            at = min(check_in.next_action_at or deadline, deadline)
        if check_in.status == "missed":
            await self.escalations.play(
                session,
                patient_id=patient.id,
                reason="no_reply",
                severity="routine",
                source=("check_in", check_in.id),
                at=deadline,
                note="No reply to the check-in or its reminder.",
            )

    async def _delivery(
        self,
        session: AsyncSession,
        check_in: CheckIn,
        kind: str,
        rng: random.Random,
        *,
        always: bool = False,
    ) -> OutboxMessage:
        """What the carrier reported for the queued text: mostly delivered."""
        message = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"checkin:{check_in.id}:{kind}")
        )
        assert message is not None
        at = message.created_at
        roll = 1.0 if always else rng.random()
        status, code = ("delivered", None)
        if roll < 0.02:
            status, code = ("failed", 30008)
        elif roll < 0.06:
            status, code = ("undelivered", 30003)
        message.status = status
        message.provider = "twilio"
        message.provider_status = status
        message.error_code = code
        message.status_reason = str(code) if code else None
        message.attempts = 1
        message.next_attempt_at = None
        message.sending_started_at = at + timedelta(seconds=2)
        message.sent_at = at + timedelta(seconds=3)
        message.finished_at = at + timedelta(seconds=40)
        message.updated_at = message.finished_at
        await session.flush()
        return message

    async def _answer(
        self,
        session: AsyncSession,
        rng: random.Random,
        patient: Patient,
        story: Story,
        check_in: CheckIn,
        send_at: datetime,
    ) -> None:
        at = send_at + timedelta(minutes=rng.randint(3, 110))
        wants_help = rng.random() < 0.04
        score = (
            None
            if wants_help
            else max(1, min(5, story.usual_score + rng.choice((-2, -1, 0, 0, 0, 0, 1))))
        )
        body = "HELP" if score is None else REPLIES[score]
        inbound = InboundMessage(
            id=new_id(),
            message_sid=f"SMdemo{uuid.uuid4().hex}",
            patient_id=patient.id,
            ward_id=patient.ward_id,
            from_number=patient.mobile or "",
            body=body,
            kind="help" if score is None else "score",
            score=score,
            check_in_id=check_in.id,
            received_at=at,
        )
        session.add(inbound)
        lifecycle.answer(check_in, at, score=score, reply=body)
        await session.flush()
        if score is None:
            await self.escalations.play(
                session,
                patient_id=patient.id,
                reason="help_request",
                severity="urgent",
                source=("sms_inbound", inbound.id),
                at=at,
                note="The patient asked for help by text.",
                actor=channel.SMS_ACTOR,
                resolve_note="Crisis team called the patient back; safe at home.",
            )
        elif score in LOW_SCORES:
            await self.escalations.play(
                session,
                patient_id=patient.id,
                reason="low_score",
                severity="urgent" if score == 1 else "routine",
                source=("sms_inbound", inbound.id),
                at=at,
                note=f"The patient replied with a score of {score} out of 5.",
                actor=channel.SMS_ACTOR,
            )

    async def _opt_out(self, session: AsyncSession, patient: Patient, at: datetime) -> None:
        """The patient texts STOP: check-ins stop, surveys stop, staff are told."""
        inbound = InboundMessage(
            id=new_id(),
            message_sid=f"SMdemo{uuid.uuid4().hex}",
            patient_id=patient.id,
            ward_id=patient.ward_id,
            from_number=patient.mobile or "",
            body="STOP",
            kind="stop",
            received_at=at,
        )
        session.add(inbound)
        await session.flush()
        await channel.opt_out(
            session, patient.id, at, source_type="sms_inbound", source_id=inbound.id
        )
        await proms.cancel_surveys(session, patient.id, at)
        await session.flush()
        await self.escalations.answer_source(session, "opted_out", "sms_inbound", inbound.id)
