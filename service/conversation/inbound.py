"""Inbound texts and delivery reports, after the webhook has checked Twilio's signature.

Bodies are patient data: they are stored for staff and never logged.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import Carer, InboundMessage, OutboxMessage, Patient, Ward
from service import audit
from service.checkins import lifecycle
from service.conversation import channel, questions, unmatched
from service.discreet import is_discreet_safe
from service.escalations.service import raise_escalation
from service.interpretation.meaning import Interpretation, interpret
from service.message_templates.service import Wording, keywords_for, wording
from service.proms import service as proms
from service.replies import service as replies
from service.risk import suicide_risk_recorded
from service.sms import outbox
from service.wards.service import crisis_reply

log = logging.getLogger("homeward.conversation.inbound")

MAX_BODY_CHARS = 1600
LOW_SCORES = (1, 2)


@dataclass(frozen=True)
class Replayed:
    """A text kept while the database was down (service.conversation.spool), handled now.
    Its TwiML answer went long ago: `answered` is what it was (None: nothing), so that is
    what the conversation records, and no other answer is recorded as sent."""

    answered: str | None


@dataclass(frozen=True)
class InboundResult:
    """What to answer Twilio with: a reply text for TwiML, or nothing."""

    reply: str | None = None
    duplicate: bool = False
    known_sender: bool = False


def e164(raw: str) -> str | None:
    raw = raw.strip()
    try:
        parsed = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def match_sender(session: AsyncSession, number: str) -> Patient | None:
    """The patient this number belongs to. A shared number goes to the patient we last texted."""
    last_outbound = (
        select(func.max(OutboxMessage.created_at))
        .where(
            OutboxMessage.patient_id == Patient.id,
            OutboxMessage.to_number == number,
            OutboxMessage.recipient_kind == "patient",
        )
        .correlate(Patient)
        .scalar_subquery()
    )
    result: Patient | None = await session.scalar(
        select(Patient)
        .where(Patient.mobile == number)
        .order_by(
            case((Patient.status == "closed", 1), else_=0),
            last_outbound.desc().nulls_last(),
            Patient.updated_at.desc(),
            Patient.id,
        )
        .limit(1)
    )
    return result


def clean(value: str) -> str:
    """Text as PostgreSQL will store it: no NUL (text columns refuse it) and no lone
    surrogates (they cannot be encoded), each dropped or replaced rather than failing."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


async def match_carer(session: AsyncSession, number: str) -> Carer | None:
    """The nominated carer this number belongs to, asked before any patient: a carer's text is
    never a patient's answer. Only when we have since texted a patient who has this number
    (a shared phone) is the text left to patient matching."""
    carer_last = (
        select(func.max(OutboxMessage.created_at))
        .where(
            OutboxMessage.patient_id == Carer.patient_id,
            OutboxMessage.to_number == number,
            OutboxMessage.recipient_kind == "carer",
        )
        .correlate(Carer)
        .scalar_subquery()
    )
    patient_last = (
        select(func.max(OutboxMessage.created_at))
        .join(Patient, Patient.id == OutboxMessage.patient_id)
        .where(
            Patient.mobile == number,
            OutboxMessage.to_number == number,
            OutboxMessage.recipient_kind == "patient",
        )
        .scalar_subquery()
    )
    result: Carer | None = await session.scalar(
        select(Carer)
        .where(
            Carer.mobile == number,
            or_(patient_last.is_(None), and_(carer_last.is_not(None), carer_last >= patient_last)),
        )
        .order_by(carer_last.desc().nulls_last(), Carer.updated_at.desc(), Carer.patient_id)
        .limit(1)
    )
    return result


