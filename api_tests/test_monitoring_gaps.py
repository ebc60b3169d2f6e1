"""Nobody falls out of monitoring silently: a patient at home whom no check-in can reach by SMS
is listed, with the reason, in the API and on the ward board, and their follow-up clock warns
earlier. Real PostgreSQL, the real Twilio SDK against the loopback fake, the ManualClock.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from db.models import AuditEvent, SmsNumberFlag

LIST = "/api/v1/patients"


async def _team(db, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    return ward, nurse, builders.bearer(app, nurse)


async def _flagged(db, ward_id, clock):
    patient = await builders.home_patient(db, ward_id)
    db.add(
        SmsNumberFlag(
            patient_id=patient.id, mobile=patient.mobile, error_code=21614, flagged_at=clock.now()
        )
    )
    await db.commit()
    return patient


# reason -> (how the patient is recorded, staff's words in the answer)
REASONS = {
    "no_consent": ({"sms_consent": False}, "has not consented to SMS"),
    "no_mobile": ({"mobile": None}, "no mobile number"),
    "opted_out": ({"sms_opted_out": True}, "opted out of SMS"),
}


@pytest.mark.parametrize("reason", [*REASONS, "undeliverable"])
async def test_each_reason_a_patient_at_home_cannot_be_texted_is_listed_with_it(
    db, client, app, clock, reason
):
    ward, _, headers = await _team(db, app)
    if reason == "undeliverable":
        patient = await _flagged(db, ward.id, clock)
        words = "carrier refused"
    else:
        fields, words = REASONS[reason]
        patient = await builders.home_patient(db, ward.id, **fields)
    monitored = await builders.home_patient(db, ward.id)

    response = await client.get(LIST, params={"monitoring": "none"}, headers=headers)
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == str(patient.id)
    assert item["monitoring_gap"]["reason"] == reason
    assert words in item["monitoring_gap"]["detail"]

    # The whole list says it too, and null for the patient whom check-ins reach.
    everyone = (await client.get(LIST, headers=headers)).json()["items"]
    gaps = {i["id"]: i["monitoring_gap"] for i in everyone}
    assert gaps[str(monitored.id)] is None
    assert gaps[str(patient.id)]["reason"] == reason
    monitored_only = (await client.get(LIST, params={"monitoring": "sms"}, headers=headers)).json()
    assert [i["id"] for i in monitored_only["items"]] == [str(monitored.id)]


async def test_only_patients_at_home_are_listed_and_a_number_flagged_before_a_change_is_not_a_gap(
    db, client, app, clock
):
    ward, _, headers = await _team(db, app)
    # On the ward, readmitted or closed: no check-ins are due, so nothing is missing.
    for status in ("inpatient", "readmitted", "closed"):
        await builders.home_patient(db, ward.id, status=status, sms_consent=False)
    # The carrier refused an old number; the mobile on record now is a new one.
    moved = await _flagged(db, ward.id, clock)
    moved.mobile = builders.mobile()
    await db.commit()

    response = await client.get(LIST, params={"monitoring": "none"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_the_monitoring_list_is_the_callers_ward_only_and_audited(db, client, app):
    ward, nurse, headers = await _team(db, app)
    other_ward = await builders.ward(db)
    ours = await builders.home_patient(db, ward.id, sms_consent=False)
    await builders.home_patient(db, other_ward.id, sms_consent=False)

    response = await client.get(LIST, params={"monitoring": "none"}, headers=headers)
    assert [i["id"] for i in response.json()["items"]] == [str(ours.id)]

    other_nurse = await builders.user(db, "ward_staff", ward_id=other_ward.id)
    theirs = await client.get(
        LIST, params={"monitoring": "none"}, headers=builders.bearer(app, other_nurse)
    )
    assert str(ours.id) not in {i["id"] for i in theirs.json()["items"]}
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    denied = await client.get(
        LIST, params={"monitoring": "none"}, headers=builders.bearer(app, worker)
    )
    assert denied.status_code == 403

    [event] = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.list", AuditEvent.actor_id == nurse.id
            )
        )
    ).all()
    assert event.detail == {"patient_ids": [str(ours.id)], "filters": ["monitoring"]}


async def test_a_bad_monitoring_filter_is_a_problem_not_a_500(db, client, app):
    _, _, headers = await _team(db, app)
    response = await client.get(LIST, params={"monitoring": "maybe"}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
