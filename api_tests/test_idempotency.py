from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from api_tests import builders
from db.models import AuditEvent, IdempotencyKey, Patient, Ward


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


# --- a replay is authorized and audited again (issue 23) ----------------------------------------


async def _goal_setup(client, db):
    team = await builders.ward_team(db, client.app)
    patient = await builders.patient(db, team.ward.id)
    admin = await builders.user(db, "admin")
    return team, patient, builders.bearer(client.app, admin)


GOAL = {"domain": "housing", "description": "Find a flat near the day centre"}


def _goals(patient):
    return f"/api/v1/patients/{patient.id}/goals"


async def _rows(db, actor_id, patient_id):
    # Audit rows never change, so the session's identity map cannot hold a stale one.
    return list(
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.id)
        )
    )


async def test_a_replay_with_unchanged_access_is_the_stored_answer_and_is_audited(client, db):
    team, patient, _ = await _goal_setup(client, db)
    headers = {**team.nurse_headers, "Idempotency-Key": "goal-1"}
    first = await client.post(_goals(patient), json=GOAL, headers=headers)
    before = await _rows(db, team.nurse.id, patient.id)

    again = await client.post(_goals(patient), json=GOAL, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    new = (await _rows(db, team.nurse.id, patient.id))[len(before) :]
    assert [(r.action, r.outcome, r.ward_id) for r in new] == [
        ("request.replay", "allowed", team.ward.id)
    ]
    assert new[0].detail == {"route": "/api/v1/patients/{patient_id}/goals", "status": 201}


async def test_after_a_ward_move_a_replay_answers_as_a_fresh_request_and_is_audited(client, db):
    team, patient, admin_headers = await _goal_setup(client, db)
    headers = {**team.nurse_headers, "Idempotency-Key": "goal-2"}
    first = await client.post(_goals(patient), json=GOAL, headers=headers)
    assert first.status_code == 201
    other_ward = await builders.ward(db)
    moved = await client.patch(
        f"/api/v1/users/{team.nurse.id}",
        json={"ward_id": str(other_ward.id)},
        headers=admin_headers,
    )
    assert moved.status_code == 200, moved.text
    before = await _rows(db, team.nurse.id, patient.id)

    again = await client.post(_goals(patient), json=GOAL, headers=headers)
    fresh = await client.post(
        _goals(patient), json=GOAL, headers={**team.nurse_headers, "Idempotency-Key": "new-key"}
    )

    # The same answer a new request gets: the patient is out of reach now (404), no record.
    assert again.status_code == fresh.status_code == 404
    assert "idempotent-replayed" not in again.headers
    assert "Find a flat" not in again.text and first.json()["id"] not in again.text
    new = (await _rows(db, team.nurse.id, patient.id))[len(before) :]
    assert [(r.action, r.outcome) for r in new] == [
        ("goal.create", "denied"),
        ("goal.create", "denied"),
    ]


async def test_after_deactivation_and_reactivation_a_replay_runs_afresh_and_is_audited(client, db):
    team, patient, admin_headers = await _goal_setup(client, db)
    headers = {**team.nurse_headers, "Idempotency-Key": "goal-3"}
    first = await client.post(_goals(patient), json=GOAL, headers=headers)
    assert first.status_code == 201
    url = f"/api/v1/users/{team.nurse.id}"
    assert (await client.patch(url, json={"active": False}, headers=admin_headers)).is_success
    assert (await client.patch(url, json={"active": True}, headers=admin_headers)).is_success
    await db.refresh(team.nurse)
    assert team.nurse.token_version == 1  # worked out by hand: one deactivation
    signed_in_again = {**builders.bearer(client.app, team.nurse), "Idempotency-Key": "goal-3"}
    before = await _rows(db, team.nurse.id, patient.id)

    again = await client.post(_goals(patient), json=GOAL, headers=signed_in_again)

    # The key ended with the old access: a new request, authorized and audited as one.
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    new = (await _rows(db, team.nurse.id, patient.id))[len(before) :]
    assert ("goal.create", "allowed") in [(r.action, r.outcome) for r in new]
    assert "request.replay" not in [r.action for r in new]


async def test_a_replay_about_a_patient_now_out_of_reach_runs_afresh(client, db):
    team, patient, _ = await _goal_setup(client, db)
    headers = {**team.nurse_headers, "Idempotency-Key": "goal-4"}
    first = await client.post(_goals(patient), json=GOAL, headers=headers)
    assert first.status_code == 201
    # The patient's record now belongs to another ward; the nurse's own access is unchanged.
    other_ward = await builders.ward(db)
    await db.execute(update(Patient).where(Patient.id == patient.id).values(ward_id=other_ward.id))
    await db.commit()

    again = await client.post(_goals(patient), json=GOAL, headers=headers)

    assert again.status_code == 404
    assert "idempotent-replayed" not in again.headers
    assert first.json()["id"] not in again.text
    rows = await _rows(db, team.nurse.id, patient.id)
    assert (rows[-1].action, rows[-1].outcome) == ("goal.create", "denied")
