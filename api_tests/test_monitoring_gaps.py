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
from api_tests.sms_helpers import inbound_params, post_signed
from db.models import AuditEvent, SmsNumberFlag
from service.paging.texts import patient_ref as patient_ref_of

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


# --- the follow-up clock warns earlier ---------------------------------------------------


async def _discharged_through_the_api(client, headers, key_worker, **fields) -> str:
    created = await client.post(
        "/api/v1/patients",
        json=builders.patient_body(key_worker_id=str(key_worker.id), **fields),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    patient_id: str = created.json()["id"]
    done = await client.post(
        f"/api/v1/patients/{patient_id}/discharge",
        json={"discharged_at": "2026-12-01T09:00:00Z", "suicide_risk": False},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    return patient_id


async def _tick(worker, clock, hours: float = 0) -> None:
    clock.advance(timedelta(hours=hours))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


def _to(fake_twilio, number: str) -> list[str]:
    return [m.body for m in fake_twilio.accepted if m.to == number]


async def test_an_unmonitored_patients_72_h_clock_warns_at_discharge_and_at_half_time_once_each(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    # Discharged at 09:00 on 1 December without SMS consent: due 09:00 on 4 December.
    patient_id = await _discharged_through_the_api(
        sms_client, headers, key_worker, sms_consent=False
    )
    ref = patient_id[:8]
    prefix = f"Homeward: follow-up for patient ref {ref} is due within"

    await _tick(sms_worker, clock)
    assert _to(fake_twilio, key_worker.mobile) == [
        f"{prefix} 72 h and check-in texts cannot reach the patient, see the ward board."
    ]
    # Half-time is 36 h after discharge (21:00 on 2 December): nothing a minute before.
    await _tick(sms_worker, clock, 36 - 1 / 60)
    assert len(_to(fake_twilio, key_worker.mobile)) == 1
    await _tick(sms_worker, clock, 1 / 60)
    half_time = f"{prefix} 36 h, see the ward board."
    assert _to(fake_twilio, key_worker.mobile)[1:] == [half_time]
    # That was the warning: none again 24 h ahead, nor later.
    await _tick(sms_worker, clock, 12)
    await _tick(sms_worker, clock, 23)
    assert len(_to(fake_twilio, key_worker.mobile)) == 2
    actions = (await db.scalars(select(AuditEvent.action))).all()
    assert (actions.count("follow_up.warn_unmonitored"), actions.count("follow_up.warn")) == (1, 1)


async def test_a_monitored_patients_clock_warns_only_a_day_ahead(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    patient_id = await _discharged_through_the_api(sms_client, headers, key_worker)
    await _tick(sms_worker, clock)
    await _tick(sms_worker, clock, 36)
    await _tick(sms_worker, clock, 11)
    assert _to(fake_twilio, key_worker.mobile) == []
    await _tick(sms_worker, clock, 1)
    assert _to(fake_twilio, key_worker.mobile) == [
        f"Homeward: follow-up for patient ref {patient_id[:8]} is due within 24 h, "
        "see the ward board."
    ]


async def test_a_patient_who_opts_out_while_the_clock_runs_is_warned_about_then(
    db, sms_client, sms_app, sms_settings, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    patient_id = await _discharged_through_the_api(sms_client, headers, key_worker)
    await _tick(sms_worker, clock, 2)
    assert _to(fake_twilio, key_worker.mobile) == []
    patient = await sms_client.get(f"/api/v1/patients/{patient_id}", headers=headers)
    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.json()["mobile"], "STOP"),
        sms_settings.twilio_auth_token,
    )
    await _tick(sms_worker, clock)
    early = [b for b in _to(fake_twilio, key_worker.mobile) if "cannot reach" in b]
    assert early == [
        f"Homeward: follow-up for patient ref {patient_id[:8]} is due within 70 h and "
        "check-in texts cannot reach the patient, see the ward board."
    ]


async def test_the_early_warning_is_for_this_ward_only_and_not_after_a_readmission(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    other_ward = await builders.ward(db)
    other_worker = await builders.user(
        db, "ward_staff", ward_id=other_ward.id, mobile=builders.mobile()
    )
    patient = await builders.home_patient(
        db, ward.id, sms_consent=False, key_worker_id=key_worker.id
    )
    await builders.past_stay(
        db,
        patient.id,
        admitted_at=clock.now() - timedelta(days=10),
        discharged_at=clock.now() - timedelta(hours=1),
    )
    readmitted = await builders.home_patient(
        db, ward.id, sms_consent=False, key_worker_id=key_worker.id
    )
    await builders.past_stay(
        db,
        readmitted.id,
        admitted_at=clock.now() - timedelta(days=10),
        discharged_at=clock.now() - timedelta(hours=2),
    )
    await builders.episode(db, readmitted.id, admitted_at=clock.now() - timedelta(minutes=30))
    await _tick(sms_worker, clock)
    assert len(_to(fake_twilio, key_worker.mobile)) == 1
    assert patient_ref_of(patient.id) in _to(fake_twilio, key_worker.mobile)[0]
    assert _to(fake_twilio, other_worker.mobile) == []
