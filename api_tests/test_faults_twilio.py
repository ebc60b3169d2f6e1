"""Twilio unreachable for a while: messages wait, then go out once it is back, once each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from db.models import OutboxMessage
from service.sms import outbox


async def test_messages_wait_while_twilio_is_down_and_go_once_when_it_is_back(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patients = [await builders.home_patient(db, ward.id) for _ in range(3)]
    for p in patients:
        await outbox.enqueue(
            db,
            dedupe_key=f"outage:{p.id}",
            to_number=p.mobile,
            body="hello",
            purpose="test",
            now=clock.now(),
            patient_id=p.id,
            ward_id=p.ward_id,
        )
    await db.commit()
    port = fake_twilio.port
    await fake_twilio.stop()  # connections are refused: nothing can have left

    for _ in range(3):
        await sms_worker.run_once("outbox")
        clock.advance(timedelta(minutes=5))
    rows = (await db.scalars(select(OutboxMessage).execution_options(populate_existing=True))).all()
    assert {r.status for r in rows} == {"queued"}
    assert all(r.attempts >= 1 for r in rows)

    await fake_twilio.start(port=port)
    clock.advance(timedelta(minutes=10))
    await sms_worker.run_once("outbox")
    await sms_worker.run_once("outbox")

    assert sorted(m.to for m in fake_twilio.accepted) == sorted(p.mobile for p in patients)
    rows = (await db.scalars(select(OutboxMessage).execution_options(populate_existing=True))).all()
    assert {r.status for r in rows} == {"sent"}
