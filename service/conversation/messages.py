"""The SMS conversation with a patient: both directions, newest first, its open question, and
staff's own texts.

A text from the ward is queued through the outbox, never sent inside the request, and goes
through the same checks as every patient text: the texting rule when it is queued (refused
with 409) and again when it is sent, with the contact window (a message written at night
waits for the patient's window to open: staff write when they are on shift, not when the
patient wants texts) and the discreet-mode check (the words are marked as fit for a shared
phone or not, so a text written before discreet mode came on is withdrawn, not sent).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Uuid,
    and_,
    case,
    cast,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import InboundMessage, OutboxMessage
from service.conversation import questions
from service.conversation.schemas import (
    ConversationOut,
    MessageOut,
    MessageTemplateUsed,
    OpenQuestionOut,
    WaitingQuestionOut,
)
from service.discreet import is_discreet_safe
from service.errors import InvalidInput
from service.message_templates.service import wording
from service.pagination import decode_cursor, encode_cursor
from service.patient_access.staff import patient_for_staff, patient_for_staff_deferred
from service.patient_access.texting import require_textable
from service.principal import Principal
from service.sms import outbox

WARD_MESSAGE = "ward_message"
# Four SMS segments of the GSM alphabet (153 characters each once concatenated).
MAX_BODY_CHARS = 612


async def list_messages(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[MessageOut], str | None]:
    await patient_for_staff(session, caller, patient_id, action="sms.list", now=now)
    outbound = select(
        OutboxMessage.id.label("id"),
        literal("outbound").label("direction"),
        OutboxMessage.created_at.label("at"),
        OutboxMessage.body.label("body"),
        OutboxMessage.status.label("status"),
        OutboxMessage.purpose.label("purpose"),
        OutboxMessage.check_in_id.label("check_in_id"),
        OutboxMessage.sent_at.label("sent_at"),
        OutboxMessage.error_code.label("error_code"),
        cast(null(), String).label("kind"),
        cast(null(), Integer).label("score"),
        literal("ward").label("sender"),
        OutboxMessage.sent_by.label("sent_by"),
        OutboxMessage.template_purpose.label("template_purpose"),
        OutboxMessage.template_language.label("template_language"),
        OutboxMessage.template_source.label("template_source"),
        OutboxMessage.template_version.label("template_version"),
    ).where(OutboxMessage.patient_id == patient_id, OutboxMessage.recipient_kind == "patient")
    inbound = select(
        InboundMessage.id,
        literal("inbound"),
        InboundMessage.received_at,
        InboundMessage.body,
        literal("received"),
        cast(null(), String),
        InboundMessage.check_in_id,
        cast(null(), DateTime(timezone=True)),
        cast(null(), Integer),
        InboundMessage.kind,
        InboundMessage.score,
        case((InboundMessage.from_carer, "carer"), else_="patient"),
        cast(null(), Uuid),
        cast(null(), String),
        cast(null(), String),
        cast(null(), String),
        cast(null(), Integer),
    ).where(InboundMessage.patient_id == patient_id)
    both = union_all(outbound, inbound).subquery()
    query: Any = select(both)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(
            or_(both.c.at < after.at, and_(both.c.at == after.at, both.c.id < after.id))
        )
    query = query.order_by(both.c.at.desc(), both.c.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    items = [
        MessageOut(
            id=r.id,
            direction=r.direction,
            at=r.at,
            body=r.body,
            status=r.status,
            purpose=r.purpose,
            check_in_id=r.check_in_id,
            sent_at=r.sent_at,
            error_code=r.error_code,
            kind=r.kind,
            score=r.score,
            sender=r.sender,
            sent_by=r.sent_by,
            template=_template(
                r.template_purpose, r.template_language, r.template_source, r.template_version
            ),
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].at, items[-1].id) if len(rows) > limit else None
    return items, next_cursor


async def read_conversation(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> ConversationOut:
    await patient_for_staff(session, caller, patient_id, action="conversation.read", now=now)
    state = await questions.conversation(session, patient_id, now)
    current = state.open_question
    return ConversationOut(
        open_question=None
        if current is None
        else OpenQuestionOut(
            kind=current.kind,
            id=current.id,
            asked_at=current.asked_at,
            reply_due_at=current.reply_due_at,
            item_key=current.item_key,
        ),
        waiting=[WaitingQuestionOut(kind=w.kind, id=w.id, due_at=w.due_at) for w in state.waiting],
    )


def _clean_body(body: str) -> str:
    if "\x00" in body:
        raise InvalidInput.field("body", "must not contain NUL characters")
    cleaned = body.strip()
    if not cleaned:
        raise InvalidInput.field("body", "must not be empty")
    if len(cleaned) > MAX_BODY_CHARS:
        raise InvalidInput.field("body", f"must be at most {MAX_BODY_CHARS} characters")
    return cleaned


def _dedupe_key(patient_id: uuid.UUID, caller: Principal, idempotency_key: str | None) -> str:
    """A retried request (same caller, same Idempotency-Key) is one text even when the first
    attempt committed but its answer was never stored; without a key, every request is new."""
    if idempotency_key is None:
        return f"{WARD_MESSAGE}:{uuid.uuid4()}"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"{WARD_MESSAGE}:{patient_id}:{caller.user_id}:{digest}"


def _message_out(row: OutboxMessage) -> MessageOut:
    return MessageOut(
        id=row.id,
        direction="outbound",
        at=row.created_at,
        body=row.body,
        status=row.status,
        purpose=row.purpose,
        check_in_id=row.check_in_id,
        sent_at=row.sent_at,
        error_code=row.error_code,
        kind=None,
        score=None,
        sender="ward",
        sent_by=row.sent_by,
        template=_template(
            row.template_purpose, row.template_language, row.template_source, row.template_version
        ),
    )


def _template(
    purpose: str | None, language: str | None, source: str | None, version: int | None
) -> MessageTemplateUsed | None:
    if purpose is None or language is None or source is None or version is None:
        return None
    return MessageTemplateUsed(purpose=purpose, language=language, source=source, version=version)


async def send_message(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    body: str,
    now: datetime,
    *,
    idempotency_key: str | None,
) -> MessageOut:
    """Queue a text from the ward to the patient; the outbox sweep sends it."""
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="sms.send", now=now, object_type="sms_outbox"
    )
    text = _clean_body(body)
    # The staff member's words, sent as written inside the ward's signature template.
    signed = await wording(
        session,
        patient.ward_id,
        patient.language,
        "staff.signature.discreet" if patient.discreet_messages else "staff.signature",
        {"message": text},
    )
    fit_for_discreet = is_discreet_safe(signed.body)
    if patient.discreet_messages and not fit_for_discreet:
        raise InvalidInput.field(
            "body",
            "must not name health services or care (the patient has discreet messages on)",
        )
    await require_textable(session, patient)
    assert patient.mobile is not None  # the texting rule refuses a patient without one
    key = _dedupe_key(patient.id, caller, idempotency_key)
    await outbox.enqueue(
        session,
        dedupe_key=key,
        to_number=patient.mobile,
        body=signed.body,
        template=signed.ref,
        purpose=WARD_MESSAGE,
        now=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        fit_for_discreet=fit_for_discreet,
    )
    row = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    assert row is not None
    row.sent_by = caller.user_id  # the key names the caller: a replay is the same writer
    # Never the words themselves: the audit log is read more widely than the conversation.
    event.object_id = str(row.id)
    event.detail = {"purpose": WARD_MESSAGE, "chars": len(row.body)}
    session.add(event)
    return _message_out(row)
