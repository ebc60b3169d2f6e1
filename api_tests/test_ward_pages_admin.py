"""The ward manager's page (settings, on-call rota), the audit log page and its CSV, and the
admins' pages, over HTTP with cookie sessions. Who may open each page is in PAGE_RULES
(test_board_pages.py); here: what they do, refusals that change nothing, and the data."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from api_tests import authz_matrix as matrix
from api_tests import builders
from api_tests.authz_matrix import ADMIN, MANAGER, OTHER_STAFF, STAFF
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.test_board_pages import csrf_of, session_headers
from db.models import Agency, AuditEvent, OnCallShift, PasswordReset, User, Ward
from service import audit
from service.web.audit import csv_cell
from service.web.session import csrf_for


async def _post(client, world, role, url, data):
    return await client.post(
        url,
        data={"csrf_token": csrf_of(world, role), **data},
        headers=session_headers(world, role),
        follow_redirects=False,
    )


async def _fresh(db, ward: Ward) -> Ward:
    return await db.get(Ward, ward.id, populate_existing=True)


def _settings_form(ward: Ward, **changes: str) -> dict[str, str]:
    policy = ward.escalation_policy
    form = {
        "name": ward.name,
        "timezone": ward.timezone,
        "crisis_message": ward.crisis_message,
        "escalation_policy.on_call_phone": "",
        "escalation_policy.crisis_phone": "",
        "escalation_policy.read_minutes": "60",
        "escalation_policy.staff_email": "fallback",
        "escalation_policy.resolve_minutes.urgent": "240",
        "escalation_policy.resolve_minutes.routine": "1440",
    }
    for speed in ("urgent", "routine"):
        for level in (1, 2, 3):
            minutes = policy["ack_minutes"][speed][level - 1]
            form[f"escalation_policy.ack_minutes.{speed}.{level}"] = str(minutes)
    form.update(changes)
    return form


async def test_a_manager_changes_the_on_call_number_and_deadlines(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    page = await client.get("/board/ward", headers=session_headers(world, MANAGER))
    assert page.status_code == 200
    assert "Manage ward" in page.text
    form = _settings_form(
        world.ward,
        **{
            "escalation_policy.on_call_phone": "020 7946 0018",
            "escalation_policy.ack_minutes.urgent.2": "25",
        },
    )
    response = await _post(client, world, MANAGER, "/board/ward/settings", form)
    assert response.status_code == 303
    assert response.headers["location"] == "/board/ward?saved=settings"
    ward = await _fresh(db, world.ward)
    assert ward.escalation_policy["on_call_phone"] == "+442079460018"
    assert ward.escalation_policy["ack_minutes"]["urgent"] == [15, 25, 60]
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "ward.update").order_by(AuditEvent.id.desc())
    )
    assert event.actor_id == world.users[MANAGER].id
    assert "escalation_policy.on_call_phone" in event.detail["fields"]


async def test_a_mistyped_on_call_number_is_refused_and_nothing_changes(app, client, db, clock):
    """HW-43: a typo in the on-call number would page nobody; the API's own check refuses it."""
    world = await matrix.build_world(db, app, clock.now())
    before = dict((await _fresh(db, world.ward)).escalation_policy)
    form = _settings_form(
        world.ward,
        **{
            "escalation_policy.on_call_phone": "020 7946 001",
        },
    )
    response = await _post(client, world, MANAGER, "/board/ward/settings", form)
    assert response.status_code == 422
    assert 'href="#f-escalation_policy.on_call_phone"' in response.text
    assert "On-call phone is not a valid phone number" in response.text
    assert 'value="020 7946 001"' in response.text
    assert (await _fresh(db, world.ward)).escalation_policy == before
    # A deadline out of bounds is named beside its own level's box.
    form = _settings_form(
        await _fresh(db, world.ward), **{"escalation_policy.ack_minutes.routine.3": "0"}
    )
    response = await _post(client, world, MANAGER, "/board/ward/settings", form)
    assert response.status_code == 422
    assert 'id="f-escalation_policy.ack_minutes.routine.3-error"' in response.text
    assert (await _fresh(db, world.ward)).escalation_policy == before


