"""Suicide risk recorded for the stay at home makes a first miss and a score of 2 urgent."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from api_tests import builders
from api_tests.sms_helpers import discharged_patient, escalations, inbound_params, post_signed
from db.models import Episode


async def _at_risk(db, patient_id: uuid.UUID, risk: bool = True) -> None:
    await db.execute(
        update(Episode).where(Episode.patient_id == patient_id).values(suicide_risk=risk)
    )
    await db.commit()


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


async def _miss_first_check_in(worker, clock) -> None:
    # The first prompt goes at 24 h; its reply window closes a few hours later.
    await _tick(worker, clock, 24 * 60)
    await _tick(worker, clock, 120)
    await _tick(worker, clock, 120)


async def test_with_suicide_risk_the_first_miss_is_urgent(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    await _at_risk(db, patient.id)
    await _miss_first_check_in(sms_worker, clock)
    rows = await escalations(db, patient.id)
    assert [(e.reason, e.severity) for e in rows] == [("no_reply", "urgent")]


async def test_without_suicide_risk_the_first_miss_is_routine(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    await _at_risk(db, patient.id, risk=False)
    await _miss_first_check_in(sms_worker, clock)
    rows = await escalations(db, patient.id)
    assert [(e.reason, e.severity) for e in rows] == [("no_reply", "routine")]


async def _score_two(db, clock, sms_worker, sms_client, sms_settings, risk: bool) -> str:
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    await _at_risk(db, patient.id, risk=risk)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(minutes=10))
    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "2"),
        sms_settings.twilio_auth_token,
    )
    [escalation] = await escalations(db, patient.id)
    assert escalation.reason == "low_score"
    return escalation.severity


async def test_with_suicide_risk_a_score_of_two_is_urgent(
    sms_client, db, clock, sms_worker, sms_settings
):
    assert await _score_two(db, clock, sms_worker, sms_client, sms_settings, True) == "urgent"


async def test_without_suicide_risk_a_score_of_two_is_routine(
    sms_client, db, clock, sms_worker, sms_settings
):
    assert await _score_two(db, clock, sms_worker, sms_client, sms_settings, False) == "routine"


async def _put_risk(client, app, nurse, patient_id, body):
    return await client.put(
        f"/api/v1/patients/{patient_id}/suicide-risk",
        json=body,
        headers=builders.bearer(app, nurse),
    )


async def test_risk_recorded_after_discharge_makes_the_next_miss_urgent_and_clearing_it_routine(
    db, client, app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    await db.commit()
    recorded = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True, "note": "x"})
    assert recorded.status_code == 200
    assert recorded.json()["suicide_risk"] is True
    await _miss_first_check_in(sms_worker, clock)
    cleared = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": False})
    assert cleared.status_code == 200
    # The next day's check-in missed too: two in a row, no risk, so routine again.
    await _tick(sms_worker, clock, 20 * 60)
    await _tick(sms_worker, clock, 120)
    await _tick(sms_worker, clock, 120)
    rows = sorted(await escalations(db, patient.id), key=lambda e: e.opened_at)
    assert [(e.reason, e.severity) for e in rows] == [
        ("no_reply", "urgent"),
        ("no_reply", "routine"),
    ]


async def test_recording_risk_for_a_patient_on_the_ward_is_a_conflict(db, client, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    await db.commit()
    response = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_risk_body_without_suicide_risk_is_a_422(db, client, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    await db.commit()
    for body in ({}, {"suicide_risk": "yes"}, {"suicide_risk": True, "extra": 1}):
        response = await _put_risk(client, app, nurse, patient.id, body)
        assert response.status_code == 422, body
