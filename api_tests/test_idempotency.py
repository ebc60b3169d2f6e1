from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from api_tests import builders
from db.models import IdempotencyKey, Ward


async def _admin_headers(client, db):
    admin = await builders.user(db, "admin")
    return admin, builders.bearer(client.app, admin)


async def test_same_key_and_body_replays_the_first_response(client, db):
    _, headers = await _admin_headers(client, db)
    headers = {**headers, "Idempotency-Key": "ward-create-1"}

    first = await client.post("/api/v1/wards", json={"name": "Ash Ward"}, headers=headers)
    second = await client.post("/api/v1/wards", json={"name": "Ash Ward"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert (
        await db.scalar(select(func.count()).select_from(Ward).where(Ward.name == "Ash Ward")) == 1
    )


async def test_same_key_with_a_different_body_is_422_and_changes_nothing(client, db):
    _, headers = await _admin_headers(client, db)
    headers = {**headers, "Idempotency-Key": "k-2"}
    await client.post("/api/v1/wards", json={"name": "Birch Ward"}, headers=headers)

    other = await client.post("/api/v1/wards", json={"name": "Cedar Ward"}, headers=headers)

    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert (
        await db.scalar(select(func.count()).select_from(Ward).where(Ward.name == "Cedar Ward"))
        == 0
    )


async def test_keys_are_scoped_to_the_caller(client, db):
    _, headers_a = await _admin_headers(client, db)
    _, headers_b = await _admin_headers(client, db)

    a = await client.post(
        "/api/v1/wards",
        json={"name": "Elm Ward"},
        headers={**headers_a, "Idempotency-Key": "shared"},
    )
    b = await client.post(
        "/api/v1/wards",
        json={"name": "Fir Ward"},
        headers={**headers_b, "Idempotency-Key": "shared"},
    )

    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_concurrent_duplicate_gets_409_while_the_first_runs(client, db, clock):
    admin, headers = await _admin_headers(client, db)
    # A claim held by a request still in flight (its lock has not lapsed).
    db.add(
        IdempotencyKey(
            owner_id=admin.id,
            key="busy-key",
            fingerprint="0" * 64,
            state="in_progress",
            locked_until=clock.now() + timedelta(minutes=1),
            created_at=clock.now(),
        )
    )
    await db.commit()
    from service.idempotency import fingerprint

    body = b'{"name":"Gum Ward"}'
    print_ = fingerprint("POST", "/api/v1/wards", "", body)
    await db.execute(
        IdempotencyKey.__table__.update()
        .where(IdempotencyKey.key == "busy-key")
        .values(fingerprint=print_)
    )
    await db.commit()

    response = await client.post(
        "/api/v1/wards",
        content=body,
        headers={**headers, "Idempotency-Key": "busy-key", "content-type": "application/json"},
    )
    assert response.status_code == 409

    clock.advance(timedelta(minutes=3))  # the holder died; its lock lapsed
    retried = await client.post(
        "/api/v1/wards",
        content=body,
        headers={**headers, "Idempotency-Key": "busy-key", "content-type": "application/json"},
    )
    assert retried.status_code == 201


async def test_parallel_identical_requests_create_one_row(client, db):
    _, headers = await _admin_headers(client, db)
    headers = {**headers, "Idempotency-Key": "parallel"}

    responses = await asyncio.gather(
        *[
            client.post("/api/v1/wards", json={"name": "Hazel Ward"}, headers=headers)
            for _ in range(5)
        ]
    )

    assert {r.status_code for r in responses} <= {201, 409}
    assert any(r.status_code == 201 for r in responses)
    assert (
        await db.scalar(select(func.count()).select_from(Ward).where(Ward.name == "Hazel Ward"))
        == 1
    )


async def test_a_bad_key_is_refused(client, db):
    _, headers = await _admin_headers(client, db)
    response = await client.post(
        "/api/v1/wards", json={"name": "Ivy"}, headers={**headers, "Idempotency-Key": "x" * 201}
    )
    assert response.status_code == 422
