"""What the outbox's reports mean (the OutboxHooks the app and the worker wire at start-up).

- A patient's text failed: the check-in it belongs to is skipped, a number the carrier calls
  invalid or not mobile is flagged (one escalation per bad number), and otherwise staff get
  an `undeliverable` escalation for the message.
- The carrier says the patient opted out (21610): the same opt-out as a STOP text.
- A send nobody could confirm: staff decide (`undeliverable`); it is never sent again.
- The daily cap held a patient's texts: one `undeliverable` escalation per patient per day.
- The hourly cap is holding texts: each affected ward's managers and on-call line are told.
- A page to staff or the carer notice failed: noted in its escalation's history. A text to
  a staff member that failed, was refused, is being retried or could not be confirmed is
  also sent to them by email (service.paging.email.back_up_text, once per text) while
  staff email is on; an email that fails in turn is noted too (`STAFF_EMAIL_HOOKS`).
And the one rule for whether a patient text may go (service.patient_access.texting), which the
outbox applies again as the last word when it marks a text `sending`, with what may stop it at
that very moment and what then becomes of it:
- Outside the patient's contact window, a text waits (stays queued) for the next opening
  (`service.checkins.windows.next_send_time`): a staff message, a survey item (its 48 h
  reply window outlasts any night) and any other patient text. A check-in prompt or
  reminder waits too unless its reply window would be over by the opening; then it lapses
  (cancelled, `window_passed`) rather than ask a question nobody can answer in time, and
  the check-in sweep raises `no_reply` for the check-in at its deadline. An
  answer to the patient's own text (the crisis reply) is never held.
- Words chosen for a private phone, while discreet mode is now on: withdrawn
  (`wording_changed`). A check-in prompt or reminder is queued again at once in the right
  words by the check-in sweep (`checkins.dispatch.reword`); a survey item is set back and
  asked again by the PROMs sweep (`proms.service.reword`); the carer notice is queued again
  at once without the ward's name (`paging.texts.carer_notice`); a staff message is not
  rewritten for its writer: it shows as cancelled in the conversation.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, OutboxMessage, Patient, StaffEmail
from service import audit
from service.checkins import dispatch, lifecycle
from service.checkins.windows import next_send_time
from service.conversation.channel import SMS_ACTOR, flag_number, opt_out
from service.escalations.notify import note_not_delivered
from service.escalations.service import raise_escalation
from service.paging.email import back_up_text
from service.paging.texts import CARER_NOTICE_PURPOSE, alert_sms_paused, carer_notice
from service.patient_access import texting
from service.proms import service as proms
from service.sms.gateway import UNDELIVERABLE_NUMBER_CODES

log = logging.getLogger("homeward.conversation.delivery")

# A check-in text the check-in sweep holds at this moment is asked about again this soon.
BUSY_RETRY = timedelta(seconds=30)
WINDOW_PASSED = dispatch.LAPSED


class DeliveryHooks:
    """The domain's side of service.sms.hooks.OutboxHooks. Stateless: one instance serves
    every process (and keys the outbox's cached send statement)."""

    def refusal(
        self, patient_id: ColumnElement[Any], to_number: ColumnElement[Any]
    ) -> ColumnElement[str | None]:
        return texting.refusal(patient_id, to_number)

    def send_refusal(
        self,
        patient_id: ColumnElement[Any],
        recipient_kind: ColumnElement[Any],
        purpose: ColumnElement[Any],
        fit_for_discreet: ColumnElement[Any],
        now: ColumnElement[Any],
    ) -> ColumnElement[str | None]:
        return texting.send_refusal(patient_id, recipient_kind, purpose, fit_for_discreet, now)

    async def refused_at_send(
        self, session: AsyncSession, message: OutboxMessage, reason: str, now: datetime
    ) -> datetime | str:
        check_in_text = message.check_in_id is not None and message.purpose in (
            dispatch.PROMPT,
            dispatch.REMINDER,
        )
        if reason == texting.WORDING_CHANGED:
            if check_in_text:
                assert message.check_in_id is not None
                if not await dispatch.reword(session, message.check_in_id, message.purpose, now):
                    return now + BUSY_RETRY
            elif message.prom_survey_id is not None:
                if not await proms.reword(session, message.prom_survey_id, now):
                    return now + BUSY_RETRY
            elif message.purpose == CARER_NOTICE_PURPOSE and message.escalation_id is not None:
                escalation = await session.get(Escalation, message.escalation_id)
                if escalation is not None:
                    await carer_notice(session, escalation, now, reworded=True)
            return reason
        patient = await session.get(Patient, message.patient_id)
        if patient is None:
            return "no_patient"
        opening = next_send_time(
            now, patient.timezone, patient.contact_window_start, patient.contact_window_end
        )
        if check_in_text:
            assert message.check_in_id is not None
            if not await dispatch.still_answerable(session, message.check_in_id, opening):
                return WINDOW_PASSED
        return opening

    async def failed(
        self,
        session: AsyncSession,
        message: OutboxMessage,
        error_code: int | None,
        now: datetime,
    ) -> None:
        if message.recipient_kind in ("staff", "carer"):
            await _page_not_delivered(session, message, now, f"error {error_code or 'unknown'}")
            return
        if message.patient_id is None:
            return
        patient = await session.get(Patient, message.patient_id)
        if patient is None:
            return
        if message.check_in_id is not None:
            await lifecycle.skip_check_in(session, message.check_in_id, now, reason="undeliverable")
        raise_it = True
        if error_code in UNDELIVERABLE_NUMBER_CODES:
            # One escalation per bad number, not one per message sent to it.
            raise_it = await flag_number(session, patient.id, message.to_number, error_code, now)
            audit.record(
                session,
                SMS_ACTOR,
                "patient.sms_number_flagged",
                at=now,
                patient_id=patient.id,
                ward_id=patient.ward_id,
                object_type="patient",
                object_id=patient.id,
                detail={"error_code": error_code},
            )
        if raise_it:
            await raise_escalation(
                session,
                patient_id=patient.id,
                ward_id=patient.ward_id,
                reason="undeliverable",
                severity="routine",
                source_type="sms_outbox",
                source_id=message.id,
                now=now,
                note=_undeliverable_note(error_code),
                actor=SMS_ACTOR,
            )

    async def carrier_opted_out(
        self, session: AsyncSession, message: OutboxMessage, now: datetime
    ) -> None:
        if message.recipient_kind != "patient" or message.patient_id is None:
            # A page or carer notice refused: the ladder goes on; note who was not reached.
            await _page_not_delivered(session, message, now, "the recipient opted out of SMS")
            return
        await opt_out(
            session, message.patient_id, now, source_type="sms_outbox", source_id=message.id
        )

    async def unconfirmed(
        self, session: AsyncSession, message: OutboxMessage, now: datetime
    ) -> None:
        if message.recipient_kind in ("staff", "carer"):
            await _page_not_delivered(session, message, now, "delivery could not be confirmed")
            return
        if message.patient_id is None:
            return
        ward_id = await session.scalar(
            select(Patient.ward_id).where(Patient.id == message.patient_id)
        )
        if ward_id is None:
            return
        await raise_escalation(
            session,
            patient_id=message.patient_id,
            ward_id=ward_id,
            reason="undeliverable",
            severity="routine",
            source_type="sms_outbox",
            source_id=message.id,
            now=now,
            note="Delivery of a text could not be confirmed; it was not sent again.",
            actor=SMS_ACTOR,
        )

    async def not_accepted(
        self, session: AsyncSession, message: OutboxMessage, outcome: str, now: datetime
    ) -> None:
        # A staff alert must not wait out a Twilio outage: the email goes now. A patient's
        # text is left to the outbox (retried, or reconciled later).
        await back_up_text(session, message, now)

    async def daily_cap_reached(
        self, session: AsyncSession, patient_id: uuid.UUID, ward_id: uuid.UUID | None, now: datetime
    ) -> None:
        if ward_id is None:
            ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == patient_id))
        if ward_id is None:
            return
        await raise_escalation(
            session,
            patient_id=patient_id,
            ward_id=ward_id,
            reason="undeliverable",
            severity="routine",
            source_type="sms_daily_cap",
            # One per patient per UTC day, however many messages the cap holds back.
            source_id=f"{patient_id}:{now.date().isoformat()}",
            now=now,
            note="Daily SMS limit for this patient reached; further messages today were held back.",
        )

    async def hourly_cap_reached(self, session: AsyncSession, now: datetime) -> None:
        await alert_sms_paused(session, now)


