"""Two-step sign-in (issue 18): TOTP codes taken once, recovery codes used once, refusals
audited and counted by the sign-in throttle, admins and managers made to enrol first."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.conftest import settings_for
from db.models import AuditEvent, RecoveryCode, User
from service.identity import totp
from service.settings import Settings, SettingsError, load_settings

LOGIN = "/api/v1/auth/login"
LIMIT = 5
PROBLEMS = "https://homeward.example/problems/"
SECRET = pyotp.random_base32()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The deployment default: admins and ward managers must use a second factor.
    return replace(settings_for(database_url), require_totp="privileged")


def code_at(clock: Any, secret: str = SECRET, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() + timedelta(seconds=30 * offset))


async def enrolled_nurse(db: Any, clock: Any) -> User:
    ward = await builders.ward(db)
    return await builders.user(
        db,
        "ward_staff",
        ward_id=ward.id,
        totp_secret=SECRET,
        totp_confirmed_at=clock.now() - timedelta(days=1),
    )


async def _login(client: Any, email: str, password: str = builders.PASSWORD, **extra: Any) -> Any:
    return await client.post(LOGIN, json={"email": email, "password": password, **extra})


async def _refusals(db: Any, user: User) -> list[str]:
    rows = await db.scalars(
        select(AuditEvent.detail).where(
            AuditEvent.action == "auth.second_factor_refused",
            AuditEvent.object_id == str(user.id),
        )
    )
    return [d["kind"] for d in rows.all()]


# ---- the API's login


async def test_a_right_password_without_a_code_asks_for_one_and_costs_nothing(client, db, clock):
    nurse = await enrolled_nurse(db, clock)
    for _ in range(LIMIT + 2):  # more than the throttle's limit: these are not failures
        asked = await _login(client, nurse.email)
        assert asked.status_code == 401
        assert asked.json()["type"] == PROBLEMS + "totp-required"
    assert "access_token" not in asked.text
    signed_in = await _login(client, nurse.email, totp_code=code_at(clock))
    assert signed_in.status_code == 200


async def test_wrong_credentials_answer_the_same_for_an_unknown_email_and_a_totp_account(
    client, db, clock
):
    nurse = await enrolled_nurse(db, clock)
    unknown = await _login(client, "nobody@example.org", "wrong-wrong-wrong")
    wrong = await _login(client, nurse.email, "wrong-wrong-wrong", totp_code=code_at(clock))
    keys = ("type", "title", "status", "detail")
    assert unknown.status_code == wrong.status_code == 401
    assert [unknown.json()[k] for k in keys] == [wrong.json()[k] for k in keys]


async def test_a_code_is_taken_once_and_wrong_or_replayed_codes_are_audited(client, db, clock):
    nurse = await enrolled_nurse(db, clock)
    code = code_at(clock)
    assert (await _login(client, nurse.email, totp_code=code)).status_code == 200
    replayed = await _login(client, nurse.email, totp_code=code)
    assert replayed.status_code == 401
    assert replayed.json()["type"] == PROBLEMS + "not-authenticated"
    # An older step than the one used is refused too; the next step is fine.
    assert (
        await _login(client, nurse.email, totp_code=code_at(clock, offset=-1))
    ).status_code == 401
    wrong = "000000" if code != "000000" else "111111"
    assert (await _login(client, nurse.email, totp_code=wrong)).status_code == 401
    assert (
        await _login(client, nurse.email, totp_code=code_at(clock, offset=1))
    ).status_code == 200
    assert await _refusals(db, nurse) == ["totp", "totp", "totp"]


async def test_wrong_codes_count_towards_the_sign_in_throttle(client, db, clock):
    nurse = await enrolled_nurse(db, clock)
    code = code_at(clock)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(LIMIT):
        assert (await _login(client, nurse.email, totp_code=wrong)).status_code == 401
    # The account's budget is spent: even the right password and code wait.
    assert (await _login(client, nurse.email, totp_code=code)).status_code == 429
    locked = await db.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "auth.sign_in_locked", AuditEvent.object_id == str(nurse.id)
        )
    )
    assert locked is not None


async def test_a_recovery_code_signs_in_once(client, db, clock):
    nurse = await enrolled_nurse(db, clock)
    codes = totp.new_recovery_codes()
    for code in codes:
        salt, digest = totp.hash_recovery_code(code)
        db.add(RecoveryCode(user_id=nurse.id, salt=salt, code_hash=digest))
    await db.commit()
    typed = totp.format_recovery_code(codes[3]).lower()  # as a person might type it
    assert (await _login(client, nurse.email, recovery_code=typed)).status_code == 200
    again = await _login(client, nurse.email, recovery_code=typed)
    assert again.status_code == 401
    assert await _refusals(db, nurse) == ["recovery_code"]
    used = await db.scalar(
        select(AuditEvent.detail).where(AuditEvent.action == "auth.recovery_code_used")
    )
    assert used == {"remaining": 9}


async def test_a_manager_signed_in_by_the_api_must_enrol_before_anything_else(client, db):
    ward = await builders.ward(db)
    manager = await builders.user(db, "ward_manager", ward_id=ward.id)
    signed_in = await _login(client, manager.email)
    assert signed_in.status_code == 200
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    refused = await client.get(f"/api/v1/wards/{ward.id}", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEMS + "totp-enrolment-required"
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200


# ---- the board: enrolment and the second step


async def _csrf_login(client: Any, path: str = "/board/login") -> str:
    form = await client.get(path)
    match = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
    assert match, form.text
    return match.group(1)


async def board_sign_in(client: Any, email: str) -> Any:
    return await client.post(
        "/board/login",
        data={
            "email": email,
            "password": builders.PASSWORD,
            "login_csrf": await _csrf_login(client),
        },
        follow_redirects=False,
    )


def _page_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_a_manager_must_enrol_at_first_sign_in_then_signs_in_with_a_code(client, db, clock):
    ward = await builders.ward(db)
    manager = await builders.user(db, "ward_manager", ward_id=ward.id)
    first = await board_sign_in(client, manager.email)
    assert (first.status_code, first.headers["location"]) == (303, "/board/account/totp")
    # Nothing else opens until it is done.
    board = await client.get("/board", follow_redirects=False)
    assert (board.status_code, board.headers["location"]) == (303, "/board/account/totp")
    page = await client.get("/board/account/totp")
    assert page.status_code == 200 and "data:image/svg+xml" in page.text
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", page.text).group(1)  # type: ignore[union-attr]
    wrong = await client.post(
        "/board/account/totp", data={"csrf_token": _page_csrf(page.text), "totp_code": "12"}
    )
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    done = await client.post(
        "/board/account/totp",
        data={"csrf_token": _page_csrf(page.text), "totp_code": code_at(clock, secret)},
    )
    assert done.status_code == 200
    shown = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", done.text)
    assert len(shown) == 10 and len(set(shown)) == 10
    stored = (
        await db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == manager.id))
    ).all()
    assert len(stored) == 10 and not {r.code_hash for r in stored} & set(shown)
    assert (await client.get("/board", follow_redirects=False)).status_code == 200
    # The key is never shown again.
    again = await client.get("/board/account/totp")
    assert secret not in again.text and "already on" in again.text

    clock.advance(timedelta(seconds=60))
    client.cookies.clear()
    step_one = await board_sign_in(client, manager.email)
    assert (step_one.status_code, step_one.headers["location"]) == (303, "/board/login/code")
    csrf = await _csrf_login(client, "/board/login/code")
    refused = await client.post(
        "/board/login/code", data={"login_csrf": csrf, "totp_code": "99999x"}
    )
    assert refused.status_code == 401 and "not correct" in refused.text
    signed_in = await client.post(
        "/board/login/code",
        data={"login_csrf": csrf, "totp_code": code_at(clock, secret)},
        follow_redirects=False,
    )
    # The wrong code was a failed attempt, and the manager hears of it.
    assert signed_in.status_code == 200 and "1 failed sign-in" in " ".join(signed_in.text.split())
    assert (await client.get("/board", follow_redirects=False)).status_code == 200
    refusals = await _refusals(db, manager)
    assert refusals == ["totp"]


async def test_the_second_step_without_a_ticket_goes_back_to_the_start(client):
    page = await client.get("/board/login/code", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/board/login")
    csrf = await _csrf_login(client)
    posted = await client.post("/board/login/code", data={"login_csrf": csrf, "totp_code": "1"})
    assert posted.status_code == 401 and "expired" in posted.text


# ---- the setting


def test_the_requirement_is_a_deployment_setting():
    assert load_settings({}).require_totp == "privileged"
    assert load_settings({"HOMEWARD_REQUIRE_TOTP": "all"}).require_totp == "all"
    assert load_settings({"HOMEWARD_REQUIRE_TOTP": "off"}).require_totp == "off"
    with pytest.raises(SettingsError):
        load_settings({"HOMEWARD_REQUIRE_TOTP": "sometimes"})
    assert load_settings({"BOARD_IDLE_MINUTES": "10"}).board_idle_minutes == 10


async def test_everyone_must_enrol_when_the_setting_says_all(app, client, db):
    app.state.resources.settings = replace(app.state.resources.settings, require_totp="all")
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    first = await board_sign_in(client, nurse.email)
    assert (first.status_code, first.headers["location"]) == (303, "/board/account/totp")


async def test_a_strangers_guesses_do_not_keep_a_totp_user_off_their_known_device(
    client, db, clock
):
    nurse = await enrolled_nurse(db, clock)
    first = await board_sign_in(client, nurse.email)
    csrf = await _csrf_login(client, "/board/login/code")
    done = await client.post(
        "/board/login/code",
        data={"login_csrf": csrf, "totp_code": code_at(clock)},
        follow_redirects=False,
    )
    assert first.status_code == 303 and done.status_code == 303
    device = client.cookies.get("homeward_device", path="/board/login")
    client.cookies.clear()
    for _ in range(LIMIT + 1):  # a stranger, from no known device, spends the account's budget
        await _login(client, nurse.email, "wrong-wrong-wrong")
    assert (
        await _login(client, nurse.email, totp_code=code_at(clock, offset=1))
    ).status_code == 429
    # The nurse's own device still signs in, both steps (the device's own budget).
    client.cookies.set("homeward_device", device, path="/board/login")
    clock.advance(timedelta(seconds=30))
    step_one = await board_sign_in(client, nurse.email)
    assert step_one.headers["location"] == "/board/login/code"
    csrf = await _csrf_login(client, "/board/login/code")
    signed_in = await client.post(
        "/board/login/code", data={"login_csrf": csrf, "totp_code": code_at(clock)}
    )
    assert signed_in.status_code == 200 and "failed sign-in" in signed_in.text


async def test_an_admin_resets_a_lost_second_factor_and_the_user_enrols_again(
    app, client, db, clock
):
    ward = await builders.ward(db)
    manager = await builders.user(
        db,
        "ward_manager",
        ward_id=ward.id,
        totp_secret=SECRET,
        totp_confirmed_at=clock.now() - timedelta(days=1),
    )
    admin = await builders.user(db, "admin")
    reset = await client.delete(
        f"/api/v1/users/{manager.id}/totp", headers=builders.bearer(app, admin)
    )
    assert reset.status_code == 204
    # No code asked for now; a manager must set it up again before anything else.
    first = await board_sign_in(client, manager.email)
    assert (first.status_code, first.headers["location"]) == (303, "/board/account/totp")
    page = await client.get("/board/account/totp")
    assert SECRET not in page.text  # a new key, not the lost one
    assert (
        await db.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "user.totp_reset"))
        == admin.id
    )


async def test_a_first_admin_changes_the_set_password_first_then_sets_up_totp(client, db):
    admin = await builders.user(db, "admin", must_change_password=True)
    first = await board_sign_in(client, admin.email)
    assert first.headers["location"] == "/board/password"
    form = await client.get("/board/password")
    new = "a passphrase of my own choosing"
    changed = await client.post(
        "/board/password",
        data={
            "csrf_token": _page_csrf(form.text),
            "current_password": builders.PASSWORD,
            "new_password": new,
            "confirm_password": new,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    home = await client.get(changed.headers["location"], follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/board/account/totp")
    assert (await client.get("/board/account/totp")).status_code == 200


async def test_an_api_client_enrols_with_the_api_and_then_signs_in_with_a_code(client, db, clock):
    ward = await builders.ward(db)
    manager = await builders.user(db, "ward_manager", ward_id=ward.id)
    signed_in = await _login(client, manager.email)
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    started = await client.post("/api/v1/me/totp", headers=headers)
    assert started.status_code == 200
    secret = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    again = await client.post("/api/v1/me/totp", headers=headers)
    assert again.json()["secret"] == secret  # the same key until it is confirmed
    wrong = await client.post("/api/v1/me/totp/confirm", json={"totp_code": "1"}, headers=headers)
    assert wrong.status_code == 422
    done = await client.post(
        "/api/v1/me/totp/confirm", json={"totp_code": code_at(clock, secret)}, headers=headers
    )
    assert done.status_code == 200 and len(done.json()["recovery_codes"]) == 10
    fresh = {"Authorization": f"Bearer {done.json()['access_token']}"}
    assert (await client.get(f"/api/v1/wards/{ward.id}", headers=fresh)).status_code == 200
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401  # the old ends
    # The key is never answered again.
    assert (await client.post("/api/v1/me/totp", headers=fresh)).status_code == 409
    asked = await _login(client, manager.email)
    assert asked.json()["type"] == PROBLEMS + "totp-required"
    code = code_at(clock, secret, offset=1)
    assert (await _login(client, manager.email, totp_code=code)).status_code == 200
