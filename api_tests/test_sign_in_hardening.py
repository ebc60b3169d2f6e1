"""Sign-in that a stranger cannot turn against the real user (issue 23) and sign-out that ends
the session (issue 16): the limit holds under concurrency, a known device is not locked out,
the sign-in form's CSRF token is bound to the server, a set password must be changed, and a
signed-out token is refused."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from api_tests import builders
from api_tests.live_server import LiveServer
from db.models import AuditEvent, IdempotencyKey, LoginAttempt, RevokedToken, User
from service.auth.service import _key

LIMIT = 5  # Settings.login_max_failures, as the test settings leave it
LOGIN = "/api/v1/auth/login"
WRONG = "wrong-wrong-wrong"
SESSION_COOKIE = "homeward_session"
DEVICE_COOKIE = "homeward_device"


async def _nurse(db: Any) -> User:
    ward = await builders.ward(db)
    return await builders.user(db, "ward_staff", ward_id=ward.id)


async def _login(
    client: AsyncTestClient[Any] | httpx.AsyncClient, email: str, password: str, **extra: Any
) -> Any:
    return await client.post(LOGIN, json={"email": email, "password": password, **extra})


# ---- the limit is counted before the check
# Over a real server: the in-process test client answers one request at a time.


@pytest.fixture
async def live(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    server = LiveServer(app).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            yield http
    finally:
        server.stop()


async def test_forty_wrong_guesses_at_once_have_at_most_the_limit_checked(live, db):
    nurse = await _nurse(db)

    answers = await asyncio.gather(*(_login(live, nurse.email, WRONG) for _ in range(40)))

    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(401) == LIMIT
    assert statuses.count(429) == 40 - LIMIT


async def test_wrong_guesses_and_the_right_one_together_do_not_sign_in_past_the_limit(live, db):
    nurse = await _nurse(db)

    answers = await asyncio.gather(
        *(_login(live, nurse.email, WRONG) for _ in range(24)),
        _login(live, nurse.email, builders.PASSWORD),
    )

    right = answers[-1].status_code
    wrong = [a.status_code for a in answers[:-1]]
    assert right in (200, 429)
    if right == 429:
        assert wrong.count(401) == LIMIT
        return
    # Signed in: its claim was within the limit (fewer than LIMIT attempts claimed before it);
    # the success forgave those, so at most LIMIT more could be checked after it.
    rows = (
        await db.execute(
            select(LoginAttempt.id, LoginAttempt.succeeded)
            .where(LoginAttempt.key == _key("email", nurse.email))
            .order_by(LoginAttempt.id)
        )
    ).all()
    success_at = [i for i, row in enumerate(rows) if row.succeeded]
    assert len(success_at) == 1 and success_at[0] < LIMIT
    assert wrong.count(401) <= (LIMIT - 1) + LIMIT


# ---- a stranger cannot lock the real user out of their known device


async def test_a_strangers_failures_do_not_stop_the_user_on_their_known_device(client, db):
    nurse = await _nurse(db)
    first = await _login(client, nurse.email, builders.PASSWORD)
    device = first.json()["device_token"]
    assert first.json()["failed_attempts_since_last_sign_in"] == 0
    # A stranger (same address, as behind a hospital's NAT) spends the account's budget and
    # the address's: 25 guesses, of which only LIMIT are checked.
    for _ in range(25):
        await _login(client, nurse.email, WRONG)
    assert (await _login(client, nurse.email, builders.PASSWORD)).status_code == 429

    known = await _login(client, nurse.email, builders.PASSWORD, device_token=device)

    assert known.status_code == 200
    assert known.json()["failed_attempts_since_last_sign_in"] == LIMIT
    # The verified login released the account's lock for the user's other devices too.
    assert (await _login(client, nurse.email, builders.PASSWORD)).status_code == 200


async def test_an_address_spraying_guesses_does_not_stop_known_devices_behind_it(client, db):
    # A ward's PCs share one address; someone there sprays guesses across four accounts.
    nurse = await _nurse(db)
    device = (await _login(client, nurse.email, builders.PASSWORD)).json()["device_token"]
    targets = [await _nurse(db) for _ in range(4)]
    for target in targets:
        for _ in range(LIMIT):
            assert (await _login(client, target.email, WRONG)).status_code == 401
    assert (await _login(client, nurse.email, builders.PASSWORD)).status_code == 429

    known = await _login(client, nurse.email, builders.PASSWORD, device_token=device)

    assert known.status_code == 200
    assert known.json()["failed_attempts_since_last_sign_in"] == 0


async def test_a_device_token_gives_its_own_few_guesses_not_unlimited_ones(client, db):
    nurse = await _nurse(db)
    device = (await _login(client, nurse.email, builders.PASSWORD)).json()["device_token"]
    for _ in range(LIMIT):  # the account is locked for unknown devices
        await _login(client, nurse.email, WRONG)
    for _ in range(LIMIT):  # a stolen device token: its own budget
        assert (await _login(client, nurse.email, WRONG, device_token=device)).status_code == 401

    spent = await _login(client, nurse.email, builders.PASSWORD, device_token=device)

    assert spent.status_code == 429  # spent, it counts as unknown, and the account is locked


async def test_a_device_token_of_another_user_or_forged_counts_as_unknown(client, db):
    nurse, other = await _nurse(db), await _nurse(db)
    theirs = (await _login(client, other.email, builders.PASSWORD)).json()["device_token"]
    forged = theirs.replace(other.id.hex, nurse.id.hex)
    for _ in range(LIMIT):
        await _login(client, nurse.email, WRONG)

    for token in (theirs, forged):
        answer = await _login(client, nurse.email, builders.PASSWORD, device_token=token)
        assert answer.status_code == 429


async def test_a_spent_account_budget_is_audited_once(client, db):
    nurse = await _nurse(db)
    for _ in range(LIMIT + 3):
        await _login(client, nurse.email, WRONG)

    events = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in_locked"))
    ).all()

    assert [(e.object_type, e.object_id, e.actor_id) for e in events] == [
        ("user", str(nurse.id), None)
    ]


async def _login_csrf(client: AsyncTestClient[Any]) -> str:
    form = await client.get("/board/login")
    match = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
    assert match
    return match.group(1)


async def _board_sign_in(client: AsyncTestClient[Any], email: str, password: str) -> Any:
    return await client.post(
        "/board/login",
        data={"email": email, "password": password, "login_csrf": await _login_csrf(client)},
        follow_redirects=False,
    )


async def test_the_boards_device_cookie_survives_a_strangers_guesses_and_tells_the_user(client, db):
    nurse = await _nurse(db)
    signed_in = await _board_sign_in(client, nurse.email, builders.PASSWORD)
    assert signed_in.status_code == 303
    device = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith(DEVICE_COOKIE)
    )
    assert "HttpOnly" in device and "Path=/board/login" in device
    known_device = client.cookies.get(DEVICE_COOKIE)
    assert known_device
    client.cookies.clear()  # a stranger's browser: no device cookie
    for _ in range(LIMIT + 2):
        await _board_sign_in(client, nurse.email, WRONG)
    refused = await _board_sign_in(client, nurse.email, builders.PASSWORD)
    assert refused.status_code == 429
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, known_device, path="/board/login")

    again = await _board_sign_in(client, nurse.email, builders.PASSWORD)

    assert again.status_code == 200  # the notice page, signed in
    assert f"{LIMIT} failed sign-in" in again.text
    assert (await client.get("/board", follow_redirects=False)).status_code == 200


# ---- the sign-in form's CSRF token is bound to the server


async def test_a_planted_login_csrf_cookie_and_matching_field_are_refused(client, db):
    nurse = await _nurse(db)
    planted = "attacker-chosen-nonce"
    client.cookies.set("homeward_login_csrf", planted, path="/board/login")

    answer = await client.post(
        "/board/login",
        data={"email": nurse.email, "password": builders.PASSWORD, "login_csrf": planted},
        follow_redirects=False,
    )

    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    # A nonce with a made-up MAC is no better; the form's own token (with our MAC) works.
    client.cookies.set("homeward_login_csrf", planted + ".00", path="/board/login")
    forged = await client.post(
        "/board/login",
        data={"email": nurse.email, "password": builders.PASSWORD, "login_csrf": planted + ".00"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    client.cookies.clear()
    assert (await _board_sign_in(client, nurse.email, builders.PASSWORD)).status_code == 303


# ---- a password nobody chose must be changed first


async def _forced_admin(db: Any) -> User:
    admin = await builders.user(db, "admin")
    admin.must_change_password = True
    await db.commit()
    return admin


async def test_a_forced_password_change_blocks_the_api_until_done(client, db):
    admin = await _forced_admin(db)
    signed_in = await _login(client, admin.email, builders.PASSWORD)
    assert signed_in.status_code == 200
    assert signed_in.json()["must_change_password"] is True
    old = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

    refused = await client.get("/api/v1/wards", headers=old)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/password-change-required")
    assert (await client.get("/api/v1/me", headers=old)).status_code == 200
    wrong = await client.post(
        "/api/v1/me/password",
        headers=old,
        json={"current_password": WRONG, "new_password": "a brand new passphrase"},
    )
    assert wrong.status_code == 422
    short = await client.post(
        "/api/v1/me/password",
        headers=old,
        json={"current_password": builders.PASSWORD, "new_password": "short"},
    )
    assert short.status_code == 422

    changed = await client.post(
        "/api/v1/me/password",
        headers=old,
        json={"current_password": builders.PASSWORD, "new_password": "a brand new passphrase"},
    )

    assert changed.status_code == 200
    assert changed.json()["must_change_password"] is False
    new = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert (await client.get("/api/v1/wards", headers=new)).status_code == 200
    assert (await client.get("/api/v1/me", headers=old)).status_code == 401  # ended
    assert (await _login(client, admin.email, builders.PASSWORD)).status_code == 401
    again = await _login(client, admin.email, "a brand new passphrase")
    assert again.json()["must_change_password"] is False


async def test_guessing_the_current_password_through_a_token_is_limited(client, db, app):
    nurse = await _nurse(db)
    headers = builders.bearer(app, nurse)
    body = {"current_password": WRONG, "new_password": "a brand new passphrase"}
    for _ in range(LIMIT):
        assert (
            await client.post("/api/v1/me/password", headers=headers, json=body)
        ).status_code == 422

    body["current_password"] = builders.PASSWORD
    limited = await client.post("/api/v1/me/password", headers=headers, json=body)

    assert limited.status_code == 429


async def test_the_board_sends_a_forced_user_to_the_change_password_form(client, db):
    admin = await _forced_admin(db)
    signed_in = await _board_sign_in(client, admin.email, builders.PASSWORD)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/board/password")
    elsewhere = await client.get("/board/outcomes", follow_redirects=False)
    assert (elsewhere.status_code, elsewhere.headers["location"]) == (303, "/board/password")
    form = await client.get("/board/password")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert form.status_code == 200 and csrf
    new = "a brand new passphrase"

    changed = await client.post(
        "/board/password",
        data={
            "csrf_token": csrf.group(1),
            "current_password": builders.PASSWORD,
            "new_password": new,
            "confirm_password": new,
        },
        follow_redirects=False,
    )

    assert (changed.status_code, changed.headers["location"]) == (303, "/board/outcomes")
    assert (await client.get("/board/outcomes", follow_redirects=False)).status_code == 200
    await db.refresh(admin)
    assert admin.must_change_password is False


# ---- sign-out ends the session


async def test_api_logout_revokes_that_token_and_only_that_one(client, db):
    nurse = await _nurse(db)
    first = (await _login(client, nurse.email, builders.PASSWORD)).json()["access_token"]
    second = (await _login(client, nurse.email, builders.PASSWORD)).json()["access_token"]
    headers = {"Authorization": f"Bearer {first}"}

    out = await client.post("/api/v1/auth/logout", headers=headers)

    assert out.status_code == 204
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 401
    other = {"Authorization": f"Bearer {second}"}
    assert (await client.get("/api/v1/me", headers=other)).status_code == 200


async def test_board_sign_out_revokes_the_cookies_token(client, db):
    nurse = await _nurse(db)
    await _board_sign_in(client, nurse.email, builders.PASSWORD)
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    board = await client.get("/board")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', board.text)
    assert csrf

    out = await client.post(
        "/board/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )

    assert out.status_code == 303
    client.cookies.clear()
    replayed = await client.get(
        "/board", headers={"Cookie": f"{SESSION_COOKIE}={token}"}, follow_redirects=False
    )
    assert (replayed.status_code, replayed.headers["location"]) == (303, "/board/login")
    api = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    assert await db.scalar(select(func.count()).select_from(RevokedToken)) == 1


async def test_a_password_change_answer_is_never_stored_for_replay(client, db, app):
    nurse = await _nurse(db)
    headers = {**builders.bearer(app, nurse), "Idempotency-Key": "change-1"}
    body = {"current_password": builders.PASSWORD, "new_password": "a brand new passphrase"}

    changed = await client.post("/api/v1/me/password", headers=headers, json=body)

    assert changed.status_code == 200
    assert await db.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
