"""The ward's patient pages over HTTP (service/web/ward_patients.py): the list and its searches,
registration, details and closing, stays (admit, discharge, readmit) and contact attempts.
Refused forms come back with 422 and write nothing; successes write what the API would, with
audit rows of the same kind; another ward's patient is an audited 404."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from api_tests import builders
from api_tests.conftest import TEST_JWT_SECRET
from db.models import AuditEvent, Episode, FollowUp, FollowUpAttempt, Patient, User
from service.web.session import csrf_for

SESSION_COOKIE = "homeward_session"


def _as(app: Any, who: User) -> tuple[dict[str, str], str]:
    token = builders.bearer(app, who)["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"{SESSION_COOKIE}={token}"}, csrf_for(TEST_JWT_SECRET, token)


async def _team(db: Any, app: Any) -> Any:
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id, full_name="Sam Nurse")
    headers, csrf = _as(app, nurse)
    return ward, nurse, headers, csrf


async def _audit(db: Any, actor: User, since: int = 0) -> list[tuple[str, str, str | None]]:
    rows = await db.execute(
        select(AuditEvent.action, AuditEvent.outcome, AuditEvent.object_type)
        .where(AuditEvent.actor_id == actor.id, AuditEvent.id > since)
        .order_by(AuditEvent.id)
    )
    await db.commit()
    return [tuple(r) for r in rows.all()]


async def _last_audit_id(db: Any) -> int:
    value = await db.scalar(select(func.max(AuditEvent.id)))
    await db.commit()
    return int(value or 0)


async def _count(db: Any, model: Any, *where: Any) -> int:
    value = await db.scalar(select(func.count()).select_from(model).where(*where))
    await db.commit()
    return int(value or 0)


async def test_root_sends_people_to_the_workspace(client):
    response = await client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/board")
    board = await client.get("/board", follow_redirects=False)
    assert (board.status_code, board.headers["location"]) == (303, "/board/login")
    spec = (await client.get("/docs/openapi.json")).json()
    assert "/" not in spec["paths"]


async def test_the_list_searches_filters_and_pages_through_the_api_list(app, client, db, clock):
    ward, nurse, headers, _ = await _team(db, app)
    now = clock.now()
    on_ward = await builders.patient(db, ward.id, given_name="Ada", family_name="Lovelace")
    recent = await builders.home_patient(db, ward.id, given_name="Bo", family_name="Recent")
    await builders.past_stay(
        db, recent.id, admitted_at=now - timedelta(days=20), discharged_at=now - timedelta(days=2)
    )
    older = await builders.home_patient(
        db, ward.id, given_name="Cy", family_name="Older", sms_consent=False
    )
    _, old_follow_up = await builders.past_stay(
        db, older.id, admitted_at=now - timedelta(days=40), discharged_at=now - timedelta(days=20)
    )
    assert old_follow_up is not None
    old_follow_up.status = "completed"
    old_follow_up.completed_at = now - timedelta(days=19)
    old_follow_up.method = "phone"
    db.add(old_follow_up)
    await db.commit()
    elsewhere = await builders.patient(db, (await builders.ward(db)).id)

    async def names(query: str, status: int = 200) -> list[str]:
        response = await client.get(f"/board/patients?{query}", headers=headers)
        assert response.status_code == status, response.text
        return re.findall(r'<td><a href="/board/patients/[^"]+">([^<]+)</a>', response.text)

    assert await names("") == ["Lovelace, Ada", "Recent, Bo", "Older, Cy"]
    spaced = f"{on_ward.nhs_number[:3]} {on_ward.nhs_number[3:6]} {on_ward.nhs_number[6:]}"
    assert await names(f"nhs_number={spaced}") == ["Lovelace, Ada"]
    assert await names("name=rec") == ["Recent, Bo"]
    assert await names("status=inpatient") == ["Lovelace, Ada"]
    assert await names("recently_discharged=yes") == ["Recent, Bo"]
    assert await names("follow_up_due=yes") == ["Recent, Bo"]
    assert await names("no_sms_monitoring=yes") == ["Older, Cy"]
    assert elsewhere.family_name not in (await client.get("/board/patients", headers=headers)).text

    # Keyset paging with the API's cursors, the filters kept in the link.
    first = await client.get("/board/patients?limit=2&name=", headers=headers)
    link = re.search(r'href="(/board/patients\?[^"]*cursor=[^"]+)" rel="next"', first.text)
    assert link is not None
    second = await client.get(link.group(1).replace("&amp;", "&"), headers=headers)
    assert second.status_code == 200, second.text[-3000:]
    assert re.findall(r'<td><a href="[^"]+">([^<]+)</a>', second.text) == ["Older, Cy"]

    # A bad cursor or status is the form again, not a 500.
    refused = await client.get("/board/patients?cursor=nonsense", headers=headers)
    assert refused.status_code == 422 and "data-error-summary" in refused.text
    assert (await client.get("/board/patients?status=gone", headers=headers)).status_code == 422

    # Each page is the API's audited list, naming the filters but not what was searched for.
    listed = await db.scalars(
        select(AuditEvent.detail)
        .where(AuditEvent.actor_id == nurse.id, AuditEvent.action == "patient.list")
        .order_by(AuditEvent.id)
    )
    details = list(listed.all())
    assert {"filters": ["nhs_number"]}.items() <= details[1].items()
    assert details[4]["filters"] == ["discharged_within_days"]
    assert details[5]["filters"] == ["follow_up"]
    assert details[6]["filters"] == ["monitoring"]
    assert all(spaced not in str(d) and on_ward.nhs_number not in str(d) for d in details)


async def test_the_api_list_has_the_wards_filters_too(app, client, db, clock):
    team = await builders.ward_team(db, app)
    now = clock.now()
    recent = await builders.home_patient(db, team.ward.id)
    await builders.past_stay(
        db, recent.id, admitted_at=now - timedelta(days=9), discharged_at=now - timedelta(days=1)
    )
    await builders.patient(db, team.ward.id)
    base = "/api/v1/patients"
    for query in ("discharged_within_days=7", "follow_up=due"):
        body = (await client.get(f"{base}?{query}", headers=team.nurse_headers)).json()
        assert [p["id"] for p in body["items"]] == [str(recent.id)]
    bad = await client.get(f"{base}?discharged_within_days=0", headers=team.nurse_headers)
    assert bad.status_code == 400 or bad.status_code == 422


async def test_registering_refuses_with_errors_beside_fields_then_registers(app, client, db, clock):
    _ward, nurse, headers, csrf = await _team(db, app)
    form = {
        "csrf_token": csrf,
        "nhs_number": "123 456 7890",
        "given_name": "Alex",
        "family_name": "",
        "date_of_birth": "1985-04-12",
        "mobile": "07911 123456",
        "timezone": "Europe/London",
        "contact_window_start": "09:00",
        "contact_window_end": "20:00",
        "language": "en",
        "sms_consent": "yes",
        "key_worker_id": str(nurse.id),
        "admitted_at": "2026-11-30T14:00",
    }
    refused = await client.post(
        "/board/patients/new", data=form, headers=headers, follow_redirects=False
    )
    assert refused.status_code == 422
    assert 'href="#f-family_name"' in refused.text and "Family name is required" in refused.text
    assert 'value="Alex"' in refused.text  # what was typed stays
    assert await _count(db, Patient) == 0

    form["family_name"] = "Morgan"
    refused = await client.post(
        "/board/patients/new", data=form, headers=headers, follow_redirects=False
    )
    assert refused.status_code == 422
    assert 'id="f-nhs_number-error"' in refused.text
    assert await _count(db, Patient) == 0

    form["nhs_number"] = "943 476 5919"
    mark = await _last_audit_id(db)
    done = await client.post(
        "/board/patients/new", data=form, headers=headers, follow_redirects=False
    )
    assert done.status_code == 303
    patient = await db.scalar(select(Patient).where(Patient.nhs_number == "9434765919"))
    assert patient is not None
    assert done.headers["location"] == f"/board/patients/{patient.id}/details?done=registered"
    assert (patient.family_name, patient.mobile, patient.sms_consent) == (
        "Morgan",
        "+447911123456",
        True,
    )
    assert patient.key_worker_id == nurse.id and patient.status == "inpatient"
    stay = await db.scalar(select(Episode).where(Episode.patient_id == patient.id))
    assert stay is not None and stay.admitted_at.isoformat() == "2026-11-30T14:00:00+00:00"
    assert await _audit(db, nurse, mark) == [("patient.create", "allowed", "patient")]

    # The same registration through the API leaves the same kind of audit row.
    api = await client.post(
        "/api/v1/patients",
        json=builders.patient_body(nhs_number=builders.nhs_number()),
        headers=builders.bearer(app, nurse),
    )
    assert api.status_code == 201
    rows = await _audit(db, nurse, mark)
    assert rows[-1] == rows[0]
    page = await client.get(done.headers["location"], headers=headers)
    assert "Patient registered and admitted." in page.text


async def test_details_change_through_the_patch_service_and_close_needs_a_confirmation(
    app, client, db, clock
):
    ward, nurse, headers, csrf = await _team(db, app)
    patient = await builders.home_patient(db, ward.id, family_name="Rivers")
    url = f"/board/patients/{patient.id}"
    shown = await client.get(f"{url}/details", headers=headers)
    assert shown.status_code == 200 and 'aria-current="page">Details' in shown.text
    base = {
        "csrf_token": csrf,
        "mobile": "",
        "timezone": "Europe/London",
        "contact_window_start": "09:00",
        "contact_window_end": "20:00",
        "language": "cy",
        "sms_consent": "yes",
    }
    refused = await client.post(f"{url}/details", data=base, headers=headers)
    assert refused.status_code == 422
    assert "SMS consent needs a mobile number" in refused.text
    emptied = await client.post(
        f"{url}/details", data={**base, "mobile": "07911 123457", "timezone": ""}, headers=headers
    )
    assert emptied.status_code == 422 and "Time zone is required" in emptied.text
    await db.refresh(patient)
    assert patient.language == "en" and patient.mobile is not None

    mark = await _last_audit_id(db)
    saved = await client.post(
        f"{url}/details",
        data={**base, "mobile": "07911 123457", "discreet_messages": "yes"},
        headers=headers,
        follow_redirects=False,
    )
    assert saved.status_code == 303, re.findall(r"field-error.*|<li>[^<]*</li>", saved.text)
    await db.refresh(patient)
    assert (patient.language, patient.mobile, patient.discreet_messages) == (
        "cy",
        "+447911123457",
        True,
    )
    update = await db.scalar(
        select(AuditEvent).where(AuditEvent.id > mark, AuditEvent.action == "patient.update")
    )
    assert update is not None
    assert update.detail == {"fields": ["discreet_messages", "language", "mobile"]}

    # Closing: refused unconfirmed, then closed (the API's rules: not while on the ward).
    unconfirmed = await client.post(f"{url}/close", data={"csrf_token": csrf}, headers=headers)
    assert unconfirmed.status_code == 422 and 'href="#f-confirm"' in unconfirmed.text
    on_ward = await builders.patient(db, ward.id)
    refused = await client.post(
        f"/board/patients/{on_ward.id}/close",
        data={"csrf_token": csrf, "confirm": "yes"},
        headers=headers,
    )
    assert refused.status_code == 422 and "record the discharge before closing" in refused.text
    closed = await client.post(
        f"{url}/close",
        data={"csrf_token": csrf, "confirm": "yes"},
        headers=headers,
        follow_redirects=False,
    )
    assert closed.status_code == 303
    await db.refresh(patient)
    await db.refresh(on_ward)
    assert (patient.status, on_ward.status) == ("closed", "inpatient")
    assert ("patient.close", "allowed", "patient") in await _audit(db, nurse, mark)


async def test_discharge_needs_the_suicide_risk_answer_then_starts_the_48_hour_clock(
    app, client, db, clock
):
    ward, nurse, headers, csrf = await _team(db, app)
    patient = await builders.patient(db, ward.id, family_name="Okafor")
    url = f"/board/patients/{patient.id}/stays"
    page = await client.get(url, headers=headers)
    assert page.status_code == 200
    # The question has no default answer.
    assert re.search(r'name="suicide_risk" value="(yes|no)" checked', page.text) is None

    form = {"csrf_token": csrf, "discharged_at": "2026-12-01T08:30", "destination": "home"}
    refused = await client.post(f"{url}/discharge", data=form, headers=headers)
    assert refused.status_code == 422
    assert 'href="#f-suicide_risk"' in refused.text
    assert "Suicide risk is required" in refused.text
    assert await _count(db, FollowUp) == 0
    assert await _count(db, Episode, Episode.discharged_at.is_not(None)) == 0

    mark = await _last_audit_id(db)
    done = await client.post(
        f"{url}/discharge",
        data={**form, "suicide_risk": "yes"},
        headers=headers,
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, f"{url}?done=discharged")
    follow_up = await db.scalar(select(FollowUp).where(FollowUp.patient_id == patient.id))
    assert follow_up is not None and follow_up.suicide_risk is True
    stay = await db.scalar(select(Episode).where(Episode.patient_id == patient.id))
    assert stay is not None and stay.destination == "home"
    assert follow_up.due_at - stay.discharged_at == timedelta(hours=48)
    page_rows = await _audit(db, nurse, mark)
    assert page_rows == [("episode.discharge", "allowed", "episode")]
    shown = await client.get(f"{url}?done=discharged", headers=headers)
    assert "48 h: suicide risk" in shown.text and "left" in shown.text

    # The API's discharge of another patient leaves audit rows of the same kind.
    other = await builders.patient(db, ward.id)
    mark = await _last_audit_id(db)
    api = await client.post(
        f"/api/v1/patients/{other.id}/discharge",
        json={"discharged_at": "2026-12-01T08:30:00Z", "suicide_risk": True},
        headers=builders.bearer(app, nurse),
    )
    assert api.status_code == 200
    assert await _audit(db, nurse, mark) == page_rows

    # A contact attempt: refused without its answer, then recorded on this page.
    attempt_url = f"/board/patients/{patient.id}/follow-ups/{follow_up.id}/attempts"
    attempt = {"csrf_token": csrf, "occurred_at": "2026-12-01T08:45", "method": "phone"}
    refused = await client.post(attempt_url, data=attempt, headers=headers)
    assert refused.status_code == 422 and 'href="#f-successful"' in refused.text
    assert await _count(db, FollowUpAttempt) == 0
    recorded = await client.post(
        attempt_url,
        data={**attempt, "successful": "yes", "note": "Settled"},
        headers=headers,
        follow_redirects=False,
    )
    assert recorded.status_code == 303
    await db.refresh(follow_up)
    assert (follow_up.status, follow_up.method) == ("completed", "phone")

    # Readmission a week later: the same admit form, within 30 days.
    clock.advance(timedelta(days=7))
    readmit = await client.post(
        f"{url}/admit",
        data={"csrf_token": csrf, "admitted_at": "2026-12-08T08:00"},
        headers=headers,
        follow_redirects=False,
    )
    assert readmit.status_code == 303, re.findall(r"field-error.*|<li>[^<]*</li>", readmit.text)
    latest = await db.scalar(
        select(Episode)
        .where(Episode.patient_id == patient.id)
        .order_by(Episode.admitted_at.desc())
        .limit(1)
    )
    assert latest is not None and latest.readmitted_within_30_days is True
    await db.refresh(patient)
    assert patient.status == "readmitted"
    again = await client.post(
        f"{url}/admit",
        data={"csrf_token": csrf, "admitted_at": "2026-12-08T08:00"},
        headers=headers,
    )
    assert again.status_code == 422 and "already on the ward" in again.text


async def test_another_wards_patient_is_an_audited_404_and_nothing_is_written(
    app, client, db, clock
):
    _ward, nurse, headers, csrf = await _team(db, app)
    elsewhere = await builders.patient(db, (await builders.ward(db)).id, family_name="Hidden")
    base = f"/board/patients/{elsewhere.id}"
    for method, path, data in (
        ("GET", "/details", None),
        ("GET", "/stays", None),
        ("POST", "/stays/discharge", {"discharged_at": "2026-12-01T08:30", "suicide_risk": "no"}),
        ("POST", "/details", {"language": "cy", "timezone": "Europe/London"}),
        ("POST", "/close", {"confirm": "yes"}),
        ("POST", "/close", {}),
    ):
        if method == "GET":
            response = await client.get(base + path, headers=headers)
        else:
            response = await client.post(
                base + path, data={"csrf_token": csrf, **(data or {})}, headers=headers
            )
        assert response.status_code == 404, (method, path)
        assert "Hidden" not in response.text
    denied = await _count(
        db,
        AuditEvent,
        AuditEvent.actor_id == nurse.id,
        AuditEvent.outcome == "denied",
        AuditEvent.patient_id == elsewhere.id,
    )
    assert denied == 6
    await db.refresh(elsewhere)
    assert (elsewhere.status, elsewhere.language) == ("inpatient", "en")
    assert await _count(db, FollowUp) == 0