async def handle_inbound(
    session: AsyncSession,
    *,
    message_sid: str,
    from_number: str,
    to_number: str | None,
    body: str,
    now: datetime,
    received_at: datetime | None = None,
    replayed: Replayed | None = None,
) -> InboundResult:
    """Match, store and act on one inbound text. `received_at` is when Twilio handed it to
    us, if earlier than `now` (a replayed text); effects and their deadlines run from `now`."""
    message_sid = clean(message_sid)
    from_number = clean(from_number)
    to_number = clean(to_number) if to_number is not None else None
    # Twilio joins a long text into one body of at most 1,600 characters; anything longer
    # is not from Twilio's SMS and is cut there.
    text = clean(body)[:MAX_BODY_CHARS]
    number = e164(from_number)
    carer = await match_carer(session, number) if number else None
    if carer is not None:
        patient = await session.get(Patient, carer.patient_id)
    else:
        patient = await match_sender(session, number) if number else None
    if patient is None:
        # Kept for admins; answered only with the crisis routes (service.conversation.unmatched).
        log.info("inbound sms from an unknown sender")
        reply = await unmatched.keep(
            session, message_sid=message_sid, from_number=number or from_number, body=text, now=now
        )
        return InboundResult(reply=reply)
    assert number is not None
    # Read in the patient's language too (the ward's keyword lists), English always.
    meaning = interpret(text, await keywords_for(session, patient.ward_id, patient.language))
    kind = meaning.kind
    opted_out = carer.sms_opted_out if carer is not None else patient.sms_opted_out
    if kind == "start" and not opted_out:
        # Not an opt-in (they never left): "yes" is an answer, "start" is noted.
        kind = "ok" if meaning.word == "yes" else "start"
    inbound_id = new_id()
    inserted = await session.scalar(
        insert(InboundMessage)
        .values(
            id=inbound_id,
            message_sid=message_sid,
            patient_id=patient.id,
            ward_id=patient.ward_id,
            from_number=number,
            to_number=to_number,
            body=text,
            kind=kind,
            score=meaning.score,
            received_at=received_at or now,
            from_carer=carer is not None,
        )
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(InboundMessage.id)
    )
    ward = await session.get(Ward, patient.ward_id)
    assert ward is not None
    if inserted is None:
        # Twilio retried a delivery we already processed: same answer, no second effect.
        earlier = (
            await session.execute(
                select(InboundMessage.kind, InboundMessage.from_carer).where(
                    InboundMessage.message_sid == message_sid
                )
            )
        ).one()
        again = await _answer_for(session, earlier.kind, earlier.from_carer, patient, ward)
        return InboundResult(reply=again.body if again else None, duplicate=True, known_sender=True)

    audit.record(
        session,
        channel.SMS_ACTOR,
        "sms.inbound",
        at=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        object_type="sms_inbound",
        object_id=inbound_id,
        detail={"kind": kind, "from_carer": carer is not None},
    )
    if carer is not None:
        reply = await _act_for_carer(
            session, carer, patient, ward, number, inbound_id, kind, now, replayed
        )
    else:
        reply = await _act(
            session, patient, ward, number, inbound_id, kind, meaning, text, now, replayed
        )
    return InboundResult(reply=reply, known_sender=True)


async def _act_for_carer(
    session: AsyncSession,
    carer: Carer,
    patient: Patient,
    ward: Ward,
    number: str,
    inbound_id: uuid.UUID,
    kind: str,
    now: datetime,
    replayed: Replayed | None,
) -> str | None:
    """A carer's STOP and START govern carer notices only; a crisis text is the urgent
    `help_request` with the crisis reply; anything else is a reply for staff to read."""
    if kind in ("stop", "start"):
        carer.sms_opted_out = kind == "stop"
        carer.sms_opted_out_at = now if kind == "stop" else None
        carer.updated_at = now
        audit.record(
            session,
            channel.SMS_ACTOR,
            "carer.sms_opt_out" if kind == "stop" else "carer.sms_opt_in",
            at=now,
            patient_id=patient.id,
            ward_id=patient.ward_id,
            object_type="carer",
            object_id=patient.id,
        )
        return None
    if kind == "help":
        return await _crisis(session, patient, ward, number, inbound_id, now, "The carer", replayed)
    await replies.hold(
        session,
        inbound_id=inbound_id,
        patient=patient,
        ward=ward,
        received_at=now,
        from_carer=True,
        low_score=False,
    )
    return None


async def _crisis(
    session: AsyncSession,
    patient: Patient,
    ward: Ward,
    number: str,
    inbound_id: uuid.UUID,
    now: datetime,
    who: str,
    replayed: Replayed | None,
) -> str | None:
    """The urgent `help_request` and the ward's crisis message as the reply to `number`."""
    await raise_escalation(
        session,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason="help_request",
        severity="urgent",
        source_type="sms_inbound",
        source_id=inbound_id,
        now=now,
        note=f"{who} asked for help by text.",
        actor=channel.SMS_ACTOR,
    )
    return await _answer(session, patient, ward, number, inbound_id, "crisis_reply", now, replayed)


