"""Hold a text for a person to read; list and read the ward's replies.

Holding is idempotent per inbound text (unique `inbound_id`), so a Twilio retry that reached
this far cannot hold a text twice. Reading one that had already raised `unread_reply`
resolves that escalation: the person who read it has answered it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import InboundMessage, Patient, ReplyToRead, Ward
from service import audit
from service.errors import Conflict, NotFound
from service.escalations.service import resolve_for_source
from service.pagination import decode_cursor, page_after, split_page
from service.principal import Principal
from service.replies.access import readable_replies
from service.replies.schemas import ReplyOut
from service.risk import suicide_risk_recorded

# Used when a ward's policy lacks a value (the ward schema always fills it in).
DEFAULT_READ_MINUTES = 60
ESCALATION_REASON = "unread_reply"
SOURCE_TYPE = "reply"

# A score alone, or with a sign-off or a word of the same sense ("4/5", "3 ok", "two thanks
# x"), needs nobody; anything more ("4 but the voices are back", "4 not good") does.
_SCORE_PREFIX = re.compile(r"^\s*(?:[1-5]|one|two|three|four|five)(?:\s*(?:/|out of)\s*5)?\b", re.I)
_SIGN_OFFS = frozenset(
    {"thanks", "thank", "you", "thx", "ta", "cheers", "x", "xx", "xxx"}
    | {"ok", "okay", "fine", "good", "alright", "great", "well"}
)


def is_clean_score(text: str) -> bool:
    match = _SCORE_PREFIX.match(text)
    if match is None:
        return False
    rest = re.findall(r"[a-z0-9]+", text[match.end() :].casefold())
    return all(word in _SIGN_OFFS for word in rest)


def needs_reading(kind: str, text: str) -> bool:
    """Whether a patient's text must reach a person as a reply to read. OK, STOP and START
    are only ever clean (the reading requires nothing else in the text); a crisis text
    raises `help_request` instead; a score counts only when nothing else was said."""
    if kind in ("ok", "stop", "start", "help"):
        return False
    if kind == "score":
        return not is_clean_score(text)
    return True


def read_minutes(policy: dict[str, Any] | None) -> int:
    value = (policy or {}).get("read_minutes")
    return value if isinstance(value, int) and value > 0 else DEFAULT_READ_MINUTES


async def hold(
    session: AsyncSession,
    *,
    inbound_id: uuid.UUID,
    patient: Patient,
    ward: Ward,
    received_at: datetime,
    from_carer: bool,
    low_score: bool,
) -> None:
    """Put an inbound text in the ward's replies to read, due by the ward's `read_minutes`.
    Urgent when it came with a low score or the last discharge recorded suicide risk."""
    urgent = low_score or await suicide_risk_recorded(session, patient.id)
    await session.execute(
        insert(ReplyToRead)
        .values(
            id=new_id(),
            inbound_id=inbound_id,
            patient_id=patient.id,
            ward_id=patient.ward_id,
            from_carer=from_carer,
            severity="urgent" if urgent else "routine",
            received_at=received_at,
            status="unread",
            read_due_at=received_at + timedelta(minutes=read_minutes(ward.escalation_policy)),
            created_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["inbound_id"])
    )


async def make_urgent_for_risk(session: AsyncSession, patient_id: uuid.UUID) -> int:
    """Suicide risk was just recorded: the patient's unread replies not yet escalated are
    urgent from now, so their `unread_reply` is raised urgent (as `hold` would now decide)."""
    result = await session.execute(
        update(ReplyToRead)
        .where(
            ReplyToRead.patient_id == patient_id,
            ReplyToRead.status == "unread",
            ReplyToRead.escalated_at.is_(None),
            ReplyToRead.severity == "routine",
        )
        .values(severity="urgent")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def to_out(row: ReplyToRead, body: str) -> ReplyOut:
    return ReplyOut(
        id=row.id,
        patient_id=row.patient_id,
        ward_id=row.ward_id,
        from_carer=row.from_carer,
        body=body,
        received_at=row.received_at,
        status=row.status,  # type: ignore[arg-type]
        read_by=row.read_by,
        read_at=row.read_at,
        read_due_at=row.read_due_at,
        read_note=row.read_note,
        severity=row.severity,  # type: ignore[arg-type]
        escalated_at=row.escalated_at,
    )


def _with_body(caller: Principal) -> Any:
    return (
        readable_replies(caller)
        .add_columns(InboundMessage.body)
        .join(InboundMessage, InboundMessage.id == ReplyToRead.inbound_id)
    )


async def list_replies(
    session: AsyncSession,
    caller: Principal,
    *,
    now: datetime,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    patient_id: uuid.UUID | None = None,
    ward_id: uuid.UUID | None = None,
) -> tuple[list[ReplyOut], str | None]:
    """The caller's ward's replies. Unread ones oldest first (the next deadline on top),
    otherwise newest first. Filters only narrow: another ward's id finds nothing."""
    query = _with_body(caller)
    if status is not None:
        query = query.where(ReplyToRead.status == status)
    if patient_id is not None:
        query = query.where(ReplyToRead.patient_id == patient_id)
    if ward_id is not None:
        query = query.where(ReplyToRead.ward_id == ward_id)
    query = page_after(
        query,
        ReplyToRead.received_at,
        ReplyToRead.id,
        decode_cursor(cursor),
        limit,
        newest_first=status != "unread",
    )
    rows: list[Any] = list((await session.execute(query)).all())
    page, next_cursor = split_page(rows, limit, lambda r: (r[0].received_at, r[0].id))
    in_ward = patient_id is not None and await session.scalar(
        select(Patient.id).where(Patient.id == patient_id, Patient.ward_id == caller.staff_ward)
    )
    await audit.record_now(
        session,
        caller,
        "reply.list",
        at=now,
        patient_id=patient_id if in_ward else None,
        ward_id=caller.ward_id,
        object_type="reply",
        detail={"count": len(page), "status": status},
    )
    return [to_out(reply, body) for reply, body in page], next_cursor


async def read_reply(
    session: AsyncSession,
    caller: Principal,
    reply_id: uuid.UUID,
    now: datetime,
    note: str | None = None,
) -> ReplyOut:
    """Mark a reply read by the caller (409 when it already is); resolves its `unread_reply`."""
    found = (
        await session.execute(
            _with_body(caller)
            .where(ReplyToRead.id == reply_id)
            .with_for_update(of=ReplyToRead)
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        raise await audit.denied_about(
            session,
            caller,
            "reply.read",
            NotFound("No such reply."),
            at=now,
            owner=select(ReplyToRead.patient_id, ReplyToRead.ward_id).where(
                ReplyToRead.id == reply_id
            ),
            object_type="reply",
            object_id=reply_id,
        )
    reply, body = found
    if reply.status == "read":
        raise Conflict("This reply has already been read.")
    reply.status = "read"
    reply.read_by = caller.user_id
    reply.read_at = now
    reply.read_note = (note or "").strip() or None
    audit.record(
        session,
        caller,
        "reply.read",
        at=now,
        patient_id=reply.patient_id,
        ward_id=reply.ward_id,
        object_type="reply",
        object_id=reply.id,
    )
    if reply.escalated_at is not None:
        await resolve_for_source(
            session,
            reason=ESCALATION_REASON,
            source_type=SOURCE_TYPE,
            source_id=reply.id,
            now=now,
            note="Resolved: the reply was read.",
            actor=caller,
        )
    await session.flush()
    return to_out(reply, body)
