from __future__ import annotations

import uuid

from sqlalchemy import func, select

from api_tests import builders
from db.models import User


async def _admin(client, db):
    admin = await builders.user(db, "admin")
    return admin, builders.bearer(client.app, admin)


async def test_admin_creates_a_ward_with_a_default_policy(client, db):
    _, headers = await _admin(client, db)

    response = await client.post(
        "/api/v1/wards",
        json={
            "name": "Willow Ward",
            "timezone": "Europe/London",
            "crisis_message": "Call 0800 000 000",
        },
        headers=headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["escalation_policy"]["ack_minutes"] == {
        "urgent": [15, 30, 60],
        "routine": [240, 480, 1440],
    }
    again = await client.post("/api/v1/wards", json={"name": "Willow Ward"}, headers=headers)
    assert again.status_code == 409


async def test_invalid_ward_input_is_a_422_problem_listing_fields(client, db):
    _, headers = await _admin(client, db)

    bad_zone = await client.post(
        "/api/v1/wards", json={"name": "X", "timezone": "Mars/Olympus"}, headers=headers
    )
    unknown_field = await client.post(
        "/api/v1/wards", json={"name": "Y", "colour": "red"}, headers=headers
    )
    bad_policy = await client.post(
        "/api/v1/wards",
        json={"name": "Z", "escalation_policy": {"ack_minutes": {"urgent": [15, 30]}}},
        headers=headers,
    )
    malformed = await client.post(
        "/api/v1/wards",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )

    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")
    for response in (bad_zone, unknown_field, bad_policy):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"]
    assert bad_zone.json()["errors"][0]["field"] == "timezone"


async def test_staff_read_their_own_ward_and_get_404_for_another(client, db):
    mine = await builders.ward(db)
    other = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=mine.id)
    headers = builders.bearer(client.app, nurse)

    assert (await client.get(f"/api/v1/wards/{mine.id}", headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/wards/{other.id}", headers=headers)).status_code == 404
    listed = (await client.get("/api/v1/wards", headers=headers)).json()
    assert [w["id"] for w in listed["items"]] == [str(mine.id)]
    assert (
        await client.post("/api/v1/wards", json={"name": "Nope"}, headers=headers)
    ).status_code == 403


async def test_admin_creates_users_with_checked_affiliations(client, db):
    _, headers = await _admin(client, db)
    ward = await builders.ward(db)

    created = await client.post(
        "/api/v1/users",
        json={
            "email": "Nurse.One@Example.org",
            "full_name": "Nurse One",
            "role": "ward_staff",
            "ward_id": str(ward.id),
            "password": "a long enough password",
            "mobile": "07911 123456",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "nurse.one@example.org"
    assert body["mobile"] == "+447911123456"
    assert "password" not in body

    cases = [
        ({"role": "ward_staff"}, "ward_id"),
        ({"role": "agency_worker"}, "agency_id"),
        ({"role": "admin", "ward_id": str(ward.id)}, "ward_id"),
        ({"role": "ward_staff", "ward_id": str(uuid.uuid4())}, "ward_id"),
        ({"role": "admin", "password": "short"}, "password"),
        ({"role": "admin", "mobile": "020 7946 0000"}, "mobile"),
    ]
    for extra, field in cases:
        payload = {
            "email": f"{uuid.uuid4().hex[:8]}@example.org",
            "full_name": "X",
            "password": "a long enough password",
            **extra,
        }
        response = await client.post("/api/v1/users", json=payload, headers=headers)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["errors"][0]["field"] == field

    duplicate = await client.post(
        "/api/v1/users",
        json={
            "email": "nurse.one@example.org",
            "full_name": "Dup",
            "role": "admin",
            "password": "a long enough password",
        },
        headers=headers,
    )
    assert duplicate.status_code == 409


async def test_failed_user_creation_changes_nothing(client, db):
    _, headers = await _admin(client, db)
    before = await db.scalar(select(func.count()).select_from(User))
    await client.post(
        "/api/v1/users",
        json={
            "email": "x@example.org",
            "full_name": "X",
            "role": "ward_staff",
            "password": "a long enough password",
        },
        headers=headers,
    )
    assert await db.scalar(select(func.count()).select_from(User)) == before


async def test_user_list_pages_with_a_cursor(client, db):
    _, headers = await _admin(client, db)
    ward = await builders.ward(db)
    for _ in range(4):
        await builders.user(db, "ward_staff", ward_id=ward.id)

    first = (await client.get("/api/v1/users?limit=2", headers=headers)).json()
    second = (
        await client.get(f"/api/v1/users?limit=2&cursor={first['next_cursor']}", headers=headers)
    ).json()
    third = (
        await client.get(f"/api/v1/users?limit=2&cursor={second['next_cursor']}", headers=headers)
    ).json()

    ids = [u["id"] for page in (first, second, third) for u in page["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert third["next_cursor"] is None
    assert (await client.get("/api/v1/users?limit=201", headers=headers)).status_code == 422
    assert (await client.get("/api/v1/users?cursor=garbage", headers=headers)).status_code == 422


async def test_admin_changes_role_and_that_revokes_tokens(client, db):
    _, headers = await _admin(client, db)
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    nurse_headers = builders.bearer(client.app, nurse)

    promoted = await client.patch(
        f"/api/v1/users/{nurse.id}", json={"role": "ward_manager"}, headers=headers
    )

    assert promoted.status_code == 200
    assert promoted.json()["role"] == "ward_manager"
    assert (await client.get("/api/v1/me", headers=nurse_headers)).status_code == 401
    missing = await client.patch(
        f"/api/v1/users/{uuid.uuid4()}", json={"full_name": "X"}, headers=headers
    )
    assert missing.status_code == 404


async def test_unknown_query_parameters_are_refused(client, db):
    _, headers = await _admin(client, db)
    response = await client.get("/api/v1/users?ward=abc&limit=5", headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "ward", "message": "unknown query parameter"}]
    assert (await client.get("/api/v1/users?limit=5", headers=headers)).status_code == 200


def test_the_service_roles_are_the_roles_the_users_table_accepts():
    from db.models.users import ROLES as TABLE_ROLES
    from service.principal import ROLES

    expected = {"admin", "ward_manager", "ward_staff", "agency_worker"}
    assert set(ROLES) == set(TABLE_ROLES) == expected
