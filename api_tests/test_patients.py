from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import event, select

from api_tests import builders
from bench.api_read import bare_sql
from db.models import AuditEvent, Patient
from service.identity.callers import PRINCIPAL_QUERY
from service.patient_access.staff import STAFF_PATIENT_READ, STAFF_PATIENT_ROW_QUERY
from service.patients.service import nhs_check_digit

PATIENTS = "/api/v1/patients"


async def _events(db, **where):
    query = select(AuditEvent).order_by(AuditEvent.id)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    return list((await db.scalars(query)).all())


def _assert_problem(response, status, field=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body


async def test_staff_register_a_patient_with_normalised_fields_and_ward_defaults(client, db, app):
    ward = await builders.ward(db, timezone="Europe/Dublin")
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    key_worker = await builders.user(db, "ward_manager", ward_id=ward.id)

    response = await client.post(
        PATIENTS,
        json=builders.patient_body(
            nhs_number="943 476 5919",
            mobile="07911 123456",
            contact_window_start="22:00",
            contact_window_end="07:00",
            key_worker_id=str(key_worker.id),
            ward_id=str(ward.id),
            language="cy",
            discreet_messages=True,
        ),
        headers=builders.bearer(app, nurse),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["nhs_number"] == "9434765919"
    assert body["mobile"] == "+447911123456"
    assert body["timezone"] == "Europe/Dublin"
    assert (body["contact_window_start"], body["contact_window_end"]) == ("22:00", "07:00")
    assert body["ward_id"] == str(ward.id)
    assert body["status"] == "inpatient"
    assert body["key_worker_id"] == str(key_worker.id)
    assert (body["language"], body["discreet_messages"], body["sms_opted_out"]) == (
        "cy",
        True,
        False,
    )
    episodes = await client.get(
        f"{PATIENTS}/{body['id']}/episodes", headers=builders.bearer(app, nurse)
    )
    [episode] = episodes.json()["items"]
    assert episode["discharged_at"] is None
    assert episode["admitted_at"] == "2026-12-01T09:00:00Z"
    created = await _events(db, action="patient.create")
    assert [(e.outcome, str(e.patient_id), e.ward_id) for e in created] == [
        ("allowed", body["id"], ward.id)
    ]


async def test_invalid_nhs_numbers_are_422_problems_naming_the_field(client, db, app):
    team = await builders.ward_team(db, app)
    assert nhs_check_digit("100000001") is None  # the check digit would be 10
    cases = {
        "943476591": "wrong length (9)",
        "94347659190": "wrong length (11)",
        "94347659A9": "non-digit",
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19": "non-ASCII digits",
        "9434765918": "bad check digit",
        "1000000010": "check digit 10",
    }
    for number, why in cases.items():
        response = await client.post(
            PATIENTS,
            json=builders.patient_body(nhs_number=number),
            headers=team.nurse_headers,
        )
        _assert_problem(response, 422, "nhs_number")
        assert number not in response.text, why
    assert (await db.scalar(select(Patient.id))) is None


async def test_landlines_and_garbage_are_refused_as_mobiles(client, db, app):
    team = await builders.ward_team(db, app)
    for mobile in ("020 7946 0000", "call me maybe", "12345", "+44 7911 12345"):
        response = await client.post(
            PATIENTS, json=builders.patient_body(mobile=mobile), headers=team.nurse_headers
        )
        _assert_problem(response, 422, "mobile")
        assert mobile not in response.text
    patient = await builders.patient(db, team.ward.id)
    patched = await client.patch(
        f"{PATIENTS}/{patient.id}", json={"mobile": "0161 496 0000"}, headers=team.nurse_headers
    )
    _assert_problem(patched, 422, "mobile")


async def test_other_registration_rules_answer_422_with_the_field(client, db, app):
    team = await builders.ward_team(db, app)
    other_ward = await builders.ward(db)
    stranger = await builders.user(db, "ward_staff", ward_id=other_ward.id)
    retired = await builders.user(db, "ward_staff", ward_id=team.ward.id, active=False)
    agency = await builders.agency(db)
    agency_worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    cases = [
        ({"contact_window_start": "09:00", "contact_window_end": "09:00"}, "contact_window_end"),
        ({"contact_window_start": "24:00"}, "contact_window_start"),
        ({"contact_window_end": "7pm"}, "contact_window_end"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"key_worker_id": str(stranger.id)}, "key_worker_id"),
        ({"key_worker_id": str(retired.id)}, "key_worker_id"),
        ({"key_worker_id": str(agency_worker.id)}, "key_worker_id"),
        ({"key_worker_id": str(uuid.uuid4())}, "key_worker_id"),
        ({"ward_id": str(other_ward.id)}, "ward_id"),
        ({"mobile": None, "sms_consent": True}, "sms_consent"),
        ({"date_of_birth": "2027-01-01"}, "date_of_birth"),
        ({"admitted_at": "2026-12-01T10:00:00Z"}, "admitted_at"),
        ({"admitted_at": "2026-12-01T08:00:00"}, "admitted_at"),
        ({"status": "discharged"}, "data"),  # unknown field: status is not settable
        ({"language": "English!"}, "language"),
    ]
    for fields, field in cases:
        response = await client.post(
            PATIENTS, json=builders.patient_body(**fields), headers=team.nurse_headers
        )
        _assert_problem(response, 422)
        assert field in {e["field"] for e in response.json()["errors"]}, (fields, response.text)


async def test_a_duplicate_nhs_number_anywhere_is_409_without_saying_where(client, db, app):
    team = await builders.ward_team(db, app)
    elsewhere = await builders.ward(db, name="Rowan Ward")
    existing = await builders.patient(db, elsewhere.id)

    response = await client.post(
        PATIENTS,
        json=builders.patient_body(nhs_number=existing.nhs_number),
        headers=team.nurse_headers,
    )

    _assert_problem(response, 409)
    assert str(elsewhere.id) not in response.text
    assert "Rowan" not in response.text
    assert existing.nhs_number not in response.text
    assert str(existing.id) not in response.text
    # The probe is kept against the record it matched (the answer never names it).
    [denied] = await _events(db, action="patient.create")
    assert (denied.outcome, denied.ward_id, denied.patient_id) == (
        "denied",
        team.ward.id,
        existing.id,
    )
    assert denied.detail == {
        "reason": "duplicate_nhs_number",
        "matched_patient_id": str(existing.id),
    }
    # Correcting another record to a taken number is refused the same way.
    mine = await builders.patient(db, team.ward.id)
    patched = await client.patch(
        f"{PATIENTS}/{mine.id}",
        json={"nhs_number": existing.nhs_number},
        headers=team.nurse_headers,
    )
    _assert_problem(patched, 409)
    assert str(existing.id) not in patched.text
    [denied_update] = [
        e for e in await _events(db, action="patient.update") if e.outcome == "denied"
    ]
    assert denied_update.patient_id == mine.id
    assert denied_update.detail == {
        "reason": "duplicate_nhs_number",
        "matched_patient_id": str(existing.id),
    }


async def test_list_searches_and_pages_within_the_callers_ward_only(client, db, app, clock):
    team = await builders.ward_team(db, app)
    other_ward = await builders.ward(db)
    people = [("Ann", "Smith"), ("Smita", "Jones"), ("Bob", "Brown"), ("Cara", "O'Smith")]
    mine = [
        await builders.patient(db, team.ward.id, given_name=g, family_name=f) for g, f in people
    ]
    gone = await builders.patient(
        db, team.ward.id, given_name="Dee", family_name="Smithson", status="discharged"
    )
    mine.append(gone)
    await builders.patient(db, other_ward.id, given_name="Sam", family_name="Smith")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(PATIENTS, params=params, headers=team.nurse_headers)).json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(str(p.id) for p in mine)

    async def search(**params):
        response = await client.get(PATIENTS, params=params, headers=team.nurse_headers)
        assert response.status_code == 200, response.text
        return sorted(p["family_name"] for p in response.json()["items"])

    assert await search(name="SMI") == ["Jones", "Smith", "Smithson"]
    assert await search(name="o'smith") == ["O'Smith"]
    assert await search(name="%") == []
    assert await search(nhs_number=mine[2].nhs_number) == ["Brown"]
    assert await search(status="discharged") == ["Smithson"]
    assert await search(status="discharged", name="smith") == ["Smithson"]
    bad = await client.get(PATIENTS, params={"cursor": "garbage"}, headers=team.nurse_headers)
    _assert_problem(bad, 422, "cursor")

    listed = await _events(db, action="patient.list")
    assert len(listed) == 3 + 6
    assert all(e.ward_id == team.ward.id and e.outcome == "allowed" for e in listed)
    assert sorted(i for e in listed[:3] for i in e.detail["patient_ids"]) == sorted(seen)
    # Filter names are kept, never the values searched for.
    assert listed[3].detail["filters"] == ["name"]
    assert "SMI" not in str([e.detail for e in listed])


