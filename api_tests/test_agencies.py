from __future__ import annotations

import uuid

from sqlalchemy import func, select

from api_tests import builders
from db.models import Agency


async def _as(client, db, role, **fields):
    user = await builders.user(db, role, **fields)
    return user, builders.bearer(client.app, user)


async def test_admin_creates_an_agency_with_a_normalised_phone_and_unique_name(client, db):
    _, admin = await _as(client, db, "admin")

    created = await client.post(
        "/api/v1/agencies",
        json={
            "name": "Safe Homes",
            "kind": "housing",
            "email": "team@safehomes.example",
            "phone": "020 7946 0000",
        },
        headers=admin,
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "Safe Homes",
        "kind": "housing",
        "email": "team@safehomes.example",
        "phone": "+442079460000",
        "active": True,
    }
    again = await client.post(
        "/api/v1/agencies", json={"name": "Safe Homes", "kind": "gp"}, headers=admin
    )
    assert again.status_code == 409


async def test_invalid_agency_input_is_422_naming_the_field_and_changes_nothing(client, db):
    _, admin = await _as(client, db, "admin")
    before = await db.scalar(select(func.count()).select_from(Agency))
    cases = [
        ({"name": "A", "kind": "circus"}, "kind"),
        ({"name": "B", "kind": "gp", "email": "not-an-email"}, "email"),
        ({"name": "C", "kind": "gp", "phone": "12"}, "phone"),
        ({"name": "D", "kind": "gp", "phone": "0000 000000"}, "phone"),
        ({"name": "", "kind": "gp"}, "name"),
        ({"name": "E", "kind": "gp", "colour": "red"}, None),
    ]
    for payload, field in cases:
        response = await client.post("/api/v1/agencies", json=payload, headers=admin)
        assert response.status_code == 422, (payload, response.text)
        if field:
            assert response.json()["errors"][0]["field"].endswith(field), response.json()
    assert await db.scalar(select(func.count()).select_from(Agency)) == before


async def test_admin_patches_an_agency_and_clears_fields_with_null(client, db):
    _, admin = await _as(client, db, "admin")
    agency = await builders.agency(db, email="old@example.org", phone="+442079460000")
    taken = await builders.agency(db)

    changed = await client.patch(
        f"/api/v1/agencies/{agency.id}",
        json={"email": None, "kind": "benefits", "active": False},
        headers=admin,
    )
    clash = await client.patch(
        f"/api/v1/agencies/{agency.id}", json={"name": taken.name}, headers=admin
    )
    missing = await client.patch(
        f"/api/v1/agencies/{uuid.uuid4()}", json={"name": "X"}, headers=admin
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] is None
    assert changed.json()["phone"] == "+442079460000"
    assert changed.json()["kind"] == "benefits"
    assert changed.json()["active"] is False
    assert clash.status_code == 409
    assert missing.status_code == 404


async def test_ward_staff_read_all_agencies_and_filter_but_cannot_write(client, db):
    ward = await builders.ward(db)
    _, nurse = await _as(client, db, "ward_staff", ward_id=ward.id)
    housing = await builders.agency(db, kind="housing")
    gp = await builders.agency(db, kind="gp", active=False)

    listed = (await client.get("/api/v1/agencies", headers=nurse)).json()
    only_active = (await client.get("/api/v1/agencies?active=true", headers=nurse)).json()
    only_gp = (await client.get("/api/v1/agencies?kind=gp", headers=nurse)).json()

    assert {a["id"] for a in listed["items"]} == {str(housing.id), str(gp.id)}
    assert [a["id"] for a in only_active["items"]] == [str(housing.id)]
    assert [a["id"] for a in only_gp["items"]] == [str(gp.id)]
    read = await client.get(f"/api/v1/agencies/{gp.id}", headers=nurse)
    assert read.status_code == 200
    write = await client.post(
        "/api/v1/agencies", json={"name": "Nope", "kind": "gp"}, headers=nurse
    )
    patch = await client.patch(f"/api/v1/agencies/{gp.id}", json={"active": True}, headers=nurse)
    assert (write.status_code, patch.status_code) == (403, 403)


async def test_agency_worker_sees_only_their_own_agency(client, db):
    mine = await builders.agency(db)
    other = await builders.agency(db)
    _, worker = await _as(client, db, "agency_worker", agency_id=mine.id)

    listed = (await client.get("/api/v1/agencies", headers=worker)).json()
    own = await client.get(f"/api/v1/agencies/{mine.id}", headers=worker)
    foreign = await client.get(f"/api/v1/agencies/{other.id}", headers=worker)
    absent = await client.get(f"/api/v1/agencies/{uuid.uuid4()}", headers=worker)

    assert [a["id"] for a in listed["items"]] == [str(mine.id)]
    assert own.status_code == 200
    assert foreign.status_code == absent.status_code == 404
    assert foreign.json()["detail"] == absent.json()["detail"]
    deactivate = await client.patch(
        f"/api/v1/agencies/{mine.id}", json={"active": False}, headers=worker
    )
    assert deactivate.status_code == 403


async def test_agency_list_pages_with_a_cursor(client, db):
    _, admin = await _as(client, db, "admin")
    for _ in range(3):
        await builders.agency(db)
    first = (await client.get("/api/v1/agencies?limit=2", headers=admin)).json()
    second = (
        await client.get(f"/api/v1/agencies?limit=2&cursor={first['next_cursor']}", headers=admin)
    ).json()
    ids = [a["id"] for page in (first, second) for a in page["items"]]
    assert len(ids) == len(set(ids)) == 3
    assert second["next_cursor"] is None
