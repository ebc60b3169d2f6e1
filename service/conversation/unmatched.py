"""Texts from numbers that are no patient's: kept for admins, answered only in a crisis.

A stranger, a wrong number, a patient texting from a new phone: nobody can tell which from
here, so nothing about any patient or ward goes back, and the text is matched to no one.
HELP or crisis language is answered with the national crisis routes, which are safe to send
to anybody; anything else gets no answer, since the sender may not be who we think and a
reply would confirm that this number reaches a mental-health ward.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import UnmatchedInbound
from service import audit
from service.conversation import channel
from service.conversation.schemas import UnmatchedTextOut
from service.interpretation.meaning import interpret
from service.pagination import decode_cursor, page_after, split_page
from service.principal import Principal
from service.standards import CRISIS_ROUTES


async def keep(
    session: AsyncSession, *, message_sid: str, from_number: str, body: str, now: datetime
) -> str | None:
    """Store the text (once per MessageSid) and return the reply to send, if any."""
    kind = interpret(body).kind
    crisis = kind == "help"
    row_id = new_id()
    inserted = await session.scalar(
        insert(UnmatchedInbound)
        .values(
            id=row_id,
            message_sid=message_sid,
            from_number=from_number[:32],
            body=body,
            kind=kind,
            crisis_routes_sent=crisis,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(UnmatchedInbound.id)
    )
    if inserted is None:
        # Twilio retried: the same answer as the first time, nothing stored twice.
        crisis = bool(
            await session.scalar(
                select(UnmatchedInbound.crisis_routes_sent).where(
                    UnmatchedInbound.message_sid == message_sid
                )
            )
        )
    else:
        audit.record(
            session,
            channel.SMS_ACTOR,
            "sms.inbound_unmatched",
            at=now,
            object_type="sms_unmatched_inbound",
            object_id=row_id,
            detail={"kind": kind},
        )
    return CRISIS_ROUTES if crisis else None


def to_out(row: UnmatchedInbound) -> UnmatchedTextOut:
    return UnmatchedTextOut(
        id=row.id,
        message_sid=row.message_sid,
        from_number=row.from_number,
        body=row.body,
        kind=row.kind,
        crisis_routes_sent=row.crisis_routes_sent,
        received_at=row.received_at,
    )


async def list_unmatched(
    session: AsyncSession, caller: Principal, now: datetime, cursor: str | None, limit: int
) -> tuple[list[UnmatchedInbound], str | None]:
    """Newest first. Admins only (the controller's guard); every read is audited."""
    query = page_after(
        select(UnmatchedInbound),
        UnmatchedInbound.received_at,
        UnmatchedInbound.id,
        decode_cursor(cursor),
        limit,
        newest_first=True,
    )
    rows = list((await session.scalars(query)).all())
    page, next_cursor = split_page(rows, limit, lambda r: (r.received_at, r.id))
    audit.record(
        session,
        caller,
        "sms.unmatched.list",
        at=now,
        object_type="sms_unmatched_inbound",
        detail={"ids": [str(r.id) for r in page]},
    )
    return page, next_cursor