async def test_patch_changes_fields_and_audits_their_names_only(client, db, app):
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)

    response = await client.patch(
        f"{PATIENTS}/{patient.id}",
        json={
            "mobile": "07400 123456",
            "contact_window_start": "08:30",
            "key_worker_id": str(team.nurse.id),
            "timezone": "Europe/London",
            "given_name": "  Jo  ",
        },
        headers=team.manager_headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["mobile"], body["contact_window_start"]) == ("+447400123456", "08:30")
    assert (body["key_worker_id"], body["given_name"]) == (str(team.nurse.id), "Jo")
    [event] = await _events(db, action="patient.update")
    assert event.detail == {
        "fields": ["contact_window_start", "given_name", "key_worker_id", "mobile"]
    }
    assert event.actor_id == team.manager.id
    cleared = await client.patch(
        f"{PATIENTS}/{patient.id}",
        json={"key_worker_id": None, "sms_consent": False, "mobile": None},
        headers=team.nurse_headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["key_worker_id"], cleared.json()["mobile"]) == (None, None)
    no_mobile = await client.patch(
        f"{PATIENTS}/{patient.id}", json={"sms_consent": True}, headers=team.nurse_headers
    )
    _assert_problem(no_mobile, 422, "sms_consent")
    for status in ("inpatient", "discharged", "readmitted"):
        refused = await client.patch(
            f"{PATIENTS}/{patient.id}", json={"status": status}, headers=team.nurse_headers
        )
        _assert_problem(refused, 422, "status")
    unknown = await client.patch(
        f"{PATIENTS}/{patient.id}", json={"sms_opted_out": False}, headers=team.nurse_headers
    )
    _assert_problem(unknown, 422)


