"""The SMS spend guard: a per-patient daily cap and a global hourly cap on outgoing messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from db.models import Escalation, OutboxMessage
from jobs.worker import Worker
from service.sms import outbox
from service.sms.gateway import CHANNEL_KEY
from service.wards.schemas import EscalationPolicy


async def _queue_many(db, patient, clock, n: int, prefix: str) -> None:
    for i in range(n):
        await outbox.enqueue(
            db,
            dedupe_key=f"{prefix}:{i}",
            to_number=patient.mobile,
            body=f"message {i}",
            purpose="test",
            now=clock.now(),
            patient_id=patient.id,
            ward_id=patient.ward_id,
        )
    await db.commit()


async def test_no_patient_is_texted_past_the_daily_cap_and_staff_are_told(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    await _queue_many(db, patient, clock, 15, "runaway")

    await sms_worker.run_once("outbox")
    await sms_worker.run_once("outbox")

    assert len(fake_twilio.sent_to(patient.mobile)) == 12
    rows = (
        await db.scalars(select(OutboxMessage).where(OutboxMessage.patient_id == patient.id))
    ).all()
    held = [r for r in rows if r.status == "cancelled"]
    assert len(held) == 3
    assert {r.status_reason for r in held} == {"daily_cap"}
    escalations = (
        await db.scalars(select(Escalation).where(Escalation.patient_id == patient.id))
    ).all()
    assert [(e.reason, e.source_type) for e in escalations] == [("undeliverable", "sms_daily_cap")]

    # The next day the channel is open again, and a second day's cap raises its own escalation.
    clock.advance(timedelta(hours=24, minutes=1))
    await _queue_many(db, patient, clock, 2, "next-day")
    await sms_worker.run_once("outbox")
    assert len(fake_twilio.sent_to(patient.mobile)) == 14


async def test_staff_notifications_do_not_count_against_a_patients_cap(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id, mobile="+447911000111")
    await _queue_many(db, patient, clock, 12, "patient")
    for i in range(3):
        await outbox.enqueue(
            db,
            dedupe_key=f"staff:{i}",
            to_number=nurse.mobile,
            body="Homeward: see the ward board",
            purpose="escalation",
            now=clock.now(),
            recipient_kind="staff",
            user_id=nurse.id,
            ward_id=ward.id,
            patient_id=patient.id,
        )
    await db.commit()

    await sms_worker.run_once("outbox")

    assert len(fake_twilio.sent_to(patient.mobile)) == 12
    assert len(fake_twilio.sent_to(nurse.mobile)) == 3


async def test_the_hourly_cap_pauses_everything_until_the_hour_rolls_on(
    db, sessionmaker, clock, sms_channel, fake_twilio
):
    ward = await builders.ward(db)
    patients = [await builders.home_patient(db, ward.id) for _ in range(8)]
    for p in patients:
        await _queue_many(db, p, clock, 1, f"hourly-{p.id}")
    capped = replace(sms_channel, hourly_cap=5)
    worker = Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: capped})

    await worker.run_once("outbox")
    await worker.run_once("outbox")
    assert len(fake_twilio.accepted) == 5

    clock.advance(timedelta(minutes=61))
    await worker.run_once("outbox")
    assert len(fake_twilio.accepted) == 8
    statuses = (await db.scalars(select(OutboxMessage.status))).all()
    assert sorted(statuses) == ["sent"] * 8


async def test_staff_alerts_still_go_when_the_hourly_cap_holds_patient_texts(
    db, sessionmaker, clock, sms_channel, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    await _queue_many(db, patient, clock, 3, "before")
    capped = replace(sms_channel, hourly_cap=3)
    worker = Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: capped})
    await worker.run_once("outbox")
    assert len(fake_twilio.accepted) == 3

    await _queue_many(db, patient, clock, 2, "held")
    await outbox.enqueue(
        db,
        dedupe_key="escalation:alert",
        to_number=builders.mobile(),
        body="Homeward: urgent escalation for patient ref abc, see the ward board.",
        purpose="escalation_notice",
        now=clock.now(),
        recipient_kind="staff",
        patient_id=patient.id,
        ward_id=ward.id,
    )
    await db.commit()
    await worker.run_once("outbox")

    assert [m.body for m in fake_twilio.accepted[3:]] == [
        "Homeward: urgent escalation for patient ref abc, see the ward board."
    ]
    held = await db.scalars(select(OutboxMessage.status).where(OutboxMessage.purpose == "test"))
    assert sorted(held.all()) == ["queued", "queued", "sent", "sent", "sent"]


def test_the_webhook_limiter_refuses_a_flood_from_one_address_only():
    from service.http.rate_limit import SlidingWindow

    now = [0.0]
    window = SlidingWindow(3, 60, clock=lambda: now[0])
    assert [window.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert window.allow("5.6.7.8")
    now[0] = 61
    assert window.allow("1.2.3.4")


async def test_the_hourly_cap_tells_each_affected_ward_once_an_hour(
    db, sessionmaker, clock, sms_channel, fake_twilio
):
    on_call = "+442079460123"
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=on_call))
    manager = await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    await builders.ward(
        db, escalation_policy=EscalationPolicy(on_call_phone=on_call)
    )  # no held texts
    patient = await builders.home_patient(db, ward.id)
    await _queue_many(db, patient, clock, 4, "flood")
    capped = replace(sms_channel, hourly_cap=2)
    worker = Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: capped})

    await worker.run_once("outbox")  # two texts go, two are held
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        await worker.run_once("outbox")  # the cap is hit: the ward is told, once

    paused = (
        "Homeward: the hourly SMS limit was reached; texts to patients are paused until it "
        "clears. Check-ins may go unanswered meanwhile, see the ward board."
    )
    alerts = [m for m in fake_twilio.accepted if m.body == paused]
    assert sorted(m.to for m in alerts) == sorted([manager.mobile, on_call])
    rows = await db.scalars(
        select(OutboxMessage.ward_id).where(OutboxMessage.purpose == "sms_paused_alert")
    )
    assert set(rows.all()) == {ward.id}