async def test_the_rota_adds_in_ward_time_refuses_bad_shifts_and_removes_after_confirming(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    nurse = await builders.user(
        db, "ward_staff", ward_id=world.ward.id, mobile="+447700900123", full_name="Kit Oncall"
    )
    page = await client.get("/board/ward", headers=session_headers(world, MANAGER))
    assert "Kit Oncall" in page.text
    # Ward time: Europe/London in December is UTC.
    start = (clock.now() + timedelta(days=1)).replace(hour=20, minute=0, second=0, microsecond=0)
    form = {
        "user_id": str(nurse.id),
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
    }
    # Without a mobile: refused beside the field, nothing written.
    no_mobile = world.users[STAFF]
    refused = await _post(
        client, world, MANAGER, "/board/ward/on-call", {**form, "user_id": str(no_mobile.id)}
    )
    assert refused.status_code == 422
    assert "has no mobile number to be paged on" in refused.text
    ends_first = await _post(
        client, world, MANAGER, "/board/ward/on-call", {**form, "ends_at": form["starts_at"]}
    )
    assert ends_first.status_code == 422 and "must be after starts_at" in ends_first.text
    assert await db.scalar(select(func.count()).select_from(OnCallShift)) == 0

    added = await _post(client, world, MANAGER, "/board/ward/on-call", form)
    assert added.status_code == 303
    shift = await db.scalar(select(OnCallShift))
    assert shift.user_id == nurse.id and shift.starts_at == start
    assert shift.ends_at - shift.starts_at == timedelta(hours=12)

    confirm = await client.get(
        f"/board/ward/on-call/{shift.id}/remove", headers=session_headers(world, MANAGER)
    )
    assert confirm.status_code == 200 and "Yes, remove the shift" in confirm.text
    assert await db.scalar(select(func.count()).select_from(OnCallShift)) == 1
    removed = await _post(client, world, MANAGER, f"/board/ward/on-call/{shift.id}/remove", {})
    assert removed.status_code == 303
    assert await db.scalar(select(func.count()).select_from(OnCallShift)) == 0


async def test_staff_are_refused_and_another_wards_manager_gets_the_audited_404(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    for url in ("/board/ward", "/board/audit", "/board/admin/users"):
        response = await client.get(url, headers=session_headers(world, STAFF))
        assert response.status_code == 403, url
    other_manager = await builders.user(db, "ward_manager", ward_id=world.other_ward.id)
    world.headers["other_manager"] = builders.bearer(app, other_manager)
    url = f"/board/ward?ward_id={world.ward.id}"
    response = await client.get(url, headers=session_headers(world, "other_manager"))
    assert response.status_code == 404
    form = _settings_form(await _fresh(db, world.ward), name="Taken over")
    response = await _post(
        client, world, "other_manager", f"/board/ward/settings?ward_id={world.ward.id}", form
    )
    assert response.status_code == 404
    assert (await _fresh(db, world.ward)).name != "Taken over"
    denied = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.actor_id == other_manager.id, AuditEvent.outcome == "denied")
    )
    assert denied == 2
    # The manager's own page is only a manager's and admins': admins reach any ward.
    response = await client.get(url, headers=session_headers(world, ADMIN))
    assert response.status_code == 200


async def _events(db, world):
    """Three events on the world's ward (two about the patient), one on the other ward."""
    manager = builders.principal(world.users[MANAGER])
    staff = builders.principal(world.users[STAFF])
    now = world.now
    audit.record(
        db,
        staff,
        "patient.read",
        at=now,
        patient_id=world.patient.id,
        ward_id=world.ward.id,
        object_type="patient",
        object_id=world.patient.id,
    )
    audit.record(
        db,
        manager,
        '=HYPERLINK("http://evil")',
        at=now + timedelta(seconds=1),
        patient_id=world.patient.id,
        ward_id=world.ward.id,
    )
    audit.record(db, manager, "ward.update", at=now + timedelta(seconds=2), ward_id=world.ward.id)
    other = builders.principal(world.users[OTHER_STAFF])
    audit.record(
        db,
        other,
        "patient.read",
        at=now,
        patient_id=world.other_patient.id,
        ward_id=world.other_ward.id,
    )
    await db.commit()


async def test_the_audit_log_filters_by_patient_and_the_csv_holds_the_same_guarded_rows(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    await _events(db, world)
    headers = session_headers(world, MANAGER)
    query = f"patient={world.patient.nhs_number}"
    page = await client.get(f"/board/audit?{query}", headers=headers)
    assert page.status_code == 200
    rows = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert rows.count("<tr>") == 2
    assert "patient.read" in rows and "ward.update" not in rows
    # By id as well, and the other ward's events never show to this manager.
    by_id = await client.get(f"/board/audit?patient={world.other_patient.id}", headers=headers)
    assert "No events match." in by_id.text

    export = await client.get(f"/board/audit.csv?{query}", headers=headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(export.text)))
    assert table[0][:5] == ["occurred_at", "actor", "actor_id", "actor_role", "action"]
    assert len(table) == 3  # the header and the page's two rows
    actions = [row[4] for row in table[1:]]
    assert actions == ['\'=HYPERLINK("http://evil")', "patient.read"]
    same = await client.get(f"/board/audit?{query}&format=csv", headers=headers)
    assert same.text == export.text

    # Admins see every ward; a bad filter is the form again (422), not an empty file.
    everything = await client.get(
        "/board/audit?action=patient.read", headers=session_headers(world, ADMIN)
    )
    assert str(world.other_patient.id) in everything.text
    bad = await client.get("/board/audit?patient=12345&from=yesterday", headers=headers)
    assert bad.status_code == 422
    assert "Patient is not an NHS number or a patient id" in bad.text
    assert (await client.get("/board/audit.csv?from=x", headers=headers)).status_code == 422


