"""The outbox sends every message once, through the real twilio SDK to a loopback fake."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.conftest import TWILIO_FROM
from api_tests.sms_helpers import (
    check_ins,
    discharged_patient,
    escalations,
    fresh,
    outbox_rows,
)
from db.models import OutboxMessage, Patient, PromSurvey, SmsNumberFlag
from jobs.checkins import checkin_sweep
from jobs.outbox import outbox_sweep
from jobs.runner import run_sweep
from jobs.worker import Worker
from service.conversation.delivery import DELIVERY_HOOKS
from service.proms.service import schedule_surveys
from service.sms import outbox
from service.sms.backends import open_channel
from service.sms.console import ConsoleGateway
from service.sms.gateway import CHANNEL_KEY


async def _queue(db, patient, clock, key="test:1", body="hello from the test"):
    outbox_id = await outbox.enqueue(
        db,
        dedupe_key=key,
        to_number=patient.mobile,
        body=body,
        purpose="test",
        now=clock.now(),
        patient_id=patient.id,
        ward_id=patient.ward_id,
    )
    await db.commit()
    return outbox_id


async def _row(db, outbox_id) -> OutboxMessage:
    row = await fresh(db, OutboxMessage, outbox_id)
    assert row is not None
    return row


async def test_a_due_check_in_is_sent_once_with_two_sweeps_at_once_and_when_run_twice(
    db, sessionmaker, clock, sms_channel, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    clock.advance(timedelta(hours=24))
    extras = {CHANNEL_KEY: sms_channel}

    await asyncio.gather(
        run_sweep("checkins", checkin_sweep, sessionmaker, clock, extras),
        run_sweep("checkins", checkin_sweep, sessionmaker, clock, extras),
    )
    await asyncio.gather(
        run_sweep("outbox", outbox_sweep, sessionmaker, clock, extras),
        run_sweep("outbox", outbox_sweep, sessionmaker, clock, extras),
    )
    await sms_worker.run_once()
    await sms_worker.run_once()

    assert len(fake_twilio.creates) == 1
    [sent] = fake_twilio.accepted
    assert (sent.to, sent.from_) == (patient.mobile, TWILIO_FROM)
    assert "Reply with a number from 1" in sent.body
    [row] = await outbox_rows(db, patient.id)
    assert row.dedupe_key.endswith(":prompt")
    assert (row.status, row.sid, row.attempts) == ("sent", sent.sid, 1)
    assert sent.status_callback == (
        f"https://homeward.test/webhooks/twilio/status?outbox_id={row.id}"
    )
    first = (await check_ins(db, patient.id))[0]
    assert first.status == "sent"


async def test_429_twice_then_success_sends_exactly_one_message(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    fake_twilio.fail_next("rate_limited", times=2)

    await sms_worker.run_once("outbox")
    row = await _row(db, outbox_id)
    assert (row.status, row.attempts, row.error_code) == ("queued", 1, 20429)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)

    await sms_worker.run_once("outbox")  # not due yet: nothing leaves
    assert len(fake_twilio.creates) == 1

    clock.advance(timedelta(seconds=30))
    await sms_worker.run_once("outbox")
    row = await _row(db, outbox_id)
    assert (row.status, row.attempts) == ("queued", 2)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=60)

    clock.advance(timedelta(seconds=60))
    await sms_worker.run_once("outbox")
    await sms_worker.run_once("outbox")

    assert len(fake_twilio.creates) == 3
    assert len(fake_twilio.accepted) == 1
    row = await _row(db, outbox_id)
    assert (row.status, row.attempts, row.sid) == ("sent", 3, fake_twilio.accepted[0].sid)


async def test_a_dropped_connection_after_twilio_accepted_is_never_resent(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    fake_twilio.fail_next("drop")

    await sms_worker.run_once("outbox")
    row = await _row(db, outbox_id)
    assert (row.status, row.sid) == ("unknown", None)
    assert len(fake_twilio.accepted) == 1  # Twilio did create it

    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        await sms_worker.run_once("outbox")

    assert len(fake_twilio.creates) == 1
    # Nobody could confirm it, so staff are told instead of the patient being texted twice.
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.source_id) == ("undeliverable", str(outbox_id))
    assert (await _row(db, outbox_id)).status == "unknown"


async def test_a_500_or_a_timeout_is_ambiguous_and_not_resent(
    db, sessionmaker, clock, sms_settings, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    first = await _queue(db, patient, clock, key="test:500")
    clock.advance(timedelta(seconds=1))
    second = await _queue(db, patient, clock, key="test:slow")
    fake_twilio.fail_next("server_error")
    fake_twilio.fail_next("slow")
    # A timeout short enough to meet, with the slow answer well past it even under load.
    fake_twilio.slow_seconds = 4.0
    impatient = replace(sms_settings, twilio_timeout_seconds=2.0)
    async with open_channel(impatient, DELIVERY_HOOKS) as channel:
        channel.concurrency = 1  # in order: the 500, then the slow one
        worker = Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: channel})
        await worker.run_once("outbox")
        clock.advance(timedelta(minutes=1))
        await worker.run_once("outbox")

    assert [(await _row(db, i)).status for i in (first, second)] == ["unknown", "unknown"]
    assert [(await _row(db, i)).status_reason for i in (first, second)] == ["20500", "timeout"]
    assert len(fake_twilio.creates) == 2


async def test_21610_closes_the_channel_and_cancels_future_prompts(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    fake_twilio.fail_for(patient.mobile, "opted_out")
    clock.advance(timedelta(hours=24))

    await sms_worker.run_once()
    await sms_worker.run_once()

    assert (await fresh(db, Patient, patient.id)).sms_opted_out is True
    rows = await check_ins(db, patient.id)
    assert {(r.status, r.status_reason) for r in rows} == {("cancelled", "opted_out")}
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity, escalation.status) == (
        "opted_out",
        "routine",
        "open",
    )
    [row] = await outbox_rows(db, patient.id)
    assert (row.status, row.error_code) == ("failed", 21610)

    # Weeks later, nothing more is attempted.
    clock.advance(timedelta(days=30))
    await sms_worker.run_once()
    assert len(fake_twilio.creates) == 1


async def test_21211_flags_the_number_skips_the_check_in_and_tells_staff_once(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    fake_twilio.fail_for(patient.mobile, "invalid_number")

    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()

    assert len(fake_twilio.creates) == 1
    first, second = (await check_ins(db, patient.id))[:2]
    assert (first.status, first.status_reason) == ("skipped", "undeliverable")
    assert (second.status, second.status_reason) == ("skipped", "undeliverable")
    [flag] = (await db.scalars(select(SmsNumberFlag))).all()
    assert (flag.mobile, flag.error_code) == (patient.mobile, 21211)
    [escalation] = await escalations(db, patient.id)
    assert escalation.reason == "undeliverable"
    assert "21211" in (escalation.note or "")


async def test_21614_not_a_mobile_is_undeliverable_too(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    fake_twilio.fail_next("not_mobile")

    await sms_worker.run_once("outbox")

    row = await _row(db, outbox_id)
    assert (row.status, row.error_code) == ("failed", 21614)
    assert [e.reason for e in await escalations(db, patient.id)] == ["undeliverable"]


async def test_a_claim_whose_worker_died_before_sending_is_sent_once_after_the_lease(
    db, sessionmaker, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    async with sessionmaker() as dead_worker:
        claimed = await outbox.claim_batch(
            dead_worker, now=clock.now(), owner="dead", limit=10, lease=timedelta(minutes=5)
        )
        await dead_worker.commit()
    assert [c.id for c in claimed] == [outbox_id]

    await sms_worker.run_once("outbox")
    assert fake_twilio.creates == []  # the lease is still live

    clock.advance(timedelta(minutes=6))
    await sms_worker.run_once("outbox")
    await sms_worker.run_once("outbox")

    assert len(fake_twilio.creates) == 1
    assert (await _row(db, outbox_id)).status == "sent"


async def test_a_row_left_sending_by_a_dead_worker_becomes_unknown_and_is_not_resent(
    db, sessionmaker, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    async with sessionmaker() as dead_worker:
        await outbox.claim_batch(
            dead_worker, now=clock.now(), owner="dead", limit=10, lease=timedelta(minutes=5)
        )
        marked = await outbox.mark_sending(
            dead_worker, DELIVERY_HOOKS, [outbox_id], "dead", clock.now(), timedelta(minutes=2)
        )
        await dead_worker.commit()
    assert marked == {outbox_id}

    clock.advance(timedelta(minutes=3))
    await sms_worker.run_once("outbox")
    row = await _row(db, outbox_id)
    assert (row.status, row.status_reason) == ("unknown", "lease_expired")

    clock.advance(timedelta(hours=1))
    await sms_worker.run_once("outbox")
    assert fake_twilio.creates == []
    assert [e.reason for e in await escalations(db, patient.id)] == ["undeliverable"]


async def test_a_lookup_confirms_delivery_when_no_callback_comes(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    await sms_worker.run_once("outbox")
    row = await _row(db, outbox_id)
    fake_twilio.set_status(row.sid, "delivered")

    clock.advance(timedelta(minutes=30, seconds=1))  # a send is looked up after 30 minutes
    await sms_worker.run_once("outbox")

    row = await _row(db, outbox_id)
    assert (row.status, row.provider_status, row.check_due_at) == ("delivered", "delivered", None)
    lookups = [r for r in fake_twilio.requests if r.method == "GET"]
    assert len(lookups) == 1 and lookups[0].path.endswith(f"/Messages/{row.sid}.json")


async def test_21610_has_the_effects_of_a_stop_text_surveys_and_queued_texts_included(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    await schedule_surveys(db, patient.id, clock.now(), clock.now())
    await db.commit()
    first = await _queue(db, patient, clock, key="test:first")
    second = await _queue(db, patient, clock, key="test:second")
    # The first text is refused by the carrier; the second waits behind it (one per pass).
    fake_twilio.fail_for(patient.mobile, "opted_out")
    await db.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == second)
        .values(next_attempt_at=clock.now() + timedelta(minutes=1))
    )
    await db.commit()

    await sms_worker.run_once("outbox")

    assert (await fresh(db, Patient, patient.id)).sms_opted_out is True
    assert (await _row(db, first)).status == "failed"
    assert ((await _row(db, second)).status, (await _row(db, second)).status_reason) == (
        "cancelled",
        "opted_out",
    )
    surveys = (
        await db.scalars(select(PromSurvey.status).where(PromSurvey.patient_id == patient.id))
    ).all()
    assert sorted(surveys) == ["cancelled"] * 4
    assert [e.reason for e in await escalations(db, patient.id)] == ["opted_out"]


async def test_messages_queued_before_an_opt_out_are_cancelled_not_sent(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    await db.execute(
        Patient.__table__.update().where(Patient.id == patient.id).values(sms_opted_out=True)
    )
    await db.commit()

    await sms_worker.run_once("outbox")

    assert fake_twilio.creates == []
    assert (await _row(db, outbox_id)).status == "cancelled"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sms_consent": False}, "no_consent"),
        ({"mobile": "+447700900999"}, "number_changed"),
        ({"status": "readmitted"}, "on_ward"),
        ({"status": "closed"}, "closed"),
    ],
)
async def test_the_send_step_withdraws_a_queued_text_the_texting_rule_now_refuses(
    db, clock, sms_worker, fake_twilio, change, reason
):
    # Queued while the patient could be texted; by the time the sweep runs, they cannot.
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    await db.execute(Patient.__table__.update().where(Patient.id == patient.id).values(**change))
    await db.commit()

    await sms_worker.run_once("outbox")

    assert fake_twilio.creates == []
    row = await _row(db, outbox_id)
    assert (row.status, row.status_reason, row.attempts) == ("cancelled", reason, 0)


async def test_a_text_to_a_number_the_carrier_refused_is_withdrawn_at_the_send_step(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock)
    db.add(SmsNumberFlag(patient_id=patient.id, mobile=patient.mobile, flagged_at=clock.now()))
    await db.commit()

    await sms_worker.run_once("outbox")

    assert fake_twilio.creates == []
    assert (await _row(db, outbox_id)).status_reason == "undeliverable"


async def test_the_console_backend_records_and_prints_no_patient_data(
    db, sessionmaker, clock, settings, capsys
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await _queue(db, patient, clock, body="a private message body")
    gateway = ConsoleGateway()
    async with open_channel(settings, DELIVERY_HOOKS, gateway) as channel:
        worker = Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: channel})
        await worker.run_once("outbox")

    [message] = gateway.sent
    assert (message.to, message.body) == (patient.mobile, "a private message body")
    printed = capsys.readouterr().out
    assert str(outbox_id) in printed
    assert "private" not in printed and patient.mobile not in printed
    assert (await _row(db, outbox_id)).status == "sent"


async def test_the_app_opens_the_twilio_gateway_in_its_lifespan(sms_app, sms_client):
    channel = sms_app.state.resources.extras[CHANNEL_KEY]
    assert channel.gateway.name == "twilio"
    assert channel.gateway.http.session is not None
