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


async def _sign_in(client, who) -> None:
    form = await client.get("/board/login")
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    signed_in = await client.post(
        "/board/login",
        data={"email": who.email, "password": builders.PASSWORD, "login_csrf": login_csrf},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303


def _unmonitored(html: str) -> list[tuple[str, str]]:
    section = re.search(r'<ul class="plain" id="unmonitored">(.*?)</ul>', html, re.S)
    if section is None:
        return []
    return re.findall(
        r'<li data-reason="([a-z_]+)"><a href="/board/patients/([0-9a-f-]+)"', section[1]
    )


async def test_the_ward_board_lists_patients_at_home_out_of_reach_with_the_reason(
    db, client, app, clock
):
    ward, nurse, _ = await _team(db, app)
    no_consent = await builders.home_patient(db, ward.id, sms_consent=False, family_name="Adams")
    flagged = await _flagged(db, ward.id, clock)
    flagged.family_name = "Baker"
    opted_out = await builders.home_patient(db, ward.id, sms_opted_out=True, family_name="Cole")
    await builders.home_patient(db, ward.id, family_name="Dale")  # monitored: not listed
    await builders.home_patient(db, ward.id, status="inpatient", sms_consent=False)
    await db.commit()
    # Another ward's unmonitored patient is never on this board.
    other_ward = await builders.ward(db)
    theirs = await builders.home_patient(db, other_ward.id, sms_consent=False)

    await _sign_in(client, nurse)
    page = await client.get("/board/live", headers={"X-Homeward-Fragment": "1"})
    assert page.status_code == 200
    assert _unmonitored(page.text) == [
        ("no_consent", str(no_consent.id)),
        ("undeliverable", str(flagged.id)),
        ("opted_out", str(opted_out.id)),
    ]
    assert "The patient has opted out of SMS." in page.text
    assert str(theirs.id) not in page.text
    [event] = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "board.read", AuditEvent.actor_id == nurse.id
            )
        )
    ).all()
    assert event.detail["unmonitored_patient_ids"] == [
        str(no_consent.id),
        str(flagged.id),
        str(opted_out.id),
    ]


async def test_the_other_wards_board_does_not_list_our_unmonitored_patient(db, client, app, clock):
    ward, _, _ = await _team(db, app)
    ours = await builders.home_patient(db, ward.id, sms_consent=False)
    other_ward = await builders.ward(db)
    other_nurse = await builders.user(db, "ward_staff", ward_id=other_ward.id)
    await _sign_in(client, other_nurse)
    page = await client.get("/board/live", headers={"X-Homeward-Fragment": "1"})
    assert page.status_code == 200
    assert _unmonitored(page.text) == []
    assert str(ours.id) not in page.text
