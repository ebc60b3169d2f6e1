"""Sessions kept on the server (issue 18): the board's idle timeout (live-refresh polling is
not use), one's own sessions listed and ended one by one or everywhere else, and a password
change that ends every other session and refuses a common password."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.conftest import settings_for
from api_tests.test_accounts_totp import _page_csrf, board_sign_in
from db.models import AuditEvent, User, UserSession
from service.settings import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The deployment default (the shared test settings leave boards open for hours).
    return replace(settings_for(database_url), board_idle_minutes=30)


FRAGMENT = {"x-homeward-fragment": "1"}
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1"
)


async def _nurse(db: Any) -> User:
    ward = await builders.ward(db)
    return await builders.user(db, "ward_staff", ward_id=ward.id)


async def _signed_in(client: Any, who: User, agent: str = CHROME) -> None:
    client.headers["user-agent"] = agent
    answer = await board_sign_in(client, who.email)
    assert answer.status_code == 303, answer.text


async def _board(client: Any, **headers: str) -> Any:
    return await client.get("/board", headers=headers, follow_redirects=False)


def _lands_on_sign_in(answer: Any, idle: bool = True) -> bool:
    want = "/board/login?idle=1" if idle else "/board/login"
    return answer.status_code == 303 and answer.headers["location"] == want


# ---- the idle timeout


async def test_a_board_unused_for_the_idle_time_lands_on_the_sign_in_page(client, db, clock):
    nurse = await _nurse(db)
    await _signed_in(client, nurse)
    clock.advance(timedelta(minutes=20))
    assert (await _board(client)).status_code == 200  # use: the idle time starts again
    clock.advance(timedelta(minutes=25))
    assert (await _board(client)).status_code == 200
    clock.advance(timedelta(minutes=31))
    idle = await _board(client)
    assert _lands_on_sign_in(idle)
    page = await client.get(idle.headers["location"])
    assert "not used for a while" in page.text


async def test_live_refresh_polling_does_not_keep_a_board_signed_in(client, db, clock):
    nurse = await _nurse(db)
    await _signed_in(client, nurse)
    for _ in range(5):  # a board left open on the ward's wall, polling every few minutes
        clock.advance(timedelta(minutes=5))
        polled = await client.get("/board/live", headers=FRAGMENT)
        assert polled.status_code == 200
    clock.advance(timedelta(minutes=6))
    # The poll is told the session is over (the script then reloads onto the sign-in page).
    assert (await client.get("/board/live", headers=FRAGMENT)).status_code == 401
    client.cookies.clear()


async def test_an_api_token_has_only_its_lifetime_not_the_idle_limit(client, db, clock):
    nurse = await _nurse(db)
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email, "password": builders.PASSWORD}
    )
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    clock.advance(timedelta(hours=2))
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200


# ---- your sessions
# One test client plays several browsers: each sign-in's session cookie is taken out of the
# jar and sent by hand (as the page matrix does).


async def _browser(client: Any, who: User, agent: str = CHROME) -> str:
    await _signed_in(client, who, agent)
    return _take_cookie(client)


def _take_cookie(client: Any) -> str:
    token = str(client.cookies.get("homeward_session"))
    client.cookies.clear()
    return token


def _as(token: str) -> dict[str, str]:
    return {"Cookie": f"homeward_session={token}"}


async def _get(client: Any, url: str, token: str) -> Any:
    return await client.get(url, headers=_as(token), follow_redirects=False)


async def _post(client: Any, url: str, token: str, **form: str) -> Any:
    page = await _get(client, "/board/account", token)
    data = {"csrf_token": _page_csrf(page.text), **form}
    return await client.post(url, data=data, headers=_as(token), follow_redirects=False)


async def test_the_account_page_lists_sessions_and_signs_one_out(client, db, clock):
    nurse = await _nurse(db)
    mine = await _browser(client, nurse, CHROME)
    clock.advance(timedelta(minutes=2))
    other = await _browser(client, nurse, SAFARI)
    page = await _get(client, "/board/account", mine)
    assert page.status_code == 200
    assert "Chrome on Windows" in page.text and "Safari on iPad" in page.text
    assert page.text.count("(this session)") == 1
    ends = re.findall(r'action="(/board/account/sessions/[0-9a-f]+/end)"', page.text)
    assert len(ends) == 1  # not this session's own
    ended = await _post(client, ends[0], mine)
    assert (ended.status_code, ended.headers["location"]) == (303, "/board/account?done=ended")
    assert _lands_on_sign_in(await _get(client, "/board", other), idle=False)
    assert (await _get(client, "/board", mine)).status_code == 200


async def test_another_users_session_is_not_found_and_the_attempt_audited(client, db):
    nurse, someone = await _nurse(db), await _nurse(db)
    mine = await _browser(client, nurse)
    theirs_cookie = await _browser(client, someone)
    theirs = await db.scalar(select(UserSession.jti).where(UserSession.user_id == someone.id))
    refused = await _post(client, f"/board/account/sessions/{theirs}/end", mine)
    assert refused.status_code == 404
    assert (await _get(client, "/board", theirs_cookie)).status_code == 200
    denied = await db.scalar(
        select(AuditEvent.outcome).where(AuditEvent.action == "auth.session_end_denied")
    )
    assert denied == "denied"


async def test_sign_out_everywhere_ends_the_other_sessions_and_keeps_this_one(app, client, db):
    nurse = await _nurse(db)
    mine = await _browser(client, nurse)
    other = await _browser(client, nurse)
    api_headers = builders.bearer(app, nurse)  # a token no sign-in recorded ends as well
    done = await _post(client, "/board/account/sign-out-everywhere", mine)
    assert done.status_code == 303
    mine = _take_cookie(client)  # this session goes on under a fresh token
    page = await _get(client, "/board/account?done=everywhere", mine)
    assert page.status_code == 200 and "Every other session was signed out" in page.text
    assert page.text.count("(this session)") == 1 and "/end" not in page.text
    assert _lands_on_sign_in(await _get(client, "/board", other), idle=False)
    assert (await client.get("/api/v1/me", headers=api_headers)).status_code == 401
    assert await db.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "auth.signed_out_everywhere")
    )


# ---- changing one's own password


async def test_a_password_change_refuses_a_common_password_and_ends_other_sessions(client, db):
    nurse = await _nurse(db)
    mine = await _browser(client, nurse)
    other = await _browser(client, nurse)
    assert (await _get(client, "/board/account/password", mine)).status_code == 200
    url = "/board/account/password"
    common = await _post(
        client,
        url,
        mine,
        current_password=builders.PASSWORD,
        new_password="Password2026!",
        confirm_password="Password2026!",
    )
    assert common.status_code == 422 and "too common" in common.text
    assert "Password2026!" not in common.text  # passwords are never typed back
    new = "violet kettle under moonlight"
    wrong = await _post(
        client,
        url,
        mine,
        current_password="not my password",
        new_password=new,
        confirm_password=new,
    )
    assert wrong.status_code == 422 and "is not correct" in wrong.text
    changed = await _post(
        client,
        url,
        mine,
        current_password=builders.PASSWORD,
        new_password=new,
        confirm_password=new,
    )
    assert (changed.status_code, changed.headers["location"]) == (
        303,
        "/board/account?done=password",
    )
    mine = _take_cookie(client)
    assert (await _get(client, "/board", mine)).status_code == 200
    assert _lands_on_sign_in(await _get(client, "/board", other), idle=False)


async def test_the_api_password_change_refuses_a_common_password(app, client, db):
    nurse = await _nurse(db)
    refused = await client.post(
        "/api/v1/me/password",
        json={"current_password": builders.PASSWORD, "new_password": "qwertyuiop123"},
        headers=builders.bearer(app, nurse),
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "new_password"
