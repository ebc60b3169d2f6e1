from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from api_tests import builders
from db.models import User
from service.clock import ManualClock


async def _login_headers(client: AsyncTestClient[Any], who: User) -> dict[str, str]:
    """A token from the login itself (8 hours), for the tests of what login hands out."""
    response = await client.post(
        "/api/v1/auth/login", json={"email": who.email, "password": builders.PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_login_returns_short_lived_bearer_token(client, db, clock: ManualClock):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)

    response = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email.upper(), "password": builders.PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["id"] == str(nurse.id)
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    expires = body["expires_at"]
    assert expires.startswith("2026-12-01T17:00:00")  # 8 hours after the clock's 09:00


async def test_wrong_password_and_unknown_email_get_the_same_answer(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)

    wrong = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email, "password": "nope-nope-nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.org", "password": "nope-nope-nope"}
    )

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    strip = lambda b: {k: v for k, v in b.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())


async def test_token_is_refused_once_the_user_is_deactivated(client, db):
    admin = await builders.user(db, "admin")
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    nurse_headers = await _login_headers(client, nurse)
    admin_headers = await _login_headers(client, admin)
    assert (await client.get("/api/v1/me", headers=nurse_headers)).status_code == 200

    patched = await client.patch(
        f"/api/v1/users/{nurse.id}", json={"active": False}, headers=admin_headers
    )
    assert patched.status_code == 200 and patched.json()["active"] is False

    refused = await client.get("/api/v1/me", headers=nurse_headers)
    assert refused.status_code == 401
    relogin = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email, "password": builders.PASSWORD}
    )
    assert relogin.status_code == 401


async def test_reactivation_does_not_revive_old_tokens(client, db):
    admin = await builders.user(db, "admin")
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    old = await _login_headers(client, nurse)
    admin_headers = await _login_headers(client, admin)
    await client.patch(f"/api/v1/users/{nurse.id}", json={"active": False}, headers=admin_headers)
    await client.patch(f"/api/v1/users/{nurse.id}", json={"active": True}, headers=admin_headers)

    assert (await client.get("/api/v1/me", headers=old)).status_code == 401
    assert (
        await client.get("/api/v1/me", headers=await _login_headers(client, nurse))
    ).status_code == 200


async def test_ward_staff_token_on_admin_route_is_forbidden(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(client.app, nurse)

    response = await client.get("/api/v1/users", headers=headers)

    assert response.status_code == 403
    assert response.json()["status"] == 403


async def test_missing_malformed_and_expired_tokens_are_401(client, db, clock: ManualClock):
    admin = await builders.user(db, "admin")
    headers = await _login_headers(client, admin)

    assert (await client.get("/api/v1/me")).status_code == 401
    assert (
        await client.get("/api/v1/me", headers={"Authorization": "Bearer junk"})
    ).status_code == 401
    assert (
        await client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    ).status_code == 401
    # Used once first, so the expiry is judged on a token whose signature check is remembered.
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    clock.advance(timedelta(hours=8, seconds=1))
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_remembered_token_checks_do_not_let_altered_tokens_through(client, db, clock):
    admin = await builders.user(db, "admin")
    headers = await _login_headers(client, admin)
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    token = headers["Authorization"].removeprefix("Bearer ")
    head, payload, signature = token.split(".")
    altered = [
        f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        f"{head}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}",
        token + "A",
    ]
    for bad in altered:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad


async def test_token_signed_with_another_secret_is_refused(client, db, clock):
    from service.identity import tokens

    admin = await builders.user(db, "admin")
    forged, _ = tokens.issue(
        "another-secret-" + "y" * 40, admin.id, 0, clock.now(), timedelta(hours=1)
    )

    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


async def test_login_is_rate_limited_per_account(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    for _ in range(5):
        r = await client.post(
            "/api/v1/auth/login", json={"email": nurse.email, "password": "wrong-wrong-wrong"}
        )
        assert r.status_code == 401

    blocked = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email, "password": builders.PASSWORD}
    )

    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_rate_limit_window_passes(client, db, clock: ManualClock):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    for _ in range(5):
        await client.post(
            "/api/v1/auth/login", json={"email": nurse.email, "password": "wrong-wrong-wrong"}
        )
    clock.advance(timedelta(minutes=16))

    ok = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email, "password": builders.PASSWORD}
    )

    assert ok.status_code == 200


async def test_passwords_are_stored_as_argon2id(db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    assert nurse.password_hash.startswith("$argon2id$")
    assert builders.PASSWORD not in nurse.password_hash


async def test_no_other_origin_is_allowed_to_call_the_api(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(client.app, nurse)
    origin = {"Origin": "https://elsewhere.example"}

    preflight = await client.options(
        "/api/v1/wards",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    simple = await client.get(f"/api/v1/wards/{ward.id}", headers={**headers, **origin})
    assert simple.status_code == 200

    # A browser needs Access-Control-Allow-Origin to let a page elsewhere read or send anything.
    assert preflight.status_code >= 400
    assert preflight.headers["content-type"].startswith("application/problem+json")
    for response in (preflight, simple):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
