"""A nurse's conversation with a patient at home, in a real browser (Chromium, Playwright, a
real uvicorn server, PostgreSQL, the real worker sending through the twilio SDK to fake Twilio):
the patient's free-text reply, read and marked read, answered with a text that reaches Twilio,
then an extra check-in added; axe-core on each page."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from api_tests.test_board_browser import _discharged
from db.models import CheckIn, ReplyToRead
from service.conversation import inbound

pytestmark = pytest.mark.slow


async def test_nurse_reads_a_reply_marks_it_read_answers_it_and_adds_a_check_in(
    browser, live, db, clock, sms_worker, fake_twilio, tmp_path
):
    ward = await builders.ward(db, name="Cedar Ward")
    nurse = await builders.user(
        db, "ward_staff", ward_id=ward.id, email="sam.nurse@example.org", full_name="Sam Nurse"
    )
    patient, _ = await _discharged(db, ward.id, clock, given_name="Alex", family_name="Morgan")
    # The patient texts words that need a person, through the inbound service the webhook uses.
    await inbound.handle_inbound(
        db,
        message_sid="SM" + uuid.uuid4().hex,
        from_number=patient.mobile or "",
        to_number="+447700900001",
        body="not sleeping much, could someone ring me tomorrow",
        now=clock.now(),
    )
    await db.commit()
    reply = await db.scalar(select(ReplyToRead).where(ReplyToRead.patient_id == patient.id))
    assert reply is not None and reply.status == "unread"

    page = await new_page(browser)
    await page.clock.install()  # the page's timers run when the test says so
    await sign_in(page, live.url, nurse.email)
    assert page.url.endswith("/board")
    # The board says a reply waits and links to the conversation.
    await page.get_by_role("link", name="1 reply to read").click()
    await page.wait_for_load_state()
    assert page.url.endswith(f"/board/patients/{patient.id}/conversation")
    waiting = page.locator(f'[data-reply="{reply.id}"]')
    await waiting.get_by_text("not sleeping much, could someone ring me tomorrow").wait_for()
    await assert_accessible(page, "the conversation page")

    await waiting.get_by_role("button", name="Mark read").click()
    await page.wait_for_load_state()
    await page.get_by_text("Reply marked read.").wait_for()
    assert await page.locator("[data-reply]").count() == 0
    await db.refresh(reply)
    assert (reply.status, reply.read_by) == ("read", nurse.id)

    answer = "Hi Alex, Sam from the ward here. I will ring you tomorrow at 10."
    await page.get_by_label("Text", exact=True).fill(answer)
    await page.get_by_role("button", name="Send text").click()
    await page.wait_for_load_state()
    await page.get_by_text("Text queued").wait_for()
    await page.locator("#sms").get_by_text("Sam Nurse (staff)").wait_for()
    await page.evaluate("window.__sameDocument = true")
    await sms_worker.run_once("outbox")
    assert [m.body for m in fake_twilio.sent_to(patient.mobile or "")][-1] == answer
    # ~20 s later the live region fetches its fragment: the text shows as sent, in place.
    await page.clock.fast_forward(21_000)
    await page.locator("#sms li.outbound .status").last.get_by_text("sent").wait_for()
    assert await page.evaluate("window.__sameDocument === true")
    await page.screenshot(path=str(shot_path(tmp_path, "conversation.png")), full_page=True)

    await (
        page.get_by_role("navigation", name="This patient")
        .get_by_role("link", name="Check-ins")
        .click()
    )
    await page.wait_for_load_state()
    await assert_accessible(page, "the check-ins page")
    await page.get_by_label("Due (ward time, Europe/London)").fill("2026-12-02T10:30")
    await page.get_by_label("Reply window (minutes)").fill("120")
    await page.get_by_role("button", name="Add check-in").click()
    await page.wait_for_load_state()
    await page.get_by_text("Extra check-in added.").wait_for()
    extra = await db.scalar(
        select(CheckIn).where(CheckIn.patient_id == patient.id, CheckIn.kind == "extra")
    )
    assert extra is not None and (extra.status, extra.reply_window_minutes) == ("scheduled", 120)
    await page.locator(f'tr[data-check-in="{extra.id}"]').wait_for()

    # On a tablet nothing is wider than the screen: the tables scroll in their own box.
    await page.set_viewport_size({"width": 768, "height": 1024})
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    await page.screenshot(path=str(shot_path(tmp_path, "check-ins.png")), full_page=True)

    await page.get_by_role("link", name="Change the schedule").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "the check-in schedule form")
