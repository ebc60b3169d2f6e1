"""The texts that page staff and the carer notice, queued through the outbox.

Keys make each page happen once: an escalation's page is keyed by escalation, level and
deadline, so a retried sweep cannot text anyone twice for one step. Texts name no patient
and no clinical detail: an escalation's page says its reason, severity and level, its short
reference (service.refs, shown and found on the ward board) and a link to find it there.

Each page also goes by email (service.paging.email) to a staff member without a mobile, and
to everyone when the ward's policy asks for both channels; a text that fails later is
backed up by email from the delivery hooks.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Carer, Escalation, OutboxMessage, Patient, Ward
from service import audit
from service.feedback.service import consent_in_force
from service.message_templates.service import wording
from service.paging.channels import staff_channels
from service.paging.email import email_staff, email_subject, emails_both_channels
from service.paging.recipients import Recipient, recipients_at
from service.phones import for_reading
from service.principal import SystemActor
from service.refs import escalation_ref
from service.sms import outbox

CARER_ACTOR = SystemActor("carer_notice")
CARER_NOTICE_PURPOSE = "carer_notice"
# Worded by the ward's `carer.notice` template (service.message_templates), in the patient's
# language (the carer's own is not recorded; a carer is most often family). For a patient
# with discreet messages on, `carer.notice.discreet`: no ward, no service, nothing clinical.
SMS_PAUSED_TEXT = (
    "Homeward: the hourly SMS limit was reached; texts to patients are paused until it "
    "clears. Check-ins may go unanswered meanwhile, see the ward board."
)


def patient_ref(patient_id: uuid.UUID) -> str:
    """The short reference staff texts and the board use instead of a name."""
    return str(patient_id)[:8]


async def text_staff(
    session: AsyncSession,
    recipients: list[Recipient],
    *,
    key: str,
    body: str,
    purpose: str,
    now: datetime,
    patient_id: uuid.UUID | None,
    ward_id: uuid.UUID,
    escalation: Escalation | None = None,
) -> int:
    """Queue one text per recipient under `key` (an email instead for a staff member without
    a mobile, and as well when the ward wants both); returns how many recipients had
    something newly queued."""
    queued = 0
    both = await emails_both_channels(session, ward_id)
    for recipient in recipients:
        key_for = f"{key}:{recipient.user_id or recipient.number}"
        texted: uuid.UUID | None = None
        if recipient.number is not None:
            texted = await outbox.enqueue(
                session,
                dedupe_key=key_for,
                to_number=recipient.number,
                body=body,
                purpose=purpose,
                now=now,
                recipient_kind="staff",
                patient_id=patient_id,
                ward_id=ward_id,
                user_id=recipient.user_id,
                escalation_id=escalation.id if escalation else None,
                escalation_level=escalation.level if escalation else None,
            )
        emailed: uuid.UUID | None = None
        if recipient.user_id is not None and (recipient.number is None or both):
            emailed = await email_staff(
                session,
                recipient,
                text_key=key_for,
                subject=email_subject(escalation.id if escalation else None),
                body=body,
                purpose=purpose,
                reason="no_mobile" if recipient.number is None else "both_channels",
                now=now,
                ward_id=ward_id,
                escalation_id=escalation.id if escalation else None,
                escalation_level=escalation.level if escalation else None,
            )
        queued += texted is not None or emailed is not None
    return queued


def board_search_link(ref: str) -> str:
    return f"{staff_channels().board_url}/search?q={ref}"


def escalation_text(escalation: Escalation) -> str:
    """What the page says: enough to act on, nothing that identifies the patient or their
    condition (the reason is the ladder's own word for why, e.g. "no reply")."""
    ref = escalation_ref(escalation.id)
    reason = escalation.reason.replace("_", " ")
    return (
        f"Homeward: {escalation.severity} escalation {ref}, level {escalation.level}: "
        f"{reason}. Ward board: {board_search_link(ref)}"
    )


async def page_escalation(
    session: AsyncSession, escalation: Escalation, recipients: list[Recipient], now: datetime
) -> int:
    """Text the escalation's current level; returns how many texts were newly queued."""
    return await text_staff(
        session,
        recipients,
        # The deadline being announced makes each step of the ladder its own page.
        key=f"escalation:{escalation.id}:L{escalation.level}:{escalation.ack_due_at.isoformat()}",
        body=escalation_text(escalation),
        purpose="escalation_notice",
        now=now,
        patient_id=escalation.patient_id,
        ward_id=escalation.ward_id,
        escalation=escalation,
    )


async def carer_notice(
    session: AsyncSession, escalation: Escalation, now: datetime, *, reworded: bool = False
) -> uuid.UUID | None:
    """Queue one text to the patient's carer when an urgent escalation has reached level 2
    and the carer's consent is in force. No patient details; when the patient has discreet
    messages on, no ward name either (the carer's phone may be read by the patient or by
    others). Idempotent per escalation (dedupe key; `reworded` for the one queued again
    after the send step withdrew the first for its words); returns the outbox id, or None
    when nothing was queued (not urgent, below level 2, no carer, no consent, no number,
    the carer texted STOP, already sent)."""
    if escalation.severity != "urgent" or escalation.level < 2 or escalation.status == "resolved":
        return None
    carer = await session.get(Carer, escalation.patient_id)
    if carer is None or carer.mobile is None or not consent_in_force(carer, now):
        return None
    if carer.sms_opted_out:
        # The carer texted STOP: consent may stand, but they asked for no more texts.
        return None
    ward = await session.get(Ward, escalation.ward_id)
    if ward is None:
        return None
    phone = (ward.escalation_policy or {}).get("on_call_phone")
    if not phone:
        return None
    patient = await session.get(Patient, escalation.patient_id)
    discreet = patient is not None and patient.discreet_messages
    language = patient.language if patient is not None else None
    if discreet:
        words = await wording(
            session, ward.id, language, "carer.notice.discreet", {"phone": for_reading(phone)}
        )
    else:
        words = await wording(
            session, ward.id, language, "carer.notice", {"ward": ward.name, "phone": phone}
        )
    queued = await outbox.enqueue(
        session,
        dedupe_key=f"escalation:{escalation.id}:carer_notice" + (":reworded" if reworded else ""),
        to_number=carer.mobile,
        body=words.body,
        template=words.ref,
        purpose=CARER_NOTICE_PURPOSE,
        now=now,
        recipient_kind="carer",
        patient_id=escalation.patient_id,
        ward_id=escalation.ward_id,
        escalation_id=escalation.id,
        escalation_level=escalation.level,
        fit_for_discreet=discreet,
    )
    if queued is not None:
        audit.record(
            session,
            CARER_ACTOR,
            "carer.notified",
            at=now,
            patient_id=escalation.patient_id,
            ward_id=escalation.ward_id,
            object_type="escalation",
            object_id=escalation.id,
        )
    return queued


async def alert_sms_paused(session: AsyncSession, now: datetime) -> int:
    """The global hourly cap is holding texts back: tell the managers and on-call line of each
    ward with held texts, once per ward per hour. Returns how many texts were queued."""
    held = (
        select(OutboxMessage.ward_id)
        .where(
            OutboxMessage.status == "queued",
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.recipient_kind != "staff",
            OutboxMessage.ward_id.is_not(None),
        )
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1000)
        .subquery()
    )
    wards = await session.scalars(select(Ward).where(Ward.id.in_(select(held.c.ward_id))))
    queued = 0
    for ward in wards:
        _, recipients = await recipients_at(session, ward, None, 2, now)
        queued += await text_staff(
            session,
            recipients,
            key=f"sms_hourly_cap:{ward.id}:{now:%Y-%m-%dT%H}",
            body=SMS_PAUSED_TEXT,
            purpose="sms_paused_alert",
            now=now,
            patient_id=None,
            ward_id=ward.id,
        )
    return queued