async def test_closing_is_refused_on_the_ward_and_allowed_after_discharge(client, db, app):
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    url = f"{PATIENTS}/{patient.id}"

    on_ward = await client.patch(url, json={"status": "closed"}, headers=team.nurse_headers)
    _assert_problem(on_ward, 409)
    discharged = await client.post(
        f"{url}/discharge",
        json={"discharged_at": "2026-11-30T12:00:00Z", "suicide_risk": False},
        headers=team.nurse_headers,
    )
    assert discharged.status_code == 200, discharged.text
    closed = await client.patch(url, json={"status": "closed"}, headers=team.nurse_headers)

    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    [event] = await _events(db, action="patient.close")
    assert event.detail == {"fields": ["status"]}


async def test_other_wards_staff_get_404_everywhere_and_each_denial_is_audited(client, db, app):
    home = await builders.ward(db)
    patient = await builders.patient(db, home.id)
    outsider = await builders.user(db, "ward_manager", ward_id=(await builders.ward(db)).id)
    headers = builders.bearer(app, outsider)
    url = f"{PATIENTS}/{patient.id}"
    goal_id = uuid.uuid4()
    attempts = [
        ("GET", url, None, "patient.read"),
        ("PATCH", url, {"given_name": "X"}, "patient.update"),
        ("GET", f"{url}/episodes", None, "episode.list"),
        ("POST", f"{url}/admissions", {"admitted_at": "2026-11-30T10:00:00Z"}, "episode.admit"),
        (
            "POST",
            f"{url}/discharge",
            {"discharged_at": "2026-11-30T10:00:00Z", "suicide_risk": True},
            "episode.discharge",
        ),
        ("GET", f"{url}/goals", None, "goal.list"),
        ("POST", f"{url}/goals", {"domain": "housing", "description": "x"}, "goal.create"),
        ("GET", f"{url}/goals/{goal_id}", None, "goal.read"),
        ("PATCH", f"{url}/goals/{goal_id}", {"status": "active"}, "goal.update"),
        ("GET", f"{url}/relapse-prevention-plan", None, "plan.read"),
        ("PUT", f"{url}/relapse-prevention-plan", {"triggers": ["x"]}, "plan.update"),
        ("GET", f"{url}/relapse-prevention-plan/versions", None, "plan.versions"),
        ("GET", f"{url}/follow-ups", None, "follow_up.list"),
    ]
    absent = await client.get(f"{PATIENTS}/{uuid.uuid4()}", headers=headers)
    for method, path, body, _ in attempts:
        response = await client.request(method, path, json=body, headers=headers)
        _assert_problem(response, 404)
        assert response.json()["detail"] == absent.json()["detail"]

    denied = await _events(db, outcome="denied", patient_id=patient.id)
    assert [e.action for e in denied] == [a[3] for a in attempts]
    assert all(e.actor_id == outsider.id and e.ward_id == home.id for e in denied)
    assert await _events(db, outcome="allowed") == []
    # Nothing changed behind the 404s.
    await db.refresh(patient)
    assert patient.given_name != "X"