def test_csv_cells_that_a_spreadsheet_would_run_are_defused():
    assert [csv_cell(v) for v in ("=1+1", "+44", "-2", "@SUM(A1)", "\tx", "ok", None, 5)] == [
        "'=1+1",
        "'+44",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        "",
        "5",
    ]


async def test_an_admin_creates_and_changes_a_user_and_refusals_write_nothing(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    before = await db.scalar(select(func.count()).select_from(User))
    form = {
        "full_name": "Robin Manager",
        "email": "robin@example.org",
        "role": "ward_manager",
        "ward_id": "",
        "agency_id": str(world.agency.id),
        "mobile": "",
        "password": "short",
    }
    refused = await _post(client, world, ADMIN, "/board/admin/users", form)
    assert refused.status_code == 422
    assert "Starting password must be at least 12 characters" in refused.text
    assert 'value="short"' not in refused.text
    assert await db.scalar(select(func.count()).select_from(User)) == before
    form.update(password="a long enough passphrase", ward_id=str(world.ward.id))
    created = await _post(client, world, ADMIN, "/board/admin/users", form)
    assert created.status_code == 303
    robin = await db.scalar(select(User).where(User.email == "robin@example.org"))
    assert (robin.role, robin.ward_id, robin.agency_id) == ("ward_manager", world.ward.id, None)
    changed = await _post(
        client,
        world,
        ADMIN,
        f"/board/admin/users/{robin.id}",
        {**form, "role": "agency_worker", "ward_id": str(world.ward.id)},
    )
    assert changed.status_code == 303
    robin = await db.get(User, robin.id, populate_existing=True)
    assert (robin.role, robin.ward_id, robin.agency_id) == ("agency_worker", None, world.agency.id)
    listed = await client.get(
        "/board/admin/users?role=agency_worker", headers=session_headers(world, ADMIN)
    )
    assert "Robin Manager" in listed.text and world.users[MANAGER].full_name not in listed.text


async def test_a_deactivated_users_next_page_request_is_refused(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    target_id = world.users[STAFF].id
    assert (await client.get("/board", headers=session_headers(world, STAFF))).status_code == 200
    confirm = await client.get(
        f"/board/admin/users/{target_id}/deactivate", headers=session_headers(world, ADMIN)
    )
    assert "Yes, deactivate" in confirm.text
    assert (await db.get(User, target_id, populate_existing=True)).active
    done = await _post(client, world, ADMIN, f"/board/admin/users/{target_id}/deactivate", {})
    assert done.status_code == 303
    assert not (await db.get(User, target_id, populate_existing=True)).active
    # The session cookie they still hold no longer opens anything: back to sign-in.
    again = await client.get(
        "/board", headers=session_headers(world, STAFF), follow_redirects=False
    )
    assert (again.status_code, again.headers["location"]) == (303, "/board/login")


async def test_an_admin_creates_changes_and_deactivates_an_agency_and_a_ward(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    refused = await _post(
        client, world, ADMIN, "/board/admin/agencies", {"name": "X", "kind": "castle"}
    )
    assert refused.status_code == 422
    created = await _post(
        client,
        world,
        ADMIN,
        "/board/admin/agencies",
        {"name": "Open Door", "kind": "housing", "phone": ""},
    )
    assert created.status_code == 303
    agency_id = created.headers["location"].split("/")[-1].split("?")[0]
    deactivate = await _post(
        client, world, ADMIN, f"/board/admin/agencies/{agency_id}/deactivate", {}
    )
    assert deactivate.status_code == 303
    assert not (await db.get(Agency, uuid.UUID(agency_id), populate_existing=True)).active
    wards_before = await db.scalar(select(func.count()).select_from(Ward))
    bad = await _post(
        client, world, ADMIN, "/board/admin/wards", {"name": "Elm", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422
    assert await db.scalar(select(func.count()).select_from(Ward)) == wards_before
    made = await _post(
        client, world, ADMIN, "/board/admin/wards", {"name": "Elm", "timezone": "Europe/London"}
    )
    assert made.status_code == 303 and made.headers["location"].startswith("/board/ward?ward_id=")


async def _sign_in(client, email: str, password: str):
    form = await client.get("/board/login")
    token = form.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    return await client.post(
        "/board/login",
        data={"login_csrf": token, "email": email, "password": password},
        follow_redirects=False,
    )


async def test_a_reset_code_is_shown_once_signs_in_once_and_forces_a_new_password(
    app, client, db, clock
):
    """HW-45: a reset code is a credential: hashed, single use, expiring, forcing a change."""
    world = await matrix.build_world(db, app, clock.now())
    target = world.users[STAFF]
    target_id, email = target.id, target.email
    shown = await _post(client, world, ADMIN, f"/board/admin/users/{target_id}/password-reset", {})
    assert shown.status_code == 200
    code = shown.text.split('id="the-code">', 1)[1].split("<", 1)[0]
    assert len(code) == 19
    user = await db.get(User, target_id, populate_existing=True)
    assert code not in user.password_hash and user.must_change_password
    reset = await db.get(PasswordReset, target_id)
    assert reset.expires_at == clock.now() + timedelta(hours=24) and reset.redeemed_at is None
    # The page after does not show it again; the old session and password have ended.
    again = await client.get(
        f"/board/admin/users/{target_id}", headers=session_headers(world, ADMIN)
    )
    assert code not in again.text
    client.cookies.clear()
    old = await client.get("/board", headers=session_headers(world, STAFF), follow_redirects=False)
    assert old.headers["location"] == "/board/login"
    assert (await _sign_in(client, email, builders.PASSWORD)).status_code == 401

    first = await _sign_in(client, email, code)
    assert (first.status_code, first.headers["location"]) == (303, "/board/password")
    session = first.cookies["homeward_session"]
    client.cookies.clear()
    second = await _sign_in(client, email, code)
    assert second.status_code == 401  # used up
    client.cookies.clear()
    # The forced change (the existing mechanism) takes the code as the current password.
    new = "my own new passphrase"
    changed = await client.post(
        "/board/password",
        data={
            "csrf_token": csrf_for(TEST_JWT_SECRET, session),
            "current_password": code,
            "new_password": new,
            "confirm_password": new,
        },
        headers={"Cookie": f"homeward_session={session}"},
        follow_redirects=False,
    )
    assert (changed.status_code, changed.headers["location"]) == (303, "/board")
    client.cookies.clear()
    assert await db.get(PasswordReset, target_id, populate_existing=True) is None
    user = await db.get(User, target_id, populate_existing=True)
    assert not user.must_change_password
    audited = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action.in_(["user.password_reset", "user.password_reset_used"]),
            AuditEvent.object_id == str(target_id),
        )
    )
    assert audited == 2


async def test_a_reset_code_expires_and_the_api_answers_it_once(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    target = world.users[STAFF]
    target_id, email = target.id, target.email
    response = await client.post(
        f"/api/v1/users/{target_id}/password-reset", headers=world.headers[ADMIN]
    )
    assert response.status_code == 201
    code = response.json()["code"]
    refused = await client.post(
        f"/api/v1/users/{target_id}/password-reset", headers=world.headers[MANAGER]
    )
    assert refused.status_code == 403
    clock.advance(timedelta(hours=24, seconds=1))
    late = await client.post("/api/v1/auth/login", json={"email": email, "password": code})
    assert late.status_code == 401
    assert (await db.get(PasswordReset, target_id, populate_existing=True)).redeemed_at is None


async def test_the_audit_log_pages_by_keyset_and_the_csv_follows_the_page(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    staff = builders.principal(world.users[STAFF])
    start = world.now + timedelta(minutes=1)
    for n in range(53):
        audit.record(
            db,
            staff,
            "paging.test",
            at=start + timedelta(seconds=n),
            ward_id=world.ward.id,
            object_type="probe",
            object_id=f"probe-{n:02d}",
        )
    await db.commit()
    headers = session_headers(world, MANAGER)
    first = await client.get("/board/audit?action=paging.test", headers=headers)
    body = first.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 50
    assert "probe-52" in body and "probe-02" not in body  # newest first
    cursor = first.text.split("cursor=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    older = await client.get(f"/board/audit?action=paging.test&cursor={cursor}", headers=headers)
    rest = older.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert rest.count("<tr>") == 3 and "probe-00" in rest and "probe-03" not in rest
    assert "Older events" not in older.text
    export = await client.get(
        f"/board/audit.csv?action=paging.test&cursor={cursor}", headers=headers
    )
    table = list(csv.reader(io.StringIO(export.text)))
    assert [row[9] for row in table[1:]] == ["probe-02", "probe-01", "probe-00"]
