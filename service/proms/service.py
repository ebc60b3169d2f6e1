"""DIALOG and Friends and Family Test by SMS: one item per text, each with its own reply.

Surveys are scheduled from a discharge (`schedule_surveys`), advanced by the PROMs sweep
(`claim_due` + `advance`) inside the patient's contact window, and answered by
`record_reply`, which inbound routing calls when the survey item is the patient's one open
question (service.conversation.questions). Check-ins come first: no item is sent while a
check-in is open or ready to go (service.checkins.turns), and an item awaiting its answer
when a check-in goes out is set back (`set_back`) to be asked again, with a fresh reply
window, once the check-in is over. A survey whose awaited item goes unanswered for
REPLY_WINDOW closes as `partial` (some answers kept) or `unanswered` (none). Scores: the mean of the answered life-domain items and
the mean of the answered treatment items, with how many of each were answered.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import Patient, PromAnswer, PromItem, PromSurvey
from service.checkins import turns, windows
from service.discreet import is_discreet_safe
from service.interpretation.meaning import interpret
from service.message_templates.catalogue import ENGLISH
from service.message_templates.service import survey_purpose, wording
from service.patient_access.texting import why_not_text
from service.set_aside import not_set_aside
from service.sms import outbox

REPLY_WINDOW = timedelta(hours=48)
BATCH = 100
LIFE_ITEMS = 8
TREATMENT_ITEMS = 3
# (instrument, time point, elapsed time after discharge)
SCHEDULE: tuple[tuple[str, str, timedelta], ...] = (
    ("dialog", "discharge", timedelta(0)),
    ("fft", "2_weeks", timedelta(days=14)),
    ("dialog", "1_month", timedelta(days=30)),
    ("dialog", "3_months", timedelta(days=91)),
)
_NUMBER = re.compile(r"^\s*([0-9])\s*[.!]?\s*$")
SKIP_WORDS = {"skip", "no", "none", "n/a", "na"}


@dataclass(frozen=True)
class DialogScore:
    life_mean: float | None
    life_answered: int
    treatment_mean: float | None
    treatment_answered: int

    @property
    def complete(self) -> bool:
        return self.life_answered == LIFE_ITEMS and self.treatment_answered == TREATMENT_ITEMS


def score_dialog(answers: Iterable[tuple[str, int | None]]) -> DialogScore:
    """Scores from (item group, score) pairs; unanswered items (None) are left out."""
    answers = list(answers)
    life = [s for g, s in answers if g == "life" and s is not None]
    treatment = [s for g, s in answers if g == "treatment" and s is not None]
    return DialogScore(
        life_mean=round(sum(life) / len(life), 2) if life else None,
        life_answered=len(life),
        treatment_mean=round(sum(treatment) / len(treatment), 2) if treatment else None,
        treatment_answered=len(treatment),
    )


async def schedule_surveys(
    session: AsyncSession, patient_id: uuid.UUID, discharged_at: datetime, now: datetime
) -> int:
    """Create the discharge, 2-week (FFT), 1-month and 3-month surveys for one discharge.
    Idempotent (one survey per patient, instrument, time point and discharge)."""
    ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == patient_id))
    if ward_id is None:
        return 0
    created = 0
    for instrument, time_point, after in SCHEDULE:
        due = discharged_at + after
        inserted = await session.scalar(
            insert(PromSurvey)
            .values(
                id=new_id(),
                patient_id=patient_id,
                ward_id=ward_id,
                instrument=instrument,
                time_point=time_point,
                anchor_at=discharged_at,
                due_at=due,
                status="scheduled",
                next_action_at=max(due, now),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(constraint="uq_prom_surveys_point")
            .returning(PromSurvey.id)
        )
        created += inserted is not None
    return created


async def cancel_surveys(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> None:
    """Stop surveys still to come or in progress (e.g. on readmission or opt-out)."""
    rows = await session.scalars(
        select(PromSurvey)
        .where(
            PromSurvey.patient_id == patient_id,
            PromSurvey.status.in_(("scheduled", "in_progress")),
        )
        .with_for_update()
    )
    for survey in rows:
        await _close(session, survey, now, cancelled=True)
    await session.flush()


async def claim_due(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[PromSurvey]:
    result = await session.scalars(
        select(PromSurvey)
        .where(
            PromSurvey.next_action_at.is_not(None),
            PromSurvey.next_action_at <= now,
            not_set_aside(PromSurvey),
        )
        .order_by(PromSurvey.next_action_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def _items(session: AsyncSession, instrument: str) -> list[PromItem]:
    rows = await session.scalars(
        select(PromItem).where(PromItem.instrument == instrument).order_by(PromItem.position)
    )
    return list(rows.all())


async def _answered(session: AsyncSession, survey_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(PromAnswer.item_key).where(PromAnswer.survey_id == survey_id)
    )
    return set(rows.all())


async def _close(
    session: AsyncSession, survey: PromSurvey, now: datetime, *, cancelled: bool = False
) -> None:
    answered = await _answered(session, survey.id)
    items = await _items(session, survey.instrument)
    required = {i.key for i in items if i.item_group != "comment"}
    if cancelled and not answered:
        survey.status = "cancelled"
    elif answered >= required:
        survey.status = "completed"
    else:
        survey.status = "partial" if answered else "unanswered"
    survey.awaiting_item_key = None
    survey.awaiting_since = None
    survey.next_action_at = None
    survey.completed_at = now
    survey.updated_at = now


async def advance(session: AsyncSession, survey: PromSurvey, now: datetime) -> None:
    """The survey's next step: close a timed-out item, send the next item, or finish."""
    await _advance(session, survey, now)
    await session.flush()  # sessions here do not autoflush


