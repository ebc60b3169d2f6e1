"""Whose turn it is to ask a patient something: the check-in side of "one open question".

A patient has at most one question awaiting an answer: a check-in (prompt or reminder) or a
survey item. Check-ins come first. The rule as a whole is `service.conversation.questions`;
this module holds the parts the check-in and PROMs sweeps need, which may not import the
conversation package (it sits above them).

Lock order, the same on every path that opens a question:
1. the sweep's own claimed rows (check_ins or prom_surveys, FOR UPDATE SKIP LOCKED);
2. the patient row (`claim_turn`): sweeps take it with SKIP LOCKED and, when another
   transaction holds it, leave the item for the next tick, so a sweep never waits for a
   patient row while holding claimed rows; the inbound handler takes it first, waiting;
3. only then the patient's other question rows (the check-in dispatch locks an awaiting
   survey item to set it back; the inbound handler locks the open question it answers).
A question only becomes open while its patient row is held, so "is anything else open?"
cannot be answered differently by two transactions at once. Closing a question (answer,
time-out, miss) needs no patient lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, Patient
from service.checkins.lifecycle import open_check_in


async def claim_turn(session: AsyncSession, patient_id: uuid.UUID, *, wait: bool) -> bool:
    """Lock the patient row before deciding whether a question may be asked or answered.

    With `wait=False` (the sweeps) a row locked by another transaction answers False: that
    transaction is deciding for this patient now, and the caller tries again later."""
    query = select(Patient.id).where(Patient.id == patient_id)
    query = query.with_for_update() if wait else query.with_for_update(skip_locked=True)
    return await session.scalar(query) is not None


async def due_check_ins(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime
) -> list[CheckIn]:
    """Check-ins whose time has come but which are not asked yet, in the order they go."""
    rows = await session.scalars(
        select(CheckIn)
        .where(
            CheckIn.patient_id == patient_id,
            CheckIn.status == "scheduled",
            CheckIn.due_at <= now,
        )
        .order_by(CheckIn.due_at, CheckIn.id)
    )
    return list(rows.all())


async def check_in_first(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime
) -> datetime | None:
    """When a survey may next try to ask, if a check-in goes first; None if none does.

    An open check-in holds the turn until its reply window ends (an answer wakes the survey
    earlier); a check-in ready to go out now makes the survey look again on the next tick,
    by when the check-in has gone out (or been put off)."""
    current = await open_check_in(session, patient_id, lock=False)
    if current is not None:
        assert current.sent_at is not None
        return current.sent_at + _reply_window(current)
    ready = await session.scalar(
        select(CheckIn.next_action_at)
        .where(
            CheckIn.patient_id == patient_id,
            CheckIn.status == "scheduled",
            CheckIn.next_action_at <= now,
        )
        .order_by(CheckIn.next_action_at)
        .limit(1)
    )
    return None if ready is None else now


async def wake_waiting(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> None:
    """A question closed: check-ins held back behind it may go at once (the sweep still
    checks the contact window). Rows a sweep has claimed are skipped; it decides them."""
    waiting = (
        await session.scalars(
            select(CheckIn.id)
            .where(
                CheckIn.patient_id == patient_id,
                CheckIn.status == "scheduled",
                CheckIn.due_at <= now,
                CheckIn.next_action_at > now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    if waiting:
        await session.execute(
            update(CheckIn)
            .where(CheckIn.id.in_(waiting))
            .values(next_action_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def _reply_window(check_in: CheckIn) -> timedelta:
    return timedelta(minutes=check_in.reply_window_minutes)
