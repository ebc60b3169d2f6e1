"""A nurse's patient work in a real browser (Chromium, a real uvicorn server, PostgreSQL):
register a patient, discharge them with suicide risk using the keyboard alone, see the 48-hour
follow-up clock, and readmit them; axe-core on every page on the way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from db.models import Episode, FollowUp, Patient

pytestmark = pytest.mark.slow


async def _tab_to(page: Any, element_id: str, most: int = 60) -> None:
    """Press Tab (only Tab) until the element has the focus."""
    for _ in range(most):
        if await page.evaluate(
            f"document.activeElement && document.activeElement.id === '{element_id}'"
        ):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


async def test_nurse_registers_discharges_with_suicide_risk_by_keyboard_and_readmits(
    browser, live, db, clock, tmp_path
):
    ward = await builders.ward(db, name="Cedar Ward")
    nurse = await builders.user(
        db, "ward_staff", ward_id=ward.id, email="kit.nurse@example.org", full_name="Kit Nurse"
    )
    page = await new_page(browser)
    await sign_in(page, live.url, nurse.email)

    # The list, from the main navigation.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    await page.wait_for_load_state()
    await page.get_by_role("heading", name="Patients", exact=True).wait_for()
    await assert_accessible(page, "the patient list")

    # Register (which opens the first stay).
    await page.get_by_role("link", name="Register a patient").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "the registration form")
    await page.get_by_label("NHS number").fill("943 476 5919")
    await page.get_by_label("Given name").fill("Alex")
    await page.get_by_label("Family name").fill("Morgan")
    await page.get_by_label("Date of birth").fill("1985-04-12")
    await page.get_by_label("Mobile").fill("07911 123456")
    await page.get_by_label("The patient consents to check-in texts").check()
    await page.get_by_label("Key worker").select_option(label="Kit Nurse")
    await page.locator("#f-admitted_at").fill("2026-11-28T10:00")
    await page.get_by_role("button", name="Register and admit").click()
    await page.wait_for_load_state()
    await page.get_by_text("Patient registered and admitted.").wait_for()
    await assert_accessible(page, "the details page")
    patient = await db.scalar(select(Patient).where(Patient.nhs_number == "9434765919"))
    assert patient is not None and patient.status == "inpatient"
    assert (patient.mobile, patient.key_worker_id) == ("+447911123456", nurse.id)

    # The stays page: on the ward, the discharge form with its question unanswered.
    await (
        page.get_by_role("navigation", name="This patient")
        .get_by_role("link", name="Stays")
        .click()
    )
    await page.wait_for_load_state()
    assert "on the ward" in await page.locator("#stays").inner_text()
    await assert_accessible(page, "the stays page")

    # Keyboard only: Enter without an answer is refused, beside the question.
    await _tab_to(page, "f-discharged_at")
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    await page.locator("[data-error-summary]").get_by_text("Suicide risk is required").wait_for()
    assert await db.scalar(select(FollowUp.id).where(FollowUp.patient_id == patient.id)) is None
    await page.screenshot(path=str(shot_path(tmp_path, "discharge-refused.png")), full_page=True)
    await assert_accessible(page, "the refused discharge")
    # Then Tab to the question, Space to answer yes, Tab on to the destination, Enter.
    await _tab_to(page, "f-suicide_risk")
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "f-destination"
    await page.keyboard.type("home")
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    await page.get_by_text("Discharge recorded").wait_for()

    clocks = page.locator("#follow-ups")
    assert "48 h: suicide risk" in await clocks.inner_text()
    assert await clocks.locator(".clock").first.inner_text() == "2 d 0 h left"  # 48 h from now
    stay = await db.scalar(select(Episode).where(Episode.patient_id == patient.id))
    assert stay is not None and stay.discharged_at is not None
    assert (stay.suicide_risk, stay.destination) == (True, "home")
    follow_up = await db.scalar(select(FollowUp).where(FollowUp.patient_id == patient.id))
    assert follow_up is not None and follow_up.due_at == stay.discharged_at + timedelta(hours=48)
    await page.screenshot(path=str(shot_path(tmp_path, "stays.png")), full_page=True)
    await assert_accessible(page, "the stays page after discharge")

    # At tablet width nothing is wider than the screen (the stays table scrolls in its box).
    await page.set_viewport_size({"width": 768, "height": 1024})
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # Readmit with the admit form (the ward's wall clock; within 30 days), folded away first.
    assert not await page.get_by_role("button", name="Record the readmission").is_visible()
    await page.get_by_text("Readmit Alex Morgan").click()
    await page.get_by_role("button", name="Record the readmission").click()
    await page.wait_for_load_state()
    await page.get_by_text("Admission recorded.").wait_for()
    await db.refresh(patient)
    assert patient.status == "readmitted"
