"""Who is told about an escalation at each level, and the texts they get.

Level 1 is the patient's key worker, level 2 the ward's managers and on-call number, level 3
the crisis contact. A level with nobody reachable passes its notice up to the next level that
has someone, or, at the top, back to the nearest level below, so an escalation is never
announced to no one while the ward has anyone to text. Texts go through the outbox, keyed
by escalation, level and deadline: a retried sweep cannot text anyone twice for one step.
Texts name no patient: only a short reference that the ward board shows too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, OutboxMessage, Patient, User, Ward
from service.feedback.service import carer_notice
from service.sms import outbox

TOP_LEVEL = 3


@dataclass(frozen=True)
class Recipient:
    number: str
    user_id: uuid.UUID | None  # None for the ward's on-call or crisis line


def patient_ref(patient_id: uuid.UUID) -> str:
    """The short reference staff texts and the board use instead of a name."""
    return str(patient_id)[:8]


async def _key_worker(session: AsyncSession, patient_id: uuid.UUID) -> list[Recipient]:
    row = (
        await session.execute(
            select(User.id, User.mobile)
            .join(Patient, Patient.key_worker_id == User.id)
            .where(Patient.id == patient_id, User.active, User.mobile.is_not(None))
        )
    ).first()
    return [Recipient(row.mobile, row.id)] if row is not None else []


async def _managers_and_on_call(session: AsyncSession, ward: Ward) -> list[Recipient]:
    rows = await session.execute(
        select(User.id, User.mobile)
        .where(
            User.ward_id == ward.id,
            User.role == "ward_manager",
            User.active,
            User.mobile.is_not(None),
        )
        .order_by(User.id)
    )
    found = [Recipient(r.mobile, r.id) for r in rows]
    on_call = (ward.escalation_policy or {}).get("on_call_phone")
    if on_call and on_call not in {r.number for r in found}:
        found.append(Recipient(on_call, None))
    return found


def _crisis_line(ward: Ward) -> list[Recipient]:
    crisis = (ward.escalation_policy or {}).get("crisis_phone")
    return [Recipient(crisis, None)] if crisis else []


async def _at_level(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID | None, level: int
) -> list[Recipient]:
    if level == 1:
        # The key worker belongs to a patient; ward-wide alerts have none.
        return await _key_worker(session, patient_id) if patient_id else []
    if level == 2:
        return await _managers_and_on_call(session, ward)
    return _crisis_line(ward)


async def recipients_at(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID | None, level: int
) -> tuple[int, list[Recipient]]:
    """Who to text for `level`, and the level they stand at: the first level from `level` up
    with someone, else the nearest level below (told again rather than nobody); (level, [])
    only when the ward has nobody at all."""
    for at in [*range(level, TOP_LEVEL + 1), *range(level - 1, 0, -1)]:
        found = await _at_level(session, ward, patient_id, at)
        if found:
            return at, found
    return level, []


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
) -> int:
    """Queue one text per recipient under `key`; returns how many were newly queued."""
    queued = 0
    for recipient in recipients:
        who = recipient.user_id or recipient.number
        outbox_id = await outbox.enqueue(
            session,
            dedupe_key=f"{key}:{who}",
            to_number=recipient.number,
            body=body,
            purpose=purpose,
            now=now,
            recipient_kind="staff",
            patient_id=patient_id,
            ward_id=ward_id,
            user_id=recipient.user_id,
        )
        queued += outbox_id is not None
    return queued


def escalation_text(escalation: Escalation) -> str:
    return (
        f"Homeward: {escalation.severity} escalation for patient ref "
        f"{patient_ref(escalation.patient_id)}, see the ward board."
    )


async def announce(session: AsyncSession, escalation: Escalation, now: datetime) -> str:
    """Text the people at the escalation's current level; returns a note for its history.

    With nobody to text at that level the escalation itself moves up to the level that was
    told, with that level's deadline, so the next climb texts new people, not the same ones.
    An urgent escalation at level 2 or above also tells the consenting carer (once).
    """
    # Imported here: the escalations service imports this module when raising.
    from service.escalations.service import LADDER_ACTOR, ack_minutes, history_event

    ward = await session.get(Ward, escalation.ward_id)
    if ward is None:
        return "ward not found; nobody could be texted"
    asked_level = escalation.level
    told_level, recipients = await recipients_at(session, ward, escalation.patient_id, asked_level)
    if not recipients:
        return f"nobody reachable at level {asked_level} or above; see the ward board"
    if told_level > asked_level:
        escalation.level = told_level
        escalation.ack_due_at = now + timedelta(
            minutes=ack_minutes(ward.escalation_policy, escalation.severity, told_level)
        )
        escalation.updated_at = now
    queued = await text_staff(
        session,
        recipients,
        # The deadline being announced makes each step of the ladder its own notice.
        key=f"escalation:{escalation.id}:L{escalation.level}:{escalation.ack_due_at.isoformat()}",
        body=escalation_text(escalation),
        purpose="escalation_notice",
        now=now,
        patient_id=escalation.patient_id,
        ward_id=escalation.ward_id,
    )
    if await carer_notice(session, escalation, now) is not None:
        session.add(
            history_event(
                escalation,
                "carer_notified",
                now,
                LADDER_ACTOR,
                from_status="open",
                note="the nominated carer was asked to contact the ward",
            )
        )
    passed = ""
    if told_level > asked_level:
        passed = f" (nobody reachable at level {asked_level}; passed to level {told_level})"
    elif told_level < asked_level:
        passed = f" (nobody reachable at level {asked_level} or above; level {told_level} again)"
    return f"texted {queued} of {len(recipients)} at level {told_level}{passed}"


SMS_PAUSED_TEXT = (
    "Homeward: the hourly SMS limit was reached; texts to patients are paused until it "
    "clears. Check-ins may go unanswered meanwhile, see the ward board."
)


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
        _, recipients = await recipients_at(session, ward, None, 2)
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


async def notice_not_delivered(
    session: AsyncSession, message: OutboxMessage, now: datetime, why: str
) -> None:
    """A text about an escalation (to staff, or the carer notice) failed or could not be
    confirmed: say so in the escalation's history, so the board and the API show who was not
    reached. The ladder needs no help: unacknowledged, it climbs at its deadline anyway."""
    # Imported here: the escalations service imports this module when raising.
    from service.escalations.service import LADDER_ACTOR, history_event

    prefix, _, rest = message.dedupe_key.partition(":")
    if prefix != "escalation":
        return
    escalation_ref, _, step = rest.partition(":")
    try:
        escalation_id = uuid.UUID(escalation_ref)
    except ValueError:
        return
    escalation = await session.get(Escalation, escalation_id)
    if escalation is None:
        return
    if message.recipient_kind == "carer":
        who = "the nominated carer"
    elif message.user_id:
        who = "a staff member"
    else:
        who = "the ward's on-call or crisis line"
    # Keys of staff notices go on "L<level>:<deadline>:<recipient>" after the id.
    level = step[1:].split(":", 1)[0] if step.startswith("L") else ""
    at_level = f" at level {level}" if level.isdigit() else ""
    session.add(
        history_event(
            escalation,
            "notice_not_delivered",
            now,
            LADDER_ACTOR,
            from_status=escalation.status,
            note=f"The text to {who}{at_level} was not delivered ({why}).",
        )
    )
