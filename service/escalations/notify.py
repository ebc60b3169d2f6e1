"""Telling people about an escalation, and hearing that a page did not arrive.

Paging (service.paging) knows who stands at each level and queues the texts; this module
decides what that means for the escalation: a level with nobody reachable moves the
escalation itself up to the level that was told, with that level's deadline, so the next
climb texts new people rather than the same ones; and a page that failed is written into
the escalation's history so the board and the API show who was not reached.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, OutboxMessage, StaffEmail, Ward
from service.escalations.history import LADDER_ACTOR, ack_minutes, history_event
from service.paging.recipients import recipients_at
from service.paging.texts import carer_notice, page_escalation


async def announce(session: AsyncSession, escalation: Escalation, now: datetime) -> None:
    """Page the people at the escalation's current level, and say whom in its history.

    An urgent escalation at level 2 or above also tells the consenting carer (once).
    """
    told = await _page(session, escalation, now)
    session.add(
        history_event(escalation, "notified", now, LADDER_ACTOR, from_status="open", note=told)
    )


async def _page(session: AsyncSession, escalation: Escalation, now: datetime) -> str:
    """The paging itself; returns the note for the history."""
    ward = await session.get(Ward, escalation.ward_id)
    if ward is None:
        return "ward not found; nobody could be texted"
    asked_level = escalation.level
    told_level, recipients = await recipients_at(
        session, ward, escalation.patient_id, asked_level, now
    )
    if not recipients:
        return f"nobody reachable at level {asked_level} or above; see the ward board"
    if told_level > asked_level:
        escalation.level = told_level
        escalation.ack_due_at = now + timedelta(
            minutes=ack_minutes(ward.escalation_policy, escalation.severity, told_level)
        )
        escalation.updated_at = now
    queued = await page_escalation(session, escalation, recipients, now)
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


async def note_not_delivered(
    session: AsyncSession, message: OutboxMessage | StaffEmail, now: datetime, why: str
) -> None:
    """A page about an escalation (a text or email to staff, or the carer notice) failed or
    could not be confirmed: say so in the escalation's history. The ladder needs no help:
    unacknowledged, the escalation climbs at its deadline anyway."""
    if message.escalation_id is None:
        return
    escalation = await session.get(Escalation, message.escalation_id)
    if escalation is None:
        return
    kind = message.recipient_kind if isinstance(message, OutboxMessage) else "staff"
    if kind == "carer":
        who = "the nominated carer"
    elif message.user_id:
        who = "a staff member"
    else:
        who = "the ward's on-call or crisis line"
    level = message.escalation_level if kind == "staff" else None
    at_level = f" at level {level}" if level else ""
    what = "text" if isinstance(message, OutboxMessage) else "email"
    session.add(
        history_event(
            escalation,
            "notice_not_delivered",
            now,
            LADDER_ACTOR,
            from_status=escalation.status,
            note=f"The {what} to {who}{at_level} was not delivered ({why}).",
        )
    )