async def _answer_for(
    session: AsyncSession, kind: str, from_carer: bool, patient: Patient, ward: Ward
) -> Wording | None:
    """The TwiML answer to a text of this kind: the crisis reply to HELP (the patient's or
    their carer's), the confirmation to a patient's STOP or START; in discreet words when
    the patient has discreet messages on, in the patient's language. Twilio's retry of a
    text gets the same answer."""
    if kind == "help":
        discreet = patient.discreet_messages
        # The template words the reply; every number in the ward's routes is always in it
        # (`crisis_routes` is a required placeholder: service.message_templates).
        return await wording(
            session,
            ward.id,
            patient.language,
            "crisis.reply.discreet" if discreet else "crisis.reply",
            {"crisis_routes": crisis_reply(ward, discreet=discreet)},
        )
    if from_carer:
        return None
    if kind == "stop":
        return await channel.confirmation(session, channel.OPT_OUT_CONFIRMATION, patient)
    if kind == "start":
        return await channel.confirmation(session, channel.OPT_IN_CONFIRMATION, patient)
    return None


_ANSWER_KINDS = {
    "crisis_reply": "help",
    channel.OPT_OUT_CONFIRMATION: "stop",
    channel.OPT_IN_CONFIRMATION: "start",
}


async def _answer(
    session: AsyncSession,
    patient: Patient,
    ward: Ward,
    number: str,
    inbound_id: uuid.UUID,
    purpose: str,
    now: datetime,
    replayed: Replayed | None,
) -> str | None:
    """The answer for TwiML, kept in the outbox with whether its words suit a shared phone.
    For a replayed text, the answer it was given at the time, if any."""
    template = None
    if replayed is None:
        answer = await _answer_for(session, _ANSWER_KINDS[purpose], False, patient, ward)
        reply = answer.body if answer is not None else None
        template = answer.ref if answer is not None else None
    else:
        reply = replayed.answered
    if reply is None:
        return None
    await outbox.record_twiml_reply(
        session,
        dedupe_key=f"inbound:{inbound_id}:{purpose}",
        to_number=number,
        body=reply,
        purpose=purpose,
        now=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        fit_for_discreet=is_discreet_safe(reply),
        template=template,
    )
    return reply


async def _act(
    session: AsyncSession,
    patient: Patient,
    ward: Ward,
    number: str,
    inbound_id: uuid.UUID,
    kind: str,
    meaning: Interpretation,
    text: str,
    now: datetime,
    replayed: Replayed | None,
) -> str | None:
    if kind == "stop":
        await channel.opt_out(
            session, patient.id, now, source_type="sms_inbound", source_id=inbound_id
        )
        return await _answer(
            session, patient, ward, number, inbound_id, channel.OPT_OUT_CONFIRMATION, now, replayed
        )
    if kind == "start":
        await channel.opt_in(session, patient.id, now)
        return await _answer(
            session, patient, ward, number, inbound_id, channel.OPT_IN_CONFIRMATION, now, replayed
        )
    # Before any question takes the text as its answer: whatever else it does, a text only a
    # person can understand is read by one.
    if replies.needs_reading(kind, text):
        await replies.hold(
            session,
            inbound_id=inbound_id,
            patient=patient,
            ward=ward,
            received_at=now,
            from_carer=False,
            low_score=meaning.score in LOW_SCORES,
        )
    # The reply answers the one open question (questions.open_question: an open check-in
    # outranks a survey item). HELP is never a survey answer; it always reaches staff.
    question = await questions.open_question(session, patient.id)
    survey = question.survey if question is not None else None
    if (
        survey is not None
        and kind != "help"
        and await proms.record_reply(session, survey, text, now)
    ):
        await questions.after_answer(session, patient.id, now)
        return None
    check_in = question.check_in if question is not None else None
    if check_in is not None:
        lifecycle.answer(check_in, now, score=meaning.score, reply=text)
        await session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(check_in_id=check_in.id)
        )
        await questions.after_answer(session, patient.id, now)

    reply: str | None = None
    if kind == "help":
        reply = await _crisis(
            session, patient, ward, number, inbound_id, now, "The patient", replayed
        )
    if meaning.score in LOW_SCORES:
        # A 2 is routine unless suicide risk is recorded: then any low score is urgent.
        urgent = meaning.score == 1 or await suicide_risk_recorded(session, patient.id)
        await raise_escalation(
            session,
            patient_id=patient.id,
            ward_id=patient.ward_id,
            reason="low_score",
            severity="urgent" if urgent else "routine",
            source_type="sms_inbound",
            source_id=inbound_id,
            now=now,
            note=f"The patient replied with a score of {meaning.score} out of 5.",
            actor=channel.SMS_ACTOR,
        )
    return reply
