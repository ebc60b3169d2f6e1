"""The SMS conversation with a patient: both directions, newest first, and its open question."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, and_, cast, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import InboundMessage, OutboxMessage
from service.conversation import questions
from service.conversation.schemas import (
    ConversationOut,
    MessageOut,
    OpenQuestionOut,
    WaitingQuestionOut,
)
from service.pagination import decode_cursor, encode_cursor
from service.patient_access.staff import patient_for_staff
from service.principal import Principal


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
