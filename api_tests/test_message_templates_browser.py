"""The message template pages in a real browser: a manager previews and saves a Polish
prompt, confirms Welsh; the pages pass axe-core (WCAG 2.2 AA) at tablet width."""

from __future__ import annotations

import pytest

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in

pytestmark = pytest.mark.slow


async def test_a_manager_previews_saves_and_confirms_templates(browser, live, db, tmp_path):
    ward = await builders.ward(db, name="Rowan Ward")
    manager = await builders.user(
        db, "ward_manager", ward_id=ward.id, email="kim.manager@example.org", full_name="Kim Lee"
    )
    page = await new_page(browser, width=768, height=1024)
    await sign_in(page, live.url, manager.email)

    await page.goto(f"{live.url}/board/ward/message-templates")
    await assert_accessible(page, "the message templates list")
    await page.goto(f"{live.url}/board/ward/message-templates/checkin.prompt/pl")
    await page.get_by_role("textbox", name="Wording").fill("Cześć $imie! $question")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state()
    assert "unknown placeholder $imie" in await page.content()
    await assert_accessible(page, "the edit page with its errors")

    await page.get_by_role("textbox", name="Wording").fill("Cześć! $question Odpowiedz 1-5.")
    await page.get_by_role("button", name="Preview").click()
    await page.wait_for_load_state()
    assert "Cześć! How are you feeling today? Odpowiedz 1-5." in await page.content()
    await assert_accessible(page, "the edit page with a preview")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state()
    assert "Saved: checkin.prompt/pl." in await page.content()

    await page.get_by_role("button", name="Confirm “cy”: a fluent speaker has reviewed it").click()
    await page.wait_for_load_state()
    assert "Confirmed for this ward: cy." in await page.content()
    await page.screenshot(path=str(shot_path(tmp_path, "message-templates.png")), full_page=False)