async def _page_not_delivered(
    session: AsyncSession, message: OutboxMessage, now: datetime, why: str
) -> None:
    """A staff page or carer notice will not arrive by text: noted on its escalation, and a
    staff member's page goes by email instead (back_up_text says no for anyone else)."""
    await note_not_delivered(session, message, now, why)
    await back_up_text(session, message, now)


class StaffEmailHooks:
    """The domain's side of service.email.hooks.EmailHooks: an email page that will not
    arrive is noted on its escalation like a text; the ladder climbs regardless."""

    async def failed(self, session: AsyncSession, email: StaffEmail, now: datetime) -> None:
        await note_not_delivered(session, email, now, email.status_reason or "refused")

    async def unconfirmed(self, session: AsyncSession, email: StaffEmail, now: datetime) -> None:
        await note_not_delivered(session, email, now, "delivery could not be confirmed")


def _undeliverable_note(error_code: int | None) -> str:
    if error_code in UNDELIVERABLE_NUMBER_CODES:
        return (
            f"The carrier refused the patient's number (Twilio error {error_code}); "
            "check the mobile number on record."
        )
    if error_code:
        return f"A text to the patient could not be delivered (Twilio error {error_code})."
    return "A text to the patient could not be delivered."


# The one instance the app, the worker and the CLI wire into their SMS channel.
DELIVERY_HOOKS = DeliveryHooks()
# And into their email channel.
STAFF_EMAIL_HOOKS = StaffEmailHooks()