async def test_roles_other_than_ward_staff_are_refused_by_role(client, db, app):
    ward = await builders.ward(db)
    patient = await builders.patient(db, ward.id)
    admin = await builders.user(db, "admin")
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)

    # An agency worker may read a patient within a consent (else 404: test_agency_patient_view),
    # but never list, search or register patients.
    admin_headers = builders.bearer(app, admin)
    assert (await client.get(f"{PATIENTS}/{patient.id}", headers=admin_headers)).status_code == 403
    worker_headers = builders.bearer(app, worker)
    assert (await client.get(f"{PATIENTS}/{patient.id}", headers=worker_headers)).status_code == 404
    for who in (admin, worker):
        headers = builders.bearer(app, who)
        assert (await client.get(PATIENTS, headers=headers)).status_code == 403
        search = await client.get(PATIENTS, params={"name": "Fam"}, headers=headers)
        assert search.status_code == 403
        created = await client.post(PATIENTS, json=builders.patient_body(), headers=headers)
        assert created.status_code == 403
    assert (await client.get(PATIENTS)).status_code == 401


async def test_a_patient_read_is_one_statement_once_the_caller_is_cached(app, client, db):
    """The read path's round trips (issue 21): the first request reads the caller and then
    finds the patient and writes its audit row in one statement; once the principal cache
    holds the caller, that one statement is all the request sends. bench/api_read.py
    compiles the same statement objects for its bare side."""
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    await db.commit()
    sent: list[str] = []
    res = app.state.resources
    engine = res.engine.sync_engine
    headers = builders.bearer(app, nurse)

    # What asyncpg sends as simple queries: transaction control (BEGIN, COMMIT, ROLLBACK);
    # prepared statements are not logged there, so this sees exactly the round trips around them.
    control: list[str] = []

    def remember(_conn, _cursor, statement, _params, _context, _many) -> None:
        sent.append(statement)

    def log_control(record) -> None:
        control.append(record.query.strip().rstrip(";").split()[0].upper())

    def on_checkout(dbapi_conn, _record, _proxy) -> None:
        dbapi_conn.driver_connection.add_query_logger(log_control)

    def on_checkin(dbapi_conn, _record) -> None:
        if dbapi_conn is not None:
            dbapi_conn.driver_connection.remove_query_logger(log_control)

    for _ in range(500):  # the listener connects in the background as the app starts
        if res.principal_cache is None or res.principal_cache.listening:
            break
        await asyncio.sleep(0.01)
    event.listen(engine, "before_cursor_execute", remember)
    event.listen(engine.pool, "checkout", on_checkout)
    event.listen(engine.pool, "checkin", on_checkin)
    try:
        first = await client.get(f"/api/v1/patients/{patient.id}", headers=headers)
        first_sent, sent[:] = list(sent), []
        second = await client.get(f"/api/v1/patients/{patient.id}", headers=headers)
        await asyncio.sleep(0.05)  # asyncpg calls its query loggers soon after, not at once
    finally:
        event.remove(engine, "before_cursor_execute", remember)
        event.remove(engine.pool, "checkout", on_checkout)
        event.remove(engine.pool, "checkin", on_checkin)

    assert first.status_code == second.status_code == 200
    principal = bare_sql(PRINCIPAL_QUERY, {"user_id": nurse.id, "token_id": ""})[0]
    read = bare_sql(STAFF_PATIENT_READ, {})[0]
    assert first_sent == [principal, read]
    expected = [read] if res.principal_cache is not None else [principal, read]
    assert sent == expected
    # The route is declared standalone: each statement commits on its own, so neither request
    # spends a round trip on BEGIN or COMMIT (through a transaction pooler they keep both).
    standalone = res.standalone_sessionmaker is not None
    assert control == ([] if standalone else ["BEGIN", "COMMIT"] * 2)
    rows = await db.scalars(
        select(AuditEvent).where(
            AuditEvent.patient_id == patient.id, AuditEvent.action == "patient.read"
        )
    )
    audited = rows.all()
    assert len(audited) == 2
    assert {(a.actor_id, a.outcome, a.ward_id, a.object_id) for a in audited} == {
        (nurse.id, "allowed", ward.id, str(patient.id))
    }


