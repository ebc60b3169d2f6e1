"""Outcomes over time in a real browser: a manager opens the 72-hour follow-up chart, follows a
point to the records behind it, and adopts the other ward's check-in schedule (preview, then
copy). axe finds no serious or critical violation on any page on the way."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from api_tests.test_reports import discharged
from db.models import Ward
from service.wards.schemas import CheckInDefaults, EscalationPolicy

pytestmark = pytest.mark.slow


async def _follow_ups(db, ward_id: uuid.UUID, now, count: int, met: int) -> None:
    for k in range(count):
        out = now - timedelta(days=8 + k * 3)
        iso = out.isoformat()
        await discharged(
            db,
            ward_id,
            iso,
            due_at=(out + timedelta(hours=72)).isoformat(),
            completed_at=(out + timedelta(hours=20)).isoformat() if k < met else None,
            status=None if k < met else "breached",
        )


async def test_manager_reads_the_chart_follows_a_point_and_adopts_a_schedule(
    browser, live, db, clock, tmp_path
):
    now = clock.now()
    birch = await builders.ward(db, name="Birch Ward")
    oak = await builders.ward(
        db,
        name="Oak Ward",
        escalation_policy=EscalationPolicy(
            check_ins=CheckInDefaults(
                offsets_hours=[24, 48, 72, 96], reply_window_minutes=180, reminder_after_minutes=60
            )
        ),
    )
    birch_id = birch.id
    manager = await builders.user(
        db, "ward_manager", ward_id=birch_id, email="robin.manager@example.org"
    )
    await _follow_ups(db, birch_id, now, 8, 2)
    await _follow_ups(db, oak.id, now, 20, 20)

    page = await new_page(browser)
    await sign_in(page, live.url, manager.email)
    await page.goto(f"{live.url}/board/outcomes")
    await page.get_by_role("link", name="Measures over time").click()
    await page.wait_for_load_state()
    assert "Outcomes over time" in await page.locator("h1").inner_text()
    text = await page.locator("main").inner_text()
    assert "Birch Ward is below" in text and "Oak Ward is above" in text
    await assert_accessible(page, "outcome chart")
    # The viewport only: the whole page is over 400 KB, too big for the README's picture.
    await page.screenshot(path=str(shot_path(tmp_path, "outcomes-chart.png")))

    # A point of the chart opens the records behind it.
    await page.locator("svg.spc a").last.click()
    await page.wait_for_load_state()
    assert "Records behind the figure" in await page.locator("h1").inner_text()
    assert await page.locator("#records tbody tr").count() >= 1
    await assert_accessible(page, "records behind a point")
    await page.go_back()

    # Oak is better than chance: copy its check-in schedule, after the preview.
    await page.get_by_role("button", name="Preview copying check-in schedule").click()
    await page.wait_for_load_state()
    assert "What would change" in await page.locator("main").inner_text()
    await assert_accessible(page, "adopt preview")
    await page.get_by_role("button", name="Copy to my ward").click()
    await page.wait_for_load_state()
    assert "Copied: Check-in schedule" in await page.locator("main").inner_text()

    db.expire_all()
    ward = await db.get(Ward, birch_id)
    assert ward.escalation_policy["check_ins"]["offsets_hours"] == [24, 48, 72, 96]
    assert ward.escalation_policy["ack_minutes"]["urgent"] == [15, 30, 60]

    # The CSV link carries the series the chart shows.
    csv = await page.request.get(f"{live.url}/board/outcomes/series.csv?measure=follow_up")
    assert csv.status == 200
    assert (await csv.text()).startswith("ward,measure,period,numerator,denominator,value")

    await page.goto(f"{live.url}/board/outcomes/listening")
    await assert_accessible(page, "listening")
