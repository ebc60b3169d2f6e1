from __future__ import annotations

import uuid
from datetime import timedelta

from api_tests import builders
from service.plans.service import current_plan

PATIENTS = "/api/v1/patients"


async def test_goal_status_changes_are_kept_and_final_statuses_stay_final(client, db, app, clock):
    team = await builders.ward_team(db, app)
    agency = await builders.agency(db, kind="housing")
    patient = await builders.patient(db, team.ward.id)
    goals = f"{PATIENTS}/{patient.id}/goals"
    h = team.nurse_headers

    created = await client.post(
        goals,
        json={
            "domain": "housing",
            "description": "  Secure a tenancy near family ",
            "target_date": "2027-02-01",
            "owner_agency_id": str(agency.id),
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    goal = created.json()
    assert (goal["status"], goal["description"]) == ("proposed", "Secure a tenancy near family")
    assert goal["owner_agency_id"] == str(agency.id)
    url = f"{goals}/{goal['id']}"
    clock.advance(timedelta(hours=1))
    active = await client.patch(url, json={"status": "active"}, headers=team.manager_headers)
    clock.advance(timedelta(days=20))
    achieved = await client.patch(url, json={"status": "achieved"}, headers=h)
    reopened = await client.patch(url, json={"status": "active"}, headers=h)
    same = await client.patch(url, json={"status": "achieved", "target_date": None}, headers=h)

    assert active.status_code == 200, active.text
    assert achieved.status_code == 200, achieved.text
    assert reopened.status_code == 409
    assert same.status_code == 200, same.text
    assert same.json()["target_date"] is None
    history = (await client.get(url, headers=h)).json()["status_history"]
    assert [(c["from"], c["to"]) for c in history] == [
        (None, "proposed"),
        ("proposed", "active"),
        ("active", "achieved"),
    ]
    assert [c["by"] for c in history] == [
        str(team.nurse.id),
        str(team.manager.id),
        str(team.nurse.id),
    ]
    assert [c["at"] for c in history] == [
        "2026-12-01T09:00:00Z",
        "2026-12-01T10:00:00Z",
        "2026-12-21T10:00:00Z",
    ]
    listed = (await client.get(goals, params={"status": "achieved"}, headers=h)).json()
    assert [g["id"] for g in listed["items"]] == [goal["id"]]
    assert (await client.get(goals, params={"domain": "finances"}, headers=h)).json()["items"] == []
    missing = await client.get(f"{goals}/{uuid.uuid4()}", headers=h)
    assert missing.status_code == 404


async def test_goal_input_is_checked(client, db, app):
    team = await builders.ward_team(db, app)
    closed_agency = await builders.agency(db, active=False)
    patient = await builders.patient(db, team.ward.id)
    goals = f"{PATIENTS}/{patient.id}/goals"
    cases = [
        ({"owner_agency_id": str(uuid.uuid4())}, "owner_agency_id"),
        ({"owner_agency_id": str(closed_agency.id)}, "owner_agency_id"),
        ({"domain": "fame"}, "domain"),
        ({"status": "achieved"}, "status"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 2001}, "description"),
    ]
    for override, field in cases:
        body = {"domain": "finances", "description": "Sort out benefits", **override}
        response = await client.post(goals, json=body, headers=team.nurse_headers)
        assert response.status_code == 422, (override, response.text)
        assert response.json()["errors"][0]["field"] == field
    ok = await client.post(
        goals,
        json={"domain": "finances", "description": "Budget", "status": "active"},
        headers=team.nurse_headers,
    )
    assert ok.status_code == 201
    bad_owner = await client.patch(
        f"{goals}/{ok.json()['id']}",
        json={"owner_agency_id": str(uuid.uuid4())},
        headers=team.nurse_headers,
    )
    assert bad_owner.status_code == 422


PLAN = {
    "early_warning_signs": ["Sleeping less than 5 hours", "Stopping calls to my sister"],
    "triggers": ["Anniversary in March"],
    "coping_strategies": ["Walk the dog", "Call the crisis line"],
    "crisis_contacts": [
        {"name": "Sam", "relationship": "sister", "phone": "07911 123456"},
        {"name": "GP surgery", "relationship": "GP", "phone": "020 7946 0000"},
    ],
    "check_in_question": "How are you sleeping, 0 to 10?",
}


async def test_every_put_keeps_a_version_readable_and_as_of_finds_the_one_in_force(
    client, db, app, clock
):
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    url = f"{PATIENTS}/{patient.id}/relapse-prevention-plan"
    h = team.nurse_headers

    none_yet = await client.get(url, headers=h)
    first = await client.put(url, json=PLAN, headers=h)
    clock.advance(timedelta(hours=2))
    second = await client.put(
        url,
        json={**PLAN, "check_in_question": "Score your mood 0-10"},
        headers=team.manager_headers,
    )
    clock.advance(timedelta(hours=2))
    third = await client.put(url, json={"triggers": ["Payday"]}, headers=h)

    assert none_yet.status_code == 404
    assert first.status_code == 200, first.text
    v1 = first.json()
    assert (v1["version"], v1["created_at"]) == (1, "2026-12-01T09:00:00Z")
    assert [c["phone"] for c in v1["crisis_contacts"]] == ["+447911123456", "+442079460000"]
    assert second.json()["version"] == 2
    assert second.json()["created_by"] == str(team.manager.id)
    assert third.json()["version"] == 3
    current = (await client.get(url, headers=h)).json()
    assert (current["version"], current["triggers"], current["check_in_question"]) == (
        3,
        ["Payday"],
        None,
    )

    async def as_of(moment):
        return await client.get(url, params={"as_of": moment}, headers=h)

    assert (await as_of("2026-12-01T08:59:59Z")).status_code == 404
    assert (await as_of("2026-12-01T09:00:00Z")).json()["version"] == 1
    assert (await as_of("2026-12-01T10:59:59Z")).json()["version"] == 1
    in_force = (await as_of("2026-12-01T12:30:00+01:00")).json()
    assert (in_force["version"], in_force["check_in_question"]) == (2, "Score your mood 0-10")
    assert (await as_of("2026-12-01T13:00:00Z")).json()["version"] == 3
    naive = await as_of("2026-12-01T13:00:00")
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "as_of"

    versions: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{url}/versions", params=params, headers=h)).json()
        versions += [v["version"] for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert versions == [3, 2, 1]

    plan = await current_plan(db, patient.id)
    assert plan is not None
    assert (plan.version, plan.triggers, plan.check_in_question) == (3, ("Payday",), None)
    assert await current_plan(db, uuid.uuid4()) is None


async def test_plan_lists_and_strings_are_bounded_and_phones_checked(client, db, app):
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    url = f"{PATIENTS}/{patient.id}/relapse-prevention-plan"
    contact = {"name": "Sam", "relationship": "sister", "phone": "07911 123456"}
    cases = [
        ({"triggers": ["x"] * 31}, "triggers"),
        ({"coping_strategies": ["x" * 501]}, "coping_strategies[0]"),
        ({"early_warning_signs": ["  "]}, "early_warning_signs[0]"),
        ({"crisis_contacts": [contact] * 11}, "crisis_contacts"),
        (
            {"crisis_contacts": [contact, {**contact, "phone": "ring me"}]},
            "crisis_contacts[1].phone",
        ),
        ({"crisis_contacts": [{**contact, "phone": "0123"}]}, "crisis_contacts[0].phone"),
        ({"check_in_question": "?" * 301}, "check_in_question"),
        ({"crisis_contacts": [{"name": "Sam", "phone": "07911 123456"}]}, None),
    ]
    for body, field in cases:
        response = await client.put(url, json=body, headers=team.nurse_headers)
        assert response.status_code == 422, (body, response.text)
        if field is not None:
            assert response.json()["errors"][0]["field"] == field, response.text
    assert (await client.get(url, headers=team.nurse_headers)).status_code == 404
