"""One open question per patient: check-ins and survey items go one at a time, check-ins first,
and each reply lands on the question that was asked. Real PostgreSQL, signed webhooks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from api_tests import builders
from api_tests.sms_helpers import (
    check_ins,
    escalations,
    fresh,
    inbound_params,
    outbox_rows,
    post_signed,
)
from db.models import CheckIn, OutboxMessage, Patient, PromAnswer, PromSurvey
from jobs.checkins import checkin_sweep
from jobs.outbox import outbox_sweep
from jobs.proms import proms_sweep
from jobs.runner import run_sweep
from service.sms.gateway import CHANNEL_KEY

PATIENTS = "/api/v1/patients"
QUESTION_PURPOSES = ("checkin_prompt", "checkin_reminder", "prom_dialog", "prom_fft")


async def _discharged_by_the_ward(db, sms_client, team, at):
    """An inpatient discharged through the API: the check-in schedule (first one 24 hours
    later) and the surveys (the discharge DIALOG due at once) both start."""
    patient = await builders.patient(db, team.ward.id, mobile=builders.mobile(), sms_consent=True)
    response = await sms_client.post(
        f"{PATIENTS}/{patient.id}/discharge",
        json={"discharged_at": at.isoformat(), "suicide_risk": False},
        headers=team.nurse_headers,
    )
    assert response.status_code == 200, response.text
    return patient


async def _questions_sent(db, patient_id):
    """(purpose, dedupe key) of the questions queued for the patient, in order."""
    return [
        (row.purpose, row.dedupe_key)
        for row in await outbox_rows(db, patient_id)
        if row.purpose in QUESTION_PURPOSES and row.status != "cancelled"
    ]


async def _discharge_survey(db, patient_id) -> PromSurvey:
    survey = await db.scalar(
        select(PromSurvey)
        .where(PromSurvey.patient_id == patient_id, PromSurvey.time_point == "discharge")
        .execution_options(populate_existing=True)
    )
    assert survey is not None
    return survey


async def _answers(db, survey_id):
    rows = await db.execute(
        select(PromAnswer.item_key, PromAnswer.score)
        .where(PromAnswer.survey_id == survey_id)
        .order_by(PromAnswer.answered_at, PromAnswer.item_key)
    )
    return [tuple(r) for r in rows]


async def _reply(sms_client, sms_settings, patient, body):
    response = await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, body),
        sms_settings.twilio_auth_token,
    )
    assert response.status_code == 200, response.text


async def _conversation(sms_client, team, patient_id):
    response = await sms_client.get(
        f"{PATIENTS}/{patient_id}/conversation", headers=team.nurse_headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_questions_due_at_once_go_one_at_a_time_and_each_reply_lands_on_its_question(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    team = await builders.ward_team(db, sms_app)
    discharged = clock.now()
    patient = await _discharged_by_the_ward(db, sms_client, team, discharged)
    # The worker was down for a day: the discharge survey and the first check-in are both due.
    clock.advance(timedelta(hours=24))
    first_check_in = (await check_ins(db, patient.id))[0]
    survey = await _discharge_survey(db, patient.id)

    await sms_worker.run_once()
    await sms_worker.run_once()  # a second tick asks nothing more while the check-in is open

    assert await _questions_sent(db, patient.id) == [
        ("checkin_prompt", f"checkin:{first_check_in.id}:prompt")
    ]
    state = await _conversation(sms_client, team, patient.id)
    assert state["open_question"] == {
        "kind": "check_in",
        "id": str(first_check_in.id),
        "asked_at": "2026-12-02T09:00:00Z",
        "reply_due_at": "2026-12-02T13:00:00Z",  # the default 240-minute reply window
        "item_key": None,
    }
    assert {"kind": "survey_item", "id": str(survey.id), "due_at": "2026-12-01T09:00:00Z"} in (
        state["waiting"]
    )

    clock.advance(timedelta(minutes=5))
    await _reply(sms_client, sms_settings, patient, "4")

    first_check_in = (await check_ins(db, patient.id))[0]
    assert (first_check_in.status, first_check_in.score) == ("answered", 4)
    assert await _answers(db, survey.id) == []

    await sms_worker.run_once()  # the survey's turn: its first item goes out
    assert (await _questions_sent(db, patient.id))[1:] == [
        ("prom_dialog", f"prom:{survey.id}:dialog.mental_health")
    ]
    state = await _conversation(sms_client, team, patient.id)
    assert state["open_question"] == {
        "kind": "survey_item",
        "id": str(survey.id),
        "asked_at": "2026-12-02T09:05:00Z",
        "reply_due_at": "2026-12-04T09:05:00Z",  # 48 hours
        "item_key": "dialog.mental_health",
    }

    clock.advance(timedelta(minutes=5))
    await _reply(sms_client, sms_settings, patient, "5")

    assert await _answers(db, survey.id) == [("dialog.mental_health", 5)]
    assert (await check_ins(db, patient.id))[0].score == 4
    assert await escalations(db, patient.id) == []


async def test_two_sweeps_at_once_send_only_one_question(
    db, sessionmaker, clock, sms_channel, sms_client, sms_app, fake_twilio
):
    team = await builders.ward_team(db, sms_app)
    patients = [await _discharged_by_the_ward(db, sms_client, team, clock.now()) for _ in range(3)]
    clock.advance(timedelta(hours=24))
    extras = {CHANNEL_KEY: sms_channel}

    for _ in range(2):
        await asyncio.gather(
            run_sweep("checkins", checkin_sweep, sessionmaker, clock, extras),
            run_sweep("proms", proms_sweep, sessionmaker, clock, extras),
        )
    await run_sweep("outbox", outbox_sweep, sessionmaker, clock, extras)

    for patient in patients:
        sent = [m for m in fake_twilio.accepted if m.to == patient.mobile]
        assert len(sent) == 1, [m.body for m in sent]
        assert "Reply with a number from 1" in sent[0].body
        assert [p for p, _ in await _questions_sent(db, patient.id)] == ["checkin_prompt"]
        assert (await _discharge_survey(db, patient.id)).awaiting_item_key is None


async def test_a_sweep_asks_nothing_while_another_transaction_decides_for_the_patient(
    db, sessionmaker, clock, sms_client, sms_app, sms_worker
):
    team = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())
    clock.advance(timedelta(hours=24))

    async with sessionmaker() as other:
        # Another worker (or a reply being recorded) holds the patient row.
        await other.execute(
            select(Patient.id).where(Patient.id == patient.id).with_for_update(key_share=True)
        )
        await sms_worker.run_once("checkins")
        await sms_worker.run_once("proms")
        assert await _questions_sent(db, patient.id) == []
        await other.rollback()

    await sms_worker.run_once("checkins")
    await sms_worker.run_once("proms")
    assert [p for p, _ in await _questions_sent(db, patient.id)] == ["checkin_prompt"]


async def test_a_one_while_a_survey_is_under_way_answers_the_check_in_and_raises_urgent_low_score(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    team = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())
    await sms_worker.run_once()  # the first DIALOG item goes out at discharge
    survey = await _discharge_survey(db, patient.id)
    assert survey.awaiting_item_key == "dialog.mental_health"
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()  # the first check-in takes over

    clock.advance(timedelta(minutes=10))
    await _reply(sms_client, sms_settings, patient, "1")

    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.score, first.reply) == ("answered", 1, "1")
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity) == ("low_score", "urgent")
    assert await _answers(db, survey.id) == []


async def test_a_check_in_takes_over_from_a_waiting_survey_item_which_is_asked_again_afterwards(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    team = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())
    await sms_worker.run_once()  # 09:00 Dec 1: item 1 asked; its reply window ends 09:00 Dec 3
    survey = await _discharge_survey(db, patient.id)
    item_key = survey.awaiting_item_key
    assert item_key == "dialog.mental_health"

    clock.advance(timedelta(hours=24))  # 09:00 Dec 2: the first check-in is due
    await sms_worker.run_once()

    survey = await _discharge_survey(db, patient.id)
    assert (survey.status, survey.awaiting_item_key, survey.awaiting_since) == (
        "in_progress",
        None,
        None,
    )
    state = await _conversation(sms_client, team, patient.id)
    assert state["open_question"]["kind"] == "check_in"
    assert [w["id"] for w in state["waiting"] if w["kind"] == "survey_item"] == [str(survey.id)]

    clock.advance(timedelta(hours=2))  # 11:00: the reminder is part of the same question
    await sms_worker.run_once()
    clock.advance(timedelta(minutes=30))
    await _reply(sms_client, sms_settings, patient, "3")
    await sms_worker.run_once()  # 11:30 Dec 2: item 1 asked again, with a new 48-hour window

    assert [k for p, k in await _questions_sent(db, patient.id) if p == "prom_dialog"] == [
        f"prom:{survey.id}:{item_key}",
        f"prom:{survey.id}:{item_key}:again1",
    ]
    survey = await _discharge_survey(db, patient.id)
    assert survey.awaiting_since == datetime(2026, 12, 2, 11, 30, tzinfo=UTC)

    # Past the first asking's 48 hours: the time the check-in held the turn does not count.
    # (Only the PROMs sweep: the second check-in, due 09:00 Dec 3, would take the turn again.)
    clock.set(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    await sms_worker.run_once("proms")
    survey = await fresh(db, PromSurvey, survey.id)
    assert (survey.status, survey.awaiting_item_key) == ("in_progress", item_key)

    await _reply(sms_client, sms_settings, patient, "6")
    assert await _answers(db, survey.id) == [(item_key, 6)]
    assert (await check_ins(db, patient.id))[0].score == 3


async def test_a_survey_item_still_queued_when_a_check_in_takes_over_is_withdrawn(
    sms_client, sms_app, db, clock, sms_worker, sms_settings, fake_twilio
):
    team = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())
    # 09:00 Dec 1: item 1 is queued, but the outbox does not run (an outage, say) ...
    await sms_worker.run_once("proms")
    survey = await _discharge_survey(db, patient.id)
    item_key = survey.awaiting_item_key
    [queued] = [r for r in await outbox_rows(db, patient.id) if r.purpose == "prom_dialog"]
    assert queued.status == "queued"

    # ... until 09:00 Dec 2, when the first check-in is due and takes the turn.
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()

    # Only the check-in's question reached the phone: the item's text was withdrawn.
    assert [m.body for m in fake_twilio.sent_to(patient.mobile)] == [
        r.body for r in await outbox_rows(db, patient.id) if r.purpose == "checkin_prompt"
    ]
    withdrawn = await fresh(db, OutboxMessage, queued.id)
    assert (withdrawn.status, withdrawn.status_reason) == ("cancelled", "set_back")
    state = await _conversation(sms_client, team, patient.id)
    assert state["open_question"]["kind"] == "check_in"

    # Answering the check-in hands the turn back: the item is asked again, once.
    clock.advance(timedelta(minutes=10))
    await _reply(sms_client, sms_settings, patient, "4")
    await sms_worker.run_once()
    assert [k for p, k in await _questions_sent(db, patient.id) if p == "prom_dialog"] == [
        f"prom:{survey.id}:{item_key}:again1"
    ]
    assert (await check_ins(db, patient.id))[0].score == 4


async def test_a_check_in_left_unanswered_hands_the_turn_back_at_its_deadline(
    sms_client, sms_app, db, clock, sms_worker
):
    team = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())
    await sms_worker.run_once()
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()  # the check-in takes over at 09:00 Dec 2
    survey = await _discharge_survey(db, patient.id)

    clock.advance(timedelta(hours=4))  # 13:00: the check-in's 240-minute reply window ends
    await sms_worker.run_once()

    first = (await check_ins(db, patient.id))[0]
    assert first.status == "missed"
    survey = await _discharge_survey(db, patient.id)
    assert (survey.status, survey.awaiting_item_key) == ("in_progress", "dialog.mental_health")
    assert survey.awaiting_since == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert [e.reason for e in await escalations(db, patient.id)] == ["no_reply"]


async def test_conversation_of_another_wards_patient_is_not_found(sms_client, sms_app, db, clock):
    team = await builders.ward_team(db, sms_app)
    other = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())

    response = await sms_client.get(
        f"{PATIENTS}/{patient.id}/conversation", headers=other.nurse_headers
    )
    assert response.status_code == 404
    state = await _conversation(sms_client, team, patient.id)
    assert state["open_question"] is None


async def test_with_both_open_from_before_this_rule_the_reply_goes_to_the_check_in(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    team = await builders.ward_team(db, sms_app)
    patient = await _discharged_by_the_ward(db, sms_client, team, clock.now())
    await sms_worker.run_once()  # the first DIALOG item awaits its answer
    clock.advance(timedelta(hours=24))
    first = (await check_ins(db, patient.id))[0]
    # A check-in prompted by the old dispatch, which did not set the survey item back.
    await db.execute(
        update(CheckIn)
        .where(CheckIn.id == first.id)
        .values(status="sent", sent_at=clock.now(), next_action_at=clock.now() + timedelta(hours=2))
    )
    await db.commit()
    survey = await _discharge_survey(db, patient.id)
    assert survey.awaiting_item_key is not None

    await _reply(sms_client, sms_settings, patient, "1")

    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.score) == ("answered", 1)
    assert [(e.reason, e.severity) for e in await escalations(db, patient.id)] == [
        ("low_score", "urgent")
    ]
    assert await _answers(db, survey.id) == []
