"""Check-ins from discharge: the taper, quiet hours, prompts, reminders, misses, and the API."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import check_ins, discharged_patient, outbox_rows
from db.models import AuditEvent, CheckIn, SmsNumberFlag
from service.checkins import lifecycle

# Words a discreet text must never contain (prefixes catch "psychiatric", "therapy", ...).
CLINICAL_WORDS = (
    "mental",
    "health",
    "ward",
    "hospital",
    "nhs",
    "clinic",
    "nurse",
    "doctor",
    "psychiatr",
    "therap",
    "mood",
    "medication",
    "meds",
    "discharge",
    "relapse",
    "crisis",
    "recovery",
    "care team",
    "key worker",
    "check-in",
    "check in",
    "homeward",
    "symptom",
    "suicid",
    "self-harm",
    "self harm",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def test_discharge_starts_the_default_taper_to_12_weeks(db, clock):
    ward = await builders.ward(db)
    discharged = clock.now()
    patient = await discharged_patient(db, ward.id, discharged)

    rows = await check_ins(db, patient.id)

    hours = [int((r.due_at - discharged).total_seconds() // 3600) for r in rows]
    assert hours == [24, 48, 72, 120, 168] + [24 * 7 * w for w in range(2, 13)]
    assert {r.status for r in rows} == {"scheduled"}
    assert rows[-1].due_at == discharged + timedelta(weeks=12)


async def test_starting_the_schedule_twice_for_one_discharge_changes_nothing(db, clock):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    before = [r.id for r in await check_ins(db, patient.id)]

    await lifecycle.start_schedule(db, patient.id, clock.now(), clock.now())
    await db.commit()

    assert [r.id for r in await check_ins(db, patient.id)] == before


async def test_prompt_then_one_reminder_then_missed(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())

    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    await sms_worker.run_once()
    assert [m.body.split(":")[0] for m in fake_twilio.accepted] == ["Homeward check-in"]

    clock.advance(timedelta(minutes=120))
    await sms_worker.run_once()
    await sms_worker.run_once()
    assert len(fake_twilio.accepted) == 2
    assert fake_twilio.accepted[1].body.startswith("Reminder")

    clock.advance(timedelta(minutes=120))
    await sms_worker.run_once()
    await sms_worker.run_once()

    first = (await check_ins(db, patient.id))[0]
    assert first.status == "missed"
    assert first.reminded_at == utc(2026, 12, 2, 11, 0)
    assert len(fake_twilio.creates) == 2
    keys = [r.dedupe_key.rsplit(":", 1)[1] for r in await outbox_rows(db, patient.id)]
    assert keys == ["prompt", "reminder"]


@pytest.mark.parametrize(
    ("discharged_at", "due_local_3am_utc", "opening_utc"),
    [
        # Winter (GMT): 03:00 local is 03:00 UTC; the window opens at 09:00 UTC.
        (utc(2026, 12, 1, 3, 0), utc(2026, 12, 2, 3, 0), utc(2026, 12, 2, 9, 0)),
        # The day the clocks go forward: 03:00 BST is 02:00 UTC; 09:00 BST is 08:00 UTC.
        (utc(2026, 3, 28, 2, 0), utc(2026, 3, 29, 2, 0), utc(2026, 3, 29, 8, 0)),
        # The day the clocks go back: 03:00 GMT is 03:00 UTC; 09:00 GMT is 09:00 UTC.
        (utc(2026, 10, 24, 3, 0), utc(2026, 10, 25, 3, 0), utc(2026, 10, 25, 9, 0)),
    ],
    ids=["winter", "march-change", "october-change"],
)
async def test_a_prompt_due_at_3am_local_goes_at_the_window_opening(
    db, clock, sms_worker, fake_twilio, discharged_at, due_local_3am_utc, opening_utc
):
    clock.set(discharged_at)
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, discharged_at)
    first = (await check_ins(db, patient.id))[0]
    assert first.due_at == due_local_3am_utc
    assert first.next_action_at == opening_utc

    clock.set(due_local_3am_utc)
    await sms_worker.run_once()
    clock.set(opening_utc - timedelta(minutes=1))
    await sms_worker.run_once()
    assert fake_twilio.creates == []

    clock.set(opening_utc)
    await sms_worker.run_once()
    assert len(fake_twilio.accepted) == 1
    assert (await check_ins(db, patient.id))[0].sent_at == opening_utc


async def test_a_window_changed_after_scheduling_is_respected_at_send_time(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    patient.contact_window_start = time(12, 0)
    await db.commit()

    clock.advance(timedelta(hours=24))  # 09:00: the new window opens at 12:00
    await sms_worker.run_once()
    assert fake_twilio.creates == []
    assert (await check_ins(db, patient.id))[0].next_action_at == utc(2026, 12, 2, 12, 0)


async def test_discreet_prompts_say_nothing_clinical(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    await discharged_patient(db, ward.id, clock.now(), discreet_messages=True)

    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(hours=2))
    await sms_worker.run_once()

    bodies = [m.body.lower() for m in fake_twilio.accepted]
    assert len(bodies) == 2
    for body in bodies:
        assert not [w for w in CLINICAL_WORDS if w in body], body
        assert "1" in body and "5" in body


async def test_readmission_pauses_check_ins_and_the_next_discharge_restarts_them(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()  # first prompt goes

    clock.advance(timedelta(minutes=30))
    patient.status = "readmitted"
    await lifecycle.pause_for_readmission(db, patient.id, clock.now())
    await db.commit()
    clock.advance(timedelta(days=3))
    await sms_worker.run_once()

    rows = await check_ins(db, patient.id)
    assert {(r.status, r.status_reason) for r in rows} == {("cancelled", "readmitted")}
    assert len(fake_twilio.creates) == 1

    patient.status = "discharged"
    discharged = clock.now()
    await lifecycle.start_schedule(db, patient.id, discharged, discharged)
    await db.commit()
    pending = [r for r in await check_ins(db, patient.id) if r.status == "scheduled"]
    assert len(pending) == 16
    assert pending[0].due_at == discharged + timedelta(hours=24)


async def test_no_consent_skips_without_sending(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now(), sms_consent=False)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()

    assert fake_twilio.creates == []
    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.status_reason) == ("skipped", "no_consent")


# --- the API ------------------------------------------------------------------------------


async def _staff(client, db, ward):
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    return builders.bearer(client.app, nurse)


async def test_schedule_reads_defaults_and_a_put_regenerates_future_check_ins(client, db, clock):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    headers = await _staff(client, db, ward)
    url = f"/api/v1/patients/{patient.id}/check-in-schedule"

    got = (await client.get(url, headers=headers)).json()
    assert got["offsets_hours"][:5] == [24, 48, 72, 120, 168]
    assert (got["reply_window_minutes"], got["reminder_after_minutes"], got["active"]) == (
        240,
        120,
        True,
    )

    put = await client.put(
        url,
        json={
            "offsets_hours": [48, 6],
            "reply_window_minutes": 180,
            "reminder_after_minutes": 60,
            "active": True,
        },
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["offsets_hours"] == [6, 48]
    rows = await check_ins(db, patient.id)
    assert [r.due_at - clock.now() for r in rows] == [timedelta(hours=6), timedelta(hours=48)]
    assert {r.reply_window_minutes for r in rows} == {180}


async def test_schedule_put_refuses_a_reminder_outside_the_reply_window(client, db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    headers = await _staff(client, db, ward)
    response = await client.put(
        f"/api/v1/patients/{patient.id}/check-in-schedule",
        json={
            "offsets_hours": [24],
            "reply_window_minutes": 60,
            "reminder_after_minutes": 60,
            "active": True,
        },
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reminder_after_minutes"


async def test_deactivating_the_schedule_drops_unsent_check_ins(client, db, clock):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    headers = await _staff(client, db, ward)
    response = await client.put(
        f"/api/v1/patients/{patient.id}/check-in-schedule",
        json={
            "offsets_hours": [24],
            "reply_window_minutes": 240,
            "reminder_after_minutes": 120,
            "active": False,
        },
        headers=headers,
    )
    assert response.status_code == 200
    assert await check_ins(db, patient.id) == []


async def test_an_extra_check_in_is_scheduled_listed_and_sent(
    client, db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    headers = await _staff(client, db, ward)
    due = clock.now() + timedelta(hours=2)

    created = await client.post(
        f"/api/v1/patients/{patient.id}/check-ins",
        json={"due_at": due.isoformat(), "reply_window_minutes": 90, "reminder_after_minutes": 30},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["kind"], body["reply_window_minutes"]) == (
        "scheduled",
        "extra",
        90,
    )

    clock.advance(timedelta(hours=2))
    await sms_worker.run_once()

    listed = await client.get(f"/api/v1/patients/{patient.id}/check-ins", headers=headers)
    [item] = listed.json()["items"]
    assert (item["id"], item["status"]) == (body["id"], "sent")
    assert len(fake_twilio.accepted) == 1
    actions = (await db.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert "checkin.create" in actions and "checkin.list" in actions


@pytest.mark.parametrize(
    ("fields", "status"),
    [({"sms_opted_out": True}, 409), ({"status": "inpatient"}, 409), ({"sms_consent": False}, 409)],
)
async def test_an_extra_check_in_needs_an_open_channel(client, db, clock, fields, status):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id, **fields)
    headers = await _staff(client, db, ward)
    response = await client.post(
        f"/api/v1/patients/{patient.id}/check-ins",
        json={"due_at": (clock.now() + timedelta(hours=1)).isoformat()},
        headers=headers,
    )
    assert response.status_code == status


async def test_an_extra_check_in_is_refused_for_a_number_the_carrier_refused(client, db, clock):
    # The same texting rule as the sweep's: a flagged number would only skip the check-in.
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    db.add(SmsNumberFlag(patient_id=patient.id, mobile=patient.mobile, flagged_at=clock.now()))
    await db.commit()
    headers = await _staff(client, db, ward)
    response = await client.post(
        f"/api/v1/patients/{patient.id}/check-ins",
        json={"due_at": (clock.now() + timedelta(hours=1)).isoformat()},
        headers=headers,
    )
    assert response.status_code == 409
    assert "mobile number" in response.json()["detail"]
    assert (await db.scalars(select(CheckIn).where(CheckIn.patient_id == patient.id))).all() == []


@pytest.mark.parametrize("due_at", ["2026-12-01T10:00:00", "2020-01-01T00:00:00Z"])
async def test_an_extra_check_in_refuses_naive_or_past_times(client, db, clock, due_at):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    headers = await _staff(client, db, ward)
    response = await client.post(
        f"/api/v1/patients/{patient.id}/check-ins", json={"due_at": due_at}, headers=headers
    )
    assert response.status_code == 422


async def test_check_ins_of_another_wards_patient_are_404_and_the_attempt_audited(
    client, db, clock
):
    ward, other = await builders.ward(db), await builders.ward(db)
    patient = await builders.home_patient(db, other.id)
    headers = await _staff(client, db, ward)

    for url in ("check-ins", "check-in-schedule", "messages"):
        response = await client.get(f"/api/v1/patients/{patient.id}/{url}", headers=headers)
        assert response.status_code == 404

    denied = (await db.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied"))).all()
    assert {e.action for e in denied} == {"checkin.list", "checkin_schedule.read", "sms.list"}
    assert {e.patient_id for e in denied} == {patient.id}


async def test_agency_workers_may_not_use_check_in_routes(client, db):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    headers = builders.bearer(client.app, worker)
    response = await client.get(f"/api/v1/patients/{patient.id}/check-ins", headers=headers)
    assert response.status_code == 403
