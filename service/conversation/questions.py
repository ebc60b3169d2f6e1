"""One open question per patient: which question a reply answers, and what waits its turn.

At any moment a patient has at most one question awaiting an answer: a check-in (its prompt
or reminder) or one survey item. Check-ins come first. This is the one place that decides
which question is open (`open_question`, for the inbound handler, and `conversation`, for
staff); the sweeps that ask keep to the same rule through the parts they may import
(`service.checkins.turns`, which also documents the lock order, and
`service.proms.service.set_back`), and the check-in sweep is handed `make_room_for_check_in`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, PromSurvey
from service.checkins import dispatch, lifecycle, turns
from service.proms import service as proms

QuestionKind = Literal["check_in", "survey_item"]


@dataclass(frozen=True)
class OpenQuestion:
    kind: QuestionKind
    # The check-in's id, or the survey's (the item is `item_key`).
    id: uuid.UUID
    asked_at: datetime
    reply_due_at: datetime
    item_key: str | None = None
    # The row itself, for the inbound handler to record the answer on (locked there).
    check_in: CheckIn | None = field(default=None, compare=False, repr=False)
    survey: PromSurvey | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Waiting:
    kind: QuestionKind
    id: uuid.UUID
    due_at: datetime


@dataclass(frozen=True)
class Conversation:
    open_question: OpenQuestion | None
    waiting: list[Waiting]


async def open_question(
    session: AsyncSession, patient_id: uuid.UUID, *, lock: bool = True
) -> OpenQuestion | None:
    """The question a reply from this patient answers now, if any.

    An open check-in wins over a survey item (if both were ever open, e.g. rows from before
    this rule, the reply still reaches the check-in and its low-score escalation). With
    `lock` (the inbound handler) the patient row is held first and then the question's row,
    in the order `service.checkins.turns` sets out, so no sweep opens another question
    while the reply is being recorded."""
    if lock:
        await turns.claim_turn(session, patient_id, wait=True)
    check_in = await lifecycle.open_check_in(session, patient_id, lock=lock)
    if check_in is not None:
        return OpenQuestion(
            kind="check_in",
            id=check_in.id,
            asked_at=_asked(check_in.sent_at),
            reply_due_at=dispatch.reply_deadline(check_in),
            check_in=check_in,
        )
    survey = await proms.awaiting_survey(session, patient_id, lock=lock)
    if survey is not None:
        asked_at = _asked(survey.awaiting_since)
        return OpenQuestion(
            kind="survey_item",
            id=survey.id,
            asked_at=asked_at,
            reply_due_at=asked_at + proms.REPLY_WINDOW,
            item_key=survey.awaiting_item_key,
            survey=survey,
        )
    return None


async def conversation(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> Conversation:
    """The open question and, in the order they will be asked, the questions whose time has
    come but that wait their turn (behind the open question, quiet hours, or set back)."""
    current = await open_question(session, patient_id, lock=False)
    waiting = [
        Waiting(kind="check_in", id=c.id, due_at=c.due_at)
        for c in await turns.due_check_ins(session, patient_id, now)
    ]
    waiting += [
        Waiting(kind="survey_item", id=s.id, due_at=s.due_at)
        for s in await proms.waiting_surveys(session, patient_id, now)
    ]
    return Conversation(open_question=current, waiting=waiting)


async def make_room_for_check_in(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime
) -> None:
    """The check-in dispatch is about to prompt (patient row held): a survey item awaiting
    its answer is set back, so the reply that comes is the check-in's."""
    await proms.set_back(session, patient_id, now)


async def after_answer(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> None:
    """The open question was answered: what waited behind it may be asked at once."""
    await turns.wake_waiting(session, patient_id, now)
    await proms.wake_waiting(session, patient_id, now)


def _asked(at: datetime | None) -> datetime:
    assert at is not None  # an open question has been sent
    return at