async def test_the_prebuilt_patient_lookup_finds_what_readable_patients_finds(db):
    """The hot read path runs a prebuilt statement; it must scope exactly as readable_patients."""
    from service.patient_access.staff import readable_patients

    ward, other_ward = await builders.ward(db), await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    ours = await builders.patient(db, ward.id)
    theirs = await builders.patient(db, other_ward.id)
    await db.commit()
    caller = builders.principal(nurse)

    for patient, expected in ((ours, [ours.id]), (theirs, [])):
        readable = await db.scalars(
            readable_patients(caller).where(Patient.id == patient.id).with_only_columns(Patient.id)
        )
        prebuilt = await db.execute(
            STAFF_PATIENT_ROW_QUERY, {"patient_id": patient.id, "ward_id": ward.id}
        )
        assert list(readable.all()) == [row.id for row in prebuilt.all()] == expected


def test_only_a_get_route_may_be_declared_standalone():
    """A route that writes must keep its transaction (its locks, its writes together): the
    app refuses to start with a write route declared standalone, itself or by its controller."""
    import pytest
    from litestar import Controller, Litestar, get, post

    from service.app import _refuse_standalone_writes
    from service.http.auth import WARD, roles

    class Reads(Controller):
        path = "/reads"
        opt = roles(WARD, standalone=True)

        @get("/")
        async def read(self) -> None:
            return None

    class Writes(Controller):
        path = "/writes"
        opt = roles(WARD, standalone=True)

        @post("/")
        async def write(self) -> None:
            return None

    _refuse_standalone_writes(Litestar([Reads]))
    with pytest.raises(RuntimeError, match="standalone"):
        _refuse_standalone_writes(Litestar([Writes]))
