from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from api_tests import builders
from db.models import AuditEvent
from service import audit

AUDIT = "/api/v1/audit-events"
PATIENTS = "/api/v1/patients"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'patient.forged'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_the_database_refuses_to_change_or_remove_audit_events(db, statement):
    db.add(audit.event(None, "patient.read", at=datetime(2026, 12, 1, tzinfo=UTC)))
    await db.commit()

    with pytest.raises(DBAPIError, match="append-only"):
        await db.execute(text(statement))
    await db.rollback()

    assert [e.action for e in (await db.scalars(select(AuditEvent))).all()] == ["patient.read"]


async def test_every_patient_route_leaves_an_allowed_event(client, db, app):
    team = await builders.ward_team(db, app)
    h = team.nurse_headers
    created = await client.post(
        PATIENTS, json=builders.patient_body(admitted_at="2026-11-20T09:00:00Z"), headers=h
    )
    url = f"{PATIENTS}/{created.json()['id']}"
    calls = [
        ("GET", url, None),
        ("GET", PATIENTS, None),
        ("PATCH", url, {"language": "pl"}),
        (
            "POST",
            f"{url}/discharge",
            {"discharged_at": "2026-11-30T09:00:00Z", "suicide_risk": False},
        ),
        ("POST", f"{url}/admissions", {"admitted_at": "2026-12-01T08:00:00Z"}),
        ("GET", f"{url}/episodes", None),
        ("POST", f"{url}/goals", {"domain": "housing", "description": "Find a flat"}),
        ("GET", f"{url}/goals", None),
        ("PUT", f"{url}/relapse-prevention-plan", {"triggers": ["Debt letters"]}),
        ("GET", f"{url}/relapse-prevention-plan", None),
        ("GET", f"{url}/relapse-prevention-plan/versions", None),
        ("GET", f"{url}/follow-ups", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body, headers=h)
        assert response.status_code < 300, (method, path, response.text)
    goal_id = (await client.get(f"{url}/goals", headers=h)).json()["items"][0]["id"]
    await client.patch(f"{url}/goals/{goal_id}", json={"status": "active"}, headers=h)
    follow_up_id = (await client.get(f"{url}/follow-ups", headers=h)).json()["items"][0]["id"]
    await client.post(
        f"{url}/follow-ups/{follow_up_id}/attempts",
        json={"occurred_at": "2026-11-30T12:00:00Z", "method": "phone", "successful": True},
        headers=h,
    )

    events = (await db.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [e.action for e in events] == [
        "patient.create",
        "patient.read",
        "patient.list",
        "patient.update",
        "episode.discharge",
        "episode.admit",
        "episode.list",
        "goal.create",
        "goal.list",
        "plan.update",
        "plan.read",
        "plan.versions",
        "follow_up.list",
        "goal.list",
        "goal.update",
        "follow_up.list",
        "follow_up.attempt",
    ]
    assert all(e.outcome == "allowed" and e.actor_id == team.nurse.id for e in events)
    assert all(e.ward_id == team.ward.id for e in events)
    # Field names and ids only: nothing of the patient's data.
    body = created.json()
    for value in (body["nhs_number"], body["given_name"], body["family_name"], body["mobile"]):
        assert value not in str([e.detail for e in events])


async def test_managers_read_their_wards_events_newest_first_admins_read_all(
    client, db, app, clock
):
    team = await builders.ward_team(db, app)
    other = await builders.ward_team(db, app)
    mine = await builders.patient(db, team.ward.id)
    theirs = await builders.patient(db, other.ward.id)
    for _ in range(3):
        await client.get(f"{PATIENTS}/{mine.id}", headers=team.nurse_headers)
        clock.advance(timedelta(minutes=10))
    await client.get(f"{PATIENTS}/{theirs.id}", headers=other.nurse_headers)
    # Two events in the same instant: the id breaks the tie.
    await client.get(f"{PATIENTS}/{mine.id}/goals", headers=team.manager_headers)
    await client.get(f"{PATIENTS}/{theirs.id}", headers=team.nurse_headers)  # denied, their ward

    async def listing(headers, **params):
        response = await client.get(AUDIT, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    seen: list[dict] = []
    cursor = None
    while True:
        page = await listing(
            team.manager_headers, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["action"] for e in seen] == [
        "goal.list",
        "patient.read",
        "patient.read",
        "patient.read",
    ]
    assert len({e["id"] for e in seen}) == 4
    assert all(e["ward_id"] == str(team.ward.id) for e in seen)
    assert [e["occurred_at"] for e in seen] == sorted(
        (e["occurred_at"] for e in seen), reverse=True
    )

    theirs_for_them = await listing(other.manager_headers)
    assert [(e["action"], e["outcome"], e["actor_id"]) for e in theirs_for_them["items"]] == [
        ("patient.read", "denied", str(team.nurse.id)),
        ("patient.read", "allowed", str(other.nurse.id)),
    ]

    by_actor = await listing(team.manager_headers, actor_id=str(team.manager.id))
    assert [e["action"] for e in by_actor["items"]] == ["goal.list"]
    by_action = await listing(team.manager_headers, action="patient.read")
    assert len(by_action["items"]) == 3
    window = await listing(
        team.manager_headers, **{"from": "2026-12-01T09:10:00Z", "to": "2026-12-01T09:20:00Z"}
    )
    assert [e["occurred_at"] for e in window["items"]] == ["2026-12-01T09:10:00Z"]
    # A manager asking for another ward's patient simply finds nothing.
    assert (await listing(team.manager_headers, patient_id=str(theirs.id)))["items"] == []

    admin = await builders.user(db, "admin")
    everything = await listing(builders.bearer(app, admin), limit=200)
    assert len(everything["items"]) == 6
    for_their_patient = await listing(builders.bearer(app, admin), patient_id=str(theirs.id))
    assert len(for_their_patient["items"]) == 2

    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    for headers in (team.nurse_headers, builders.bearer(app, worker)):
        assert (await client.get(AUDIT, headers=headers)).status_code == 403
    for params in (
        {"cursor": "bm9wZQ"},
        {"from": "2026-12-01T10:00:00Z", "to": "2026-12-01T09:00:00Z"},
    ):
        bad = await client.get(AUDIT, params=params, headers=team.manager_headers)
        assert bad.status_code == 422, bad.text


def test_actors_are_recorded_by_id_and_role_and_system_names_fit_the_column():
    import uuid

    from service.principal import Principal, SystemActor, actor_identity

    user_id = uuid.uuid4()
    nurse = Principal(user_id=user_id, role="ward_staff", ward_id=uuid.uuid4(), agency_id=None)
    assert actor_identity(nurse) == (user_id, "ward_staff")
    assert actor_identity(SystemActor("ladder")) == (None, "system:ladder")
    # "system:" and 13 more characters fill the 20 the audit log's actor_role holds.
    assert actor_identity(SystemActor("a_rather_long_sweep")) == (None, "system:a_rather_long")
    assert actor_identity(None) == (None, None)