async def _advance(session: AsyncSession, survey: PromSurvey, now: datetime) -> None:
    survey.updated_at = now
    if survey.awaiting_item_key is not None:
        assert survey.awaiting_since is not None
        if now < survey.awaiting_since + REPLY_WINDOW:
            survey.next_action_at = survey.awaiting_since + REPLY_WINDOW
            return
        await _close(session, survey, now)
        return
    patient = await session.get(Patient, survey.patient_id)
    if patient is None or await why_not_text(session, patient) is not None:
        await _close(session, survey, now, cancelled=True)
        return
    answered = await _answered(session, survey.id)
    pending = [i for i in await _items(session, survey.instrument) if i.key not in answered]
    if not pending:
        await _close(session, survey, now)
        return
    send_at = windows.next_send_time(
        now, patient.timezone, patient.contact_window_start, patient.contact_window_end
    )
    if send_at > now:
        survey.next_action_at = send_at
        return
    if not await turns.claim_turn(session, patient.id, wait=False):
        return  # another transaction is deciding what to ask this patient: next tick
    held_until = await turns.check_in_first(session, patient.id, now)
    if held_until is None:
        other = await awaiting_survey(session, patient.id)
        if other is not None and other.id != survey.id:
            assert other.awaiting_since is not None
            held_until = other.awaiting_since + REPLY_WINDOW
    if held_until is not None:
        # Another question is open (or a check-in goes first); an answer wakes us earlier.
        survey.next_action_at = held_until
        return
    item = pending[0]
    assert patient.mobile is not None  # the texting rule refuses a patient without one
    # An item asked again after a set-back is a new text; a repeated sweep is not.
    again = f":again{survey.set_backs}" if survey.set_backs else ""
    # The item's own words are the built-in English; a ward may word it in other languages.
    discreet = patient.discreet_messages
    words = await wording(
        session,
        patient.ward_id,
        patient.language,
        survey_purpose(item.key, discreet=discreet),
        survey={ENGLISH: item.discreet_prompt if discreet else item.prompt},
    )
    body = words.body
    await outbox.enqueue(
        session,
        dedupe_key=f"prom:{survey.id}:{item.key}{again}",
        to_number=patient.mobile,
        body=body,
        template=words.ref,
        purpose=f"prom_{survey.instrument}",
        now=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        prom_survey_id=survey.id,
        # Said of the words themselves: the usual wording names the service and is withdrawn
        # at the send step if discreet mode has come on by then (`reword`).
        fit_for_discreet=is_discreet_safe(body),
    )
    survey.status = "in_progress"
    survey.awaiting_item_key = item.key
    survey.awaiting_since = now
    survey.next_action_at = now + REPLY_WINDOW


