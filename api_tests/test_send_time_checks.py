"""What the outbox checks again at the moment a patient text would leave: the contact window
and the words' fit with discreet mode. Real PostgreSQL, the real Twilio SDK, the loopback fake.

Times are worked out by hand: Europe/London is UTC in winter and UTC+1 in summer; in 2027
the clocks go forward at 01:00 UTC on 28 March and back at 01:00 UTC on 31 October.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import update

from api_tests import builders
from api_tests.sms_helpers import check_ins, discharged_patient, escalations, fresh, outbox_rows
from db.models import CheckIn, OutboxMessage, Patient
from service.sms import outbox


async def _queue(db, patient, now, *, purpose="ward_message", key="test:1"):
    outbox_id = await outbox.enqueue(
        db,
        dedupe_key=key,
        to_number=patient.mobile,
        body="A text from the ward.",
        purpose=purpose,
        now=now,
        patient_id=patient.id,
        ward_id=patient.ward_id,
    )
    await db.commit()
    return outbox_id


async def _prompt_queued_at_19_00(db, clock, sms_worker, **patient_fields):
    """A check-in prompt queued at 19:00 London on 2 December 2026 (window 09:00-20:00)."""
    clock.set(datetime(2026, 12, 1, 19, 0, tzinfo=UTC))
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now(), **patient_fields)
    clock.set(datetime(2026, 12, 2, 19, 0, tzinfo=UTC))
    await sms_worker.run_once("checkins")
    [prompt] = await outbox_rows(db, patient.id)
    assert (prompt.purpose, prompt.status) == ("checkin_prompt", "queued")
    return patient, prompt


async def test_a_prompt_held_through_an_outage_lapses_when_its_reply_window_ends_in_the_night(
    db, clock, sms_worker, fake_twilio
):
    patient, prompt = await _prompt_queued_at_19_00(db, clock, sms_worker)
    # Twilio refuses for a while (429): the text is queued again with a backoff...
    fake_twilio.fail_next("rate_limited")
    await sms_worker.run_once("outbox")
    assert (await fresh(db, OutboxMessage, prompt.id)).status == "queued"
    # ... and the worker is down until 03:00. The reply window (4 h) closed at 23:00 and the
    # next opening is 09:00: the question lapses instead of arriving at 03:00 or at 09:00.
    clock.set(datetime(2026, 12, 3, 3, 0, tzinfo=UTC))
    await sms_worker.run_once("outbox")

    assert fake_twilio.accepted == []
    row = await fresh(db, OutboxMessage, prompt.id)
    assert (row.status, row.status_reason, row.attempts) == ("cancelled", "window_passed", 1)
    # The check-in closes on its own clock as lapsed, not missed: the patient was never
    # asked (what staff are told then is the next test's).
    await sms_worker.run_once("checkins")
    [check_in, *_] = await check_ins(db, patient.id)
    assert (check_in.status, check_in.status_reason) == ("skipped", "window_passed")


async def test_a_lapsed_prompt_still_raises_no_reply_once_so_the_silent_slot_is_seen(
    db, clock, sms_worker, fake_twilio
):
    patient, prompt = await _prompt_queued_at_19_00(db, clock, sms_worker)
    fake_twilio.fail_next("rate_limited")
    await sms_worker.run_once("outbox")
    clock.set(datetime(2026, 12, 3, 3, 0, tzinfo=UTC))
    await sms_worker.run_once("outbox")
    assert (await fresh(db, OutboxMessage, prompt.id)).status_reason == "window_passed"
    assert await escalations(db, patient.id) == []

    # The reply window ended at 23:00 with the prompt never sent: staff hear of it as they
    # would of a miss, once however often the sweep runs, and told why.
    await sms_worker.run_once("checkins")
    await sms_worker.run_once("checkins")
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity, escalation.status) == (
        "no_reply",
        "routine",
        "open",
    )
    assert (escalation.source_type, escalation.source_id) == ("check_in", str(prompt.check_in_id))
    assert escalation.note is not None and "lapsed unsent" in escalation.note
    assert fake_twilio.accepted == [] or all(m.to != patient.mobile for m in fake_twilio.accepted)


async def test_a_prompt_held_through_an_outage_waits_for_the_next_opening_when_still_answerable(
    db, clock, sms_worker, fake_twilio
):
    patient, prompt = await _prompt_queued_at_19_00(db, clock, sms_worker)
    # A 24 h reply window: the question can still be answered after the night.
    await db.execute(
        update(CheckIn).where(CheckIn.id == prompt.check_in_id).values(reply_window_minutes=1440)
    )
    await db.commit()
    fake_twilio.fail_next("rate_limited")
    await sms_worker.run_once("outbox")
    clock.set(datetime(2026, 12, 3, 3, 0, tzinfo=UTC))
    await sms_worker.run_once("outbox")

    assert fake_twilio.accepted == []
    row = await fresh(db, OutboxMessage, prompt.id)
    assert (row.status, row.status_reason) == ("queued", "outside_window")
    assert row.next_attempt_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert row.lease_until is None

    clock.set(datetime(2026, 12, 3, 8, 59, tzinfo=UTC))
    await sms_worker.run_once("outbox")
    assert fake_twilio.accepted == []
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    await sms_worker.run_once("outbox")
    [sent] = fake_twilio.accepted
    assert sent.to == patient.mobile
    assert (await fresh(db, OutboxMessage, prompt.id)).status == "sent"


@pytest.mark.parametrize(
    ("queued_at", "held_at", "opening", "open_at"),
    [
        # Spring forward: 09:00 BST on 28 March 2027 is 08:00 UTC; at 07:30 UTC the local
        # clock reads 08:30 (closed), at 08:30 UTC it reads 09:30 (open).
        (
            datetime(2027, 3, 27, 19, 30, tzinfo=UTC),
            datetime(2027, 3, 28, 7, 30, tzinfo=UTC),
            datetime(2027, 3, 28, 8, 0, tzinfo=UTC),
            datetime(2027, 3, 28, 8, 30, tzinfo=UTC),
        ),
        # Fall back: 09:00 GMT on 31 October 2027 is 09:00 UTC; at 08:30 UTC the local clock
        # reads 08:30 GMT (closed, though it would be 09:30 on summer time).
        (
            datetime(2027, 10, 30, 18, 30, tzinfo=UTC),
            datetime(2027, 10, 31, 8, 30, tzinfo=UTC),
            datetime(2027, 10, 31, 9, 0, tzinfo=UTC),
            datetime(2027, 10, 31, 9, 0, tzinfo=UTC),
        ),
    ],
    ids=["spring_forward", "fall_back"],
)
async def test_a_held_text_goes_at_the_local_opening_across_a_clock_change(
    db, clock, sms_worker, fake_twilio, queued_at, held_at, opening, open_at
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    await db.commit()
    outbox_id = await _queue(db, patient, queued_at)

    clock.set(held_at)
    await sms_worker.run_once("outbox")
    assert fake_twilio.accepted == []
    row = await fresh(db, OutboxMessage, outbox_id)
    assert (row.status, row.next_attempt_at) == ("queued", opening)

    clock.set(open_at)
    await sms_worker.run_once("outbox")
    assert len(fake_twilio.accepted) == 1


@pytest.mark.parametrize(
    ("at", "goes", "opening"),
    [
        (datetime(2026, 12, 2, 3, 0, tzinfo=UTC), True, None),
        (datetime(2026, 12, 2, 12, 0, tzinfo=UTC), False, datetime(2026, 12, 2, 20, 0, tzinfo=UTC)),
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), False, datetime(2026, 12, 2, 20, 0, tzinfo=UTC)),
    ],
    ids=["03:00_inside", "12:00_outside", "08:00_end_is_closed"],
)
async def test_a_window_that_wraps_midnight_is_read_at_send_time_as_at_queue_time(
    db, clock, sms_worker, fake_twilio, at, goes, opening
):
    # A night worker's window: 20:00-08:00.
    ward = await builders.ward(db)
    patient = await builders.home_patient(
        db, ward.id, contact_window_start=time(20, 0), contact_window_end=time(8, 0)
    )
    await db.commit()
    outbox_id = await _queue(db, patient, at - timedelta(minutes=1))
    clock.set(at)
    await sms_worker.run_once("outbox")

    assert len(fake_twilio.accepted) == (1 if goes else 0)
    row = await fresh(db, OutboxMessage, outbox_id)
    if not goes:
        assert (row.status, row.next_attempt_at) == ("queued", opening)


async def test_an_answer_to_the_patients_own_text_is_not_held_for_the_window(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    await db.commit()
    clock.set(datetime(2026, 12, 2, 3, 0, tzinfo=UTC))
    await _queue(db, patient, clock.now(), purpose="crisis_reply")
    await sms_worker.run_once("outbox")
    assert len(fake_twilio.accepted) == 1


async def test_a_prompt_queued_before_discreet_mode_came_on_goes_in_discreet_words(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once("checkins")
    [first] = await outbox_rows(db, patient.id)
    assert "Homeward" in first.body
    # Discreet mode switched on (the phone is now shared) before the outbox sends it.
    await db.execute(update(Patient).where(Patient.id == patient.id).values(discreet_messages=True))
    await db.commit()

    await sms_worker.run_once("outbox")
    assert fake_twilio.creates == []
    withdrawn = await fresh(db, OutboxMessage, first.id)
    assert (withdrawn.status, withdrawn.status_reason) == ("cancelled", "wording_changed")
    [check_in, *_] = await check_ins(db, patient.id)
    assert (check_in.status, check_in.sent_at) == ("scheduled", None)

    await sms_worker.run_once("checkins")
    await sms_worker.run_once("outbox")
    [sent] = fake_twilio.accepted
    assert sent.body.startswith("Hi. How are things today?")
    for word in ("Homeward", "care team", "check-in"):
        assert word not in sent.body
    [check_in, *_] = await check_ins(db, patient.id)
    assert (check_in.status, check_in.sent_at) == ("sent", clock.now())


async def test_a_discreet_prompt_still_goes_after_discreet_mode_is_switched_off(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now(), discreet_messages=True)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once("checkins")
    await db.execute(
        update(Patient).where(Patient.id == patient.id).values(discreet_messages=False)
    )
    await db.commit()

    await sms_worker.run_once("outbox")
    [sent] = fake_twilio.accepted
    assert sent.body.startswith("Hi. How are things today?")
