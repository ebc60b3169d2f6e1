"""The board's two banners in a real browser (Debian's Chromium, Playwright, a real server):
"alerts may be delayed" follows the sweeps through the live refresh, and a page whose live
refresh has failed for over a minute says so. The page's timers run on Playwright's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api_tests import builders
from api_tests.browser import new_page, sign_in
from jobs.worker import Worker

pytestmark = pytest.mark.slow


async def test_banners_for_stale_sweeps_and_a_live_refresh_failing_over_a_minute(
    browser,
    live,
    db,
    sessionmaker,
    clock,
):
    from playwright.async_api import expect

    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    await Worker(sessionmaker, clock, 1).run_once()
    page = await new_page(browser)
    await sign_in(page, live.url, nurse.email)
    await page.clock.install()
    await page.goto(f"{live.url}/board")
    jobs = page.locator("[data-jobs-banner]")
    stale_page = page.locator("[data-refresh-banner]")
    await expect(jobs).to_be_hidden()
    await expect(stale_page).to_be_hidden()

    # The network fails: after one failed refresh (20 s) no banner yet, past a minute one.
    await page.route("**/board/live", lambda route: route.abort())
    await page.clock.run_for(30_000)
    await expect(page.locator("[data-live-status]")).to_be_visible()
    await expect(stale_page).to_be_hidden()
    await page.clock.run_for(35_000)
    await expect(stale_page).to_be_visible()
    await expect(stale_page).to_contain_text("not updated for over a minute")

    # It comes back, meanwhile the worker has stopped: the next refresh clears the one banner
    # and raises the other, without a reload.
    await page.unroute("**/board/live")
    clock.advance(timedelta(seconds=10))
    await page.clock.run_for(20_000)
    await expect(stale_page).to_be_hidden()
    await expect(jobs).to_be_visible()
    await expect(jobs).to_contain_text("Alerts may be delayed")
    await page.context.close()
