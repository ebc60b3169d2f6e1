"""Two-step sign-in in a real browser: a ward manager with no TOTP signs in, must set it up
(the key read from the page, the code computed as an app would), signs out, and signs in
again with a code; each page passes axe-core (WCAG 2.2 AA, nothing serious or critical)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, sign_in
from api_tests.conftest import settings_for
from service.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(database_url: str) -> Settings:
    return replace(settings_for(database_url), require_totp="privileged")


async def test_a_manager_enrols_at_first_sign_in_and_then_signs_in_with_a_code(
    browser, live, db, clock
):
    ward = await builders.ward(db, name="Cedar Ward")
    manager = await builders.user(
        db, "ward_manager", ward_id=ward.id, email="mo.manager@example.org", full_name="Mo Manager"
    )
    page = await new_page(browser, width=768, height=1000)  # a ward tablet
    await sign_in(page, live.url, manager.email)
    assert page.url.endswith("/board/account/totp")
    await assert_accessible(page, "TOTP enrolment")
    secret = (await page.locator("[data-totp-secret]").inner_text()).strip()
    assert await page.locator("img.qr").get_attribute("src") is not None

    await page.get_by_label("Code from the app").fill("123")
    await page.get_by_role("button", name="Turn on two-step sign-in").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "TOTP enrolment refused")
    await page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).at(clock.now()))
    await page.get_by_role("button", name="Turn on two-step sign-in").click()
    await page.wait_for_load_state()
    assert await page.locator("[data-recovery-codes] li").count() == 10
    await assert_accessible(page, "recovery codes")

    await page.goto(f"{live.url}/board/account")
    assert "Two-step sign-in is on" in await page.content()
    await assert_accessible(page, "your account")
    await page.goto(f"{live.url}/board/account/password")
    await assert_accessible(page, "change your password")
    await page.locator("form.signout").get_by_role("button", name="Sign out").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/board/login")

    clock.advance(timedelta(seconds=30))  # the code used to enrol is not taken again
    await sign_in(page, live.url, manager.email)
    assert page.url.endswith("/board/login/code")
    await assert_accessible(page, "second sign-in step")
    await page.get_by_label("6-digit code from your authenticator app").fill(
        pyotp.TOTP(secret).at(clock.now())
    )
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("/board")
    await page.context.close()