async def reword(session: AsyncSession, survey_id: uuid.UUID, now: datetime) -> bool:
    """The outbox withdrew this survey's item text because its words no longer suit the
    patient (discreet mode came on after it was queued): the item did not reach them, so it
    is set back and the sweep asks it again, in the words chosen then, under a new key.

    False when a sweep holds the survey right now (the caller asks again shortly; waiting
    could deadlock with the outbox's own locks); True otherwise, also when the survey has
    moved on and there is nothing to redo."""
    survey = await session.scalar(
        select(PromSurvey)
        .where(PromSurvey.id == survey_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if survey is None:
        return False
    if survey.awaiting_item_key is None:
        return True
    survey.awaiting_item_key = None
    survey.awaiting_since = None
    survey.set_backs += 1
    survey.next_action_at = now
    survey.updated_at = now
    return True


async def awaiting_survey(
    session: AsyncSession, patient_id: uuid.UUID, *, lock: bool = False
) -> PromSurvey | None:
    """The patient's survey with an item awaiting its answer (the latest asked), if any."""
    query = (
        select(PromSurvey)
        .where(PromSurvey.patient_id == patient_id, PromSurvey.awaiting_item_key.is_not(None))
        .order_by(PromSurvey.awaiting_since.desc())
        .limit(1)
    )
    result: PromSurvey | None = await session.scalar(query.with_for_update() if lock else query)
    return result


async def waiting_surveys(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime
) -> list[PromSurvey]:
    """Surveys whose time has come with no item out: their next item waits its turn."""
    rows = await session.scalars(
        select(PromSurvey)
        .where(
            PromSurvey.patient_id == patient_id,
            PromSurvey.status.in_(("scheduled", "in_progress")),
            PromSurvey.awaiting_item_key.is_(None),
            PromSurvey.due_at <= now,
        )
        .order_by(PromSurvey.due_at, PromSurvey.id)
    )
    return list(rows.all())


async def set_back(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> int:
    """A check-in takes the turn: items awaiting an answer go back to be asked again.

    The item stays unanswered but is not counted as unanswered: nothing awaits, so no reply
    window runs out; the sweep asks it again once the check-in is over, with a new window.
    An item's text still queued (an outage held the outbox) is withdrawn, or it would go out
    beside the check-in prompt and two questions would be open at once.
    Call with the patient row held (service.checkins.turns lock order). Returns how many."""
    rows = await session.scalars(
        select(PromSurvey)
        .where(PromSurvey.patient_id == patient_id, PromSurvey.awaiting_item_key.is_not(None))
        .with_for_update()
    )
    surveys = list(rows.all())
    for survey in surveys:
        survey.awaiting_item_key = None
        survey.awaiting_since = None
        survey.set_backs += 1
        # The sweep looks at once and then waits for the check-in to be over.
        survey.next_action_at = now
        survey.updated_at = now
    if surveys:
        await outbox.cancel_queued(
            session,
            patient_id=patient_id,
            now=now,
            reason="set_back",
            prom_survey_ids=[s.id for s in surveys],
        )
    await session.flush()
    return len(surveys)


async def wake_waiting(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> None:
    """A question closed: surveys held back behind it may ask at once (the sweep still
    checks the window and the turn). Rows a sweep has claimed are skipped; it decides them."""
    waiting = (
        await session.scalars(
            select(PromSurvey.id)
            .where(
                PromSurvey.patient_id == patient_id,
                PromSurvey.status.in_(("scheduled", "in_progress")),
                PromSurvey.awaiting_item_key.is_(None),
                PromSurvey.due_at <= now,
                PromSurvey.next_action_at > now,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    if waiting:
        await session.execute(
            update(PromSurvey)
            .where(PromSurvey.id.in_(waiting))
            .values(next_action_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )


async def handle_survey_reply(
    session: AsyncSession, patient: Patient, body: str, now: datetime
) -> bool:
    """`record_reply` for the patient's survey awaiting an answer, if there is one."""
    survey = await awaiting_survey(session, patient.id, lock=True)
    if survey is None:
        return False
    return await record_reply(session, survey, body, now)


async def record_reply(session: AsyncSession, survey: PromSurvey, body: str, now: datetime) -> bool:
    """Consume a reply to the survey's awaiting item (the survey row locked by the caller).
    STOP, START and HELP are never consumed (the caller handles them); nor is a reply that
    does not fit the item (e.g. "8" to a 1-7 item), which the caller then handles as a reply
    to no question."""
    meaning = interpret(body)
    if meaning.kind in ("stop", "start", "help"):
        return False
    if survey.awaiting_item_key is None:
        return False
    item = await session.get(PromItem, survey.awaiting_item_key)
    assert item is not None
    score: int | None = None
    text: str | None = None
    if item.scale_min is not None and item.scale_max is not None:
        match = _NUMBER.match(body)
        if match is None:
            return False
        score = int(match.group(1))
        if not item.scale_min <= score <= item.scale_max:
            return False
    else:
        cleaned = body.strip()
        text = None if cleaned.lower() in SKIP_WORDS else cleaned[:1600]
    await session.execute(
        insert(PromAnswer)
        .values(
            id=new_id(),
            survey_id=survey.id,
            item_key=item.key,
            score=score,
            text=text,
            answered_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_prom_answers_item")
    )
    survey.awaiting_item_key = None
    survey.awaiting_since = None
    survey.next_action_at = now  # the sweep sends the next item
    survey.updated_at = now
    await session.flush()
    return True
