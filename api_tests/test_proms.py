from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.models import OutboxMessage, PromAnswer, PromItem, PromSurvey
from service.clock import ManualClock
from service.proms.service import advance, handle_survey_reply, schedule_surveys, score_dialog


def test_dialog_scores_are_means_of_answered_items_and_partial_stays_partial() -> None:
    full = score_dialog(
        [("life", s) for s in (7, 7, 6, 6, 5, 5, 4, 4)] + [("treatment", s) for s in (2, 3, 3)]
    )
    assert (full.life_mean, full.life_answered) == (5.5, 8)
    assert (full.treatment_mean, full.treatment_answered) == (2.67, 3)
    assert full.complete
    partial = score_dialog([("life", 5), ("life", 3), ("life", 4), ("treatment", None)])
    assert (partial.life_mean, partial.life_answered) == (4.0, 3)
    assert (partial.treatment_mean, partial.treatment_answered) == (None, 0)
    assert not partial.complete


async def test_items_go_one_per_text_replies_are_consumed_and_a_timeout_leaves_a_partial(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar, clock: ManualClock
) -> None:
    team = await builders.ward_team(db, app)
    patient = await builders.home_patient(db, team.ward.id)
    now = clock.now()  # 09:00 GMT, inside the 09:00-20:00 window
    discharged = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert await schedule_surveys(db, patient.id, discharged, now) == 4
    assert await schedule_surveys(db, patient.id, discharged, now) == 0
    await db.commit()
    survey = await db.scalar(
        select(PromSurvey).where(
            PromSurvey.patient_id == patient.id, PromSurvey.time_point == "discharge"
        )
    )
    assert survey is not None

    for reply in ("5", "3", "4"):
        await advance(db, survey, now)
        assert survey.awaiting_item_key is not None
        assert not await handle_survey_reply(db, patient, "STOP", now)  # STOP wins
        assert not await handle_survey_reply(db, patient, "HELP", now)
        assert not await handle_survey_reply(db, patient, "9", now)  # outside 1-7
        assert await handle_survey_reply(db, patient, reply, now)
        await db.commit()
    await advance(db, survey, now)  # item 4 goes out and is never answered
    await advance(db, survey, now)  # sending again is a no-op while it waits
    prompts = (
        await db.scalars(
            select(OutboxMessage.body)
            .where(OutboxMessage.patient_id == patient.id)
            .order_by(OutboxMessage.created_at, OutboxMessage.dedupe_key)
        )
    ).all()
    assert len(prompts) == 4
    assert any("mental health" in p for p in prompts)
    await advance(db, survey, now + timedelta(hours=48))
    await db.commit()
    assert survey.status == "partial"
    assert survey.awaiting_item_key is None

    # The 1-month survey, answered in full: life all 6, treatment 5, 5, 2.
    month = await db.scalar(
        select(PromSurvey).where(
            PromSurvey.patient_id == patient.id, PromSurvey.time_point == "1_month"
        )
    )
    assert month is not None
    items = (await db.scalars(select(PromItem).where(PromItem.instrument == "dialog"))).all()
    treatment = iter((5, 5, 2))
    for item in items:
        score = 6 if item.item_group == "life" else next(treatment)
        db.add(PromAnswer(survey_id=month.id, item_key=item.key, score=score, answered_at=now))
    await db.commit()

    r = await client.get(
        "/api/v1/reports/outcomes",
        params={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
        headers=team.nurse_headers,
    )
    m = {x["key"]: x for x in r.json()["measures"]}
    # Discharge: partial, life items 5, 3, 4 -> 4.0; no treatment items answered.
    assert (m["proms.dialog.life_mean.discharge"]["value"],
            m["proms.dialog.life_mean.discharge"]["denominator"]) == (4.0, 1)  # fmt: skip
    assert m["proms.dialog.treatment_mean.discharge"]["value"] is None
    assert m["proms.dialog.life_mean.1_month"]["value"] == 6.0
    assert m["proms.dialog.treatment_mean.1_month"]["value"] == 4.0
    # Change from discharge: life 6 - 4 = 2; treatment has no discharge score to pair with.
    assert m["proms.dialog.life_change.1_month"]["value"] == 2.0
    assert m["proms.dialog.life_change.1_month"]["record_ids"] == [str(month.id)]
    assert m["proms.dialog.treatment_change.1_month"]["denominator"] == 0


async def test_fft_comment_is_optional_free_text(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar, clock: ManualClock
) -> None:
    team = await builders.ward_team(db, app)
    patient = await builders.home_patient(db, team.ward.id)
    now = clock.now()
    await schedule_surveys(db, patient.id, now - timedelta(days=14), now)
    fft = await db.scalar(
        select(PromSurvey).where(
            PromSurvey.patient_id == patient.id, PromSurvey.instrument == "fft"
        )
    )
    assert fft is not None
    await advance(db, fft, now)
    assert fft.awaiting_item_key == "fft.experience"
    assert not await handle_survey_reply(db, patient, "6", now)  # 1-5 only
    assert await handle_survey_reply(db, patient, "1", now)
    await advance(db, fft, now)
    assert fft.awaiting_item_key == "fft.comment"
    assert await handle_survey_reply(db, patient, "Kind nurses, slow letters", now)
    await advance(db, fft, now)
    assert fft.status == "completed"
    texts = (await db.scalars(select(PromAnswer.text).where(PromAnswer.survey_id == fft.id))).all()
    assert "Kind nurses, slow letters" in texts
