"""Listening: the Friends and Family Test results, the words patients and carers used, and the
ward's "You said, we did" log beside them.

Staff only (the ward's staff and managers; admins any ward): comments are patient data, so
every read is audited, and the report carries the words and a date, never a name, number or
other identifier of who said them (the record id lets staff open the record behind it).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PatientFeedback, PromAnswer, PromSurvey, Ward, YouSaidWeDid
from service import audit
from service.errors import Forbidden, InvalidInput, NotFound
from service.feedback.schemas import (
    AnswerCount,
    Comment,
    ListeningReport,
    YouSaidIn,
    YouSaidList,
    YouSaidOut,
)
from service.principal import Principal
from service.reports.service import period
from service.wards.access import managed_ward
from service.wards.service import get_ward

FFT_LABELS = {1: "Very good", 2: "Good", 3: "Neither good nor poor", 4: "Poor", 5: "Very poor"}
COMMENTS_SHOWN = 200


def you_said_out(row: YouSaidWeDid) -> YouSaidOut:
    return YouSaidOut(
        id=row.id,
        ward_id=row.ward_id,
        heard=row.heard,
        changed=row.changed,
        changed_on=row.changed_on,
        feedback_id=row.feedback_id,
        survey_id=row.survey_id,
        recorded_by=row.recorded_by,
        created_at=row.created_at,
    )


async def _ward_for_staff(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID | None, now: datetime
) -> Ward:
    if not (caller.is_admin or caller.staff_ward is not None):
        raise Forbidden("Only ward staff and admins read feedback.")
    if ward_id is None:
        if caller.is_admin:
            raise InvalidInput.field("ward_id", "is required for admins")
        ward_id = caller.staff_ward
    assert ward_id is not None
    try:
        return await get_ward(session, caller, ward_id)
    except NotFound as exc:
        raise audit.denied(
            caller, "report.listening", exc, at=now, object_type="ward", object_id=ward_id
        ) from None


async def _log(session: AsyncSession, ward_id: uuid.UUID) -> list[YouSaidWeDid]:
    return list(
        (
            await session.scalars(
                select(YouSaidWeDid)
                .where(YouSaidWeDid.ward_id == ward_id)
                .order_by(YouSaidWeDid.changed_on.desc(), YouSaidWeDid.id)
            )
        ).all()
    )


async def list_you_said(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, now: datetime
) -> YouSaidList:
    ward = await _ward_for_staff(session, caller, ward_id, now)
    return YouSaidList(items=[you_said_out(r) for r in await _log(session, ward.id)])


async def add_you_said(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, data: YouSaidIn, now: datetime
) -> YouSaidOut:
    """A manager (or admin) records what the ward changed. The feedback or survey it answers,
    when given, must be this ward's (another ward's is a 422 naming the field, as unknown)."""
    ward = await managed_ward(session, caller, ward_id, "you_said_we_did.create", now)
    heard, changed = data.heard.strip(), data.changed.strip()
    if not heard:
        raise InvalidInput.field("heard", "must not be blank")
    if not changed:
        raise InvalidInput.field("changed", "must not be blank")
    if data.changed_on > now.date():
        raise InvalidInput.field("changed_on", "must not be in the future")
    if data.feedback_id is not None:
        found = await session.scalar(
            select(PatientFeedback.id).where(
                PatientFeedback.id == data.feedback_id, PatientFeedback.ward_id == ward.id
            )
        )
        if found is None:
            raise InvalidInput.field("feedback_id", "is not feedback of this ward")
    if data.survey_id is not None:
        found = await session.scalar(
            select(PromSurvey.id).where(
                PromSurvey.id == data.survey_id,
                PromSurvey.ward_id == ward.id,
                PromSurvey.instrument == "fft",
            )
        )
        if found is None:
            raise InvalidInput.field("survey_id", "is not an FFT survey of this ward")
    row = YouSaidWeDid(
        ward_id=ward.id,
        heard=heard,
        changed=changed,
        changed_on=data.changed_on,
        feedback_id=data.feedback_id,
        survey_id=data.survey_id,
        recorded_by=caller.user_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        caller,
        "you_said_we_did.create",
        at=now,
        ward_id=ward.id,
        object_type="you_said_we_did",
        object_id=row.id,
    )
    return you_said_out(row)


async def listening(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> ListeningReport:
    start, end = period(start, end, now)
    ward = await _ward_for_staff(session, caller, ward_id, now)
    in_period = (
        PromSurvey.ward_id == ward.id,
        PromSurvey.instrument == "fft",
        PromSurvey.anchor_at >= start,
        PromSurvey.anchor_at < end,
    )
    sent = await session.scalar(
        select(func.count())
        .select_from(PromSurvey)
        .where(*in_period, PromSurvey.status.not_in(("scheduled", "cancelled")))
    )
    counts = dict(
        (
            await session.execute(
                select(PromAnswer.score, func.count())
                .join(PromSurvey, PromSurvey.id == PromAnswer.survey_id)
                .where(*in_period, PromAnswer.item_key == "fft.experience")
                .where(PromAnswer.score.is_not(None))
                .group_by(PromAnswer.score)
            )
        ).all()
    )
    answered = sum(counts.values())
    positive = counts.get(1, 0) + counts.get(2, 0)
    log = await _log(session, ward.id)
    answers: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for entry in log:
        for target in (entry.feedback_id, entry.survey_id):
            if target is not None:
                answers[target].append(entry.id)
    fft_comments = (
        await session.execute(
            select(PromSurvey.id, PromAnswer.answered_at, PromAnswer.text)
            .join(PromAnswer, PromAnswer.survey_id == PromSurvey.id)
            .where(*in_period, PromAnswer.item_key == "fft.comment")
            .where(PromAnswer.text.is_not(None), func.btrim(PromAnswer.text) != "")
            .order_by(PromAnswer.answered_at.desc(), PromSurvey.id)
            .limit(COMMENTS_SHOWN)
        )
    ).all()
    heard = (
        await session.execute(
            select(PatientFeedback.id, PatientFeedback.source, PatientFeedback.received_at)
            .add_columns(PatientFeedback.text)
            .where(
                PatientFeedback.ward_id == ward.id,
                PatientFeedback.received_at >= start,
                PatientFeedback.received_at < end,
            )
            .order_by(PatientFeedback.received_at.desc(), PatientFeedback.id)
            .limit(COMMENTS_SHOWN)
        )
    ).all()
    comments = [
        Comment(r.id, "fft", r.answered_at.date(), r.text, answers.get(r.id, []))
        for r in fft_comments
    ] + [
        Comment(r.id, r.source, r.received_at.date(), r.text, answers.get(r.id, [])) for r in heard
    ]
    comments.sort(key=lambda c: c.received_on, reverse=True)
    audit.record(
        session,
        caller,
        "report.listening",
        at=now,
        ward_id=ward.id,
        object_type="ward",
        object_id=ward.id,
        detail={"from": start.isoformat(), "to": end.isoformat()},
    )
    return ListeningReport(
        ward_id=ward.id,
        ward_name=ward.name,
        from_=start,
        to=end,
        generated_at=now,
        fft_sent=sent or 0,
        fft_answered=answered,
        fft_response_rate=round(answered / sent, 4) if sent else None,
        fft_positive=positive,
        fft_positive_share=round(positive / answered, 4) if answered else None,
        fft_answers=[AnswerCount(s, label, counts.get(s, 0)) for s, label in FFT_LABELS.items()],
        comments=comments,
        you_said_we_did=[you_said_out(r) for r in log],
    )
