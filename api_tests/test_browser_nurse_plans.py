"""A nurse's plan work in a real browser (Debian's Chromium, Playwright, a real uvicorn server
and PostgreSQL): write the relapse-prevention plan and two goals, record consent for an
agency, change the plan (version 2) and compare the versions, then open the printable plan
as it prints. axe-core checks each page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from db.models import Consent, Goal, RelapsePreventionPlan

pytestmark = pytest.mark.slow


def _field(name: str) -> str:
    # Contact rows are named as the API's paths ("crisis_contacts[0].phone"): quote the id.
    return f'[id="f-{name}"]'


async def test_a_nurse_writes_the_plan_and_goals_records_consent_and_prints_the_plan(
    browser, live, db, clock, tmp_path
):
    ward = await builders.ward(db, name="Cedar Ward")
    nurse = await builders.user(
        db, "ward_staff", ward_id=ward.id, email="sam.nurse@example.org", full_name="Sam Nurse"
    )
    patient = await builders.home_patient(db, ward.id, given_name="Alex", family_name="Morgan")
    housing = await builders.agency(db, name="Northside Housing Trust")
    base = f"{live.url}/board/patients/{patient.id}"

    page = await new_page(browser, width=768)  # tablet width
    await sign_in(page, live.url, nurse.email)

    # The plan, from the overview's link.
    await page.goto(base)
    await page.get_by_role("link", name="Write the plan").click()
    await page.locator("#plan-edit").wait_for()
    await assert_accessible(page, "the plan editor, empty")
    await page.locator("#f-early_warning_signs").fill("Not sleeping\nSkipping meals")
    await page.locator("#f-triggers").fill("Arguments at home")
    await page.locator("#f-coping_strategies").fill("Walk by the river")
    await page.locator(_field("crisis_contacts[0].name")).fill("Jo Hill")
    await page.locator(_field("crisis_contacts[0].relationship")).fill("sister")
    await page.locator(_field("crisis_contacts[0].phone")).fill("07911 123457")
    await page.get_by_role("button", name="Save as a new version").click()
    await page.get_by_text("Plan saved as version 1").wait_for()

    # Two goals; the second's form is first refused, then corrected.
    await (
        page.get_by_role("navigation", name="This patient")
        .get_by_role("link", name="Goals")
        .click()
    )
    for domain, text in (("housing", "A tenancy of my own"), ("finances", "Sort out my benefits")):
        await page.locator("#f-domain").select_option(domain)
        await page.locator("#f-description").fill(text)
        if domain == "housing":
            await page.locator("#f-owner_agency_id").select_option(str(housing.id))
        await page.get_by_role("button", name="Add goal").click()
        await page.get_by_text("Goal added.").wait_for()
    await page.get_by_role("button", name="Add goal").click()  # nothing chosen or typed
    await page.locator("[data-error-summary]").wait_for()
    await assert_accessible(page, "the goals page with a refused form")
    await page.get_by_role("link", name="A tenancy of my own").click()
    await page.locator("#goal-status").wait_for()
    await page.locator("#f-status").select_option("active")
    await page.get_by_role("button", name="Change status").click()
    await page.get_by_text("Status is now active").wait_for()
    await assert_accessible(page, "a goal's page")

    # Consent for the housing agency.
    await (
        page.get_by_role("navigation", name="This patient")
        .get_by_role("link", name="Consents")
        .click()
    )
    await page.locator("#f-agency_id").select_option(str(housing.id))
    await page.get_by_label("Plan: contact details", exact=False).check()
    await page.get_by_role("button", name="Record consent").click()
    await page.get_by_text("Consent recorded.").wait_for()
    row = page.locator("#consent-list tbody tr").first
    assert "Northside Housing Trust" in await row.inner_text()
    assert "in force" in await row.inner_text()
    await assert_accessible(page, "the consents page")
    await row.get_by_role("link", name="Withdraw").click()
    await page.get_by_role(
        "heading", name="Withdraw consent for Northside Housing Trust?"
    ).wait_for()
    await assert_accessible(page, "the withdraw confirmation")
    await page.get_by_role("link", name="Keep it and go back").click()

    # Version 2 of the plan, and what changed.
    await (
        page.get_by_role("navigation", name="This patient").get_by_role("link", name="Plan").click()
    )
    assert await page.locator("#f-early_warning_signs").input_value() == (
        "Not sleeping\nSkipping meals"
    )
    await page.locator("#f-early_warning_signs").fill("Not sleeping\nNot answering the phone")
    await page.locator(_field("crisis_contacts[1].name")).fill("Crisis team")
    await page.locator(_field("crisis_contacts[1].relationship")).fill("ward")
    await page.locator(_field("crisis_contacts[1].phone")).fill("0116 496 0123")
    await page.locator("#f-check_in_question").fill("How was today, out of 5?")
    await page.get_by_role("button", name="Save as a new version").click()
    await page.get_by_text("Plan saved as version 2").wait_for()
    await page.get_by_role("button", name="Compare").click()
    diff = page.locator("#plan-diff")
    await diff.wait_for()
    text = await diff.inner_text()
    assert "From version 1 to version 2" in text
    assert "Not answering the phone" in text and "Skipping meals" in text
    assert "Crisis team (ward): 0116 496 0123" in text
    assert "How was today, out of 5?" in text
    await page.screenshot(path=str(shot_path(tmp_path, "plan.png")), full_page=True)
    await assert_accessible(page, "the plan page comparing versions")

    # The printable plan, as it prints.
    await page.get_by_role("link", name="Printable plan for the patient").click()
    await page.locator("#take-home").wait_for()
    await assert_accessible(page, "the printable plan")
    await page.emulate_media(media="print")
    take_home = page.locator("#take-home")
    assert await take_home.is_visible()
    for hidden in ("header.top", "nav.subnav", ".no-print"):
        assert not await page.locator(hidden).first.is_visible(), hidden
    await page.screenshot(path=str(shot_path(tmp_path, "plan-print.png")), full_page=True)
    printed = await take_home.inner_text()
    assert "Alex Morgan" in printed and "Not answering the phone" in printed
    assert "07911 123457" in printed and "0116 496 0123" in printed
    assert "version 2" in printed and "Sam Nurse" not in printed
    assert patient.nhs_number not in await page.content()

    # What the pages wrote.
    plans = (
        await db.scalars(
            select(RelapsePreventionPlan)
            .where(RelapsePreventionPlan.patient_id == patient.id)
            .order_by(RelapsePreventionPlan.version)
        )
    ).all()
    assert [p.version for p in plans] == [1, 2]
    assert plans[0].early_warning_signs == ["Not sleeping", "Skipping meals"]
    assert [c["phone"] for c in plans[1].crisis_contacts] == ["+447911123457", "+441164960123"]
    goals = (
        await db.scalars(select(Goal).where(Goal.patient_id == patient.id).order_by(Goal.domain))
    ).all()
    assert [(g.domain, g.status, g.owner_agency_id) for g in goals] == [
        ("finances", "proposed", None),
        ("housing", "active", housing.id),
    ]
    consent = await db.scalar(select(Consent).where(Consent.patient_id == patient.id))
    assert consent is not None
    assert (consent.agency_id, consent.scope, consent.withdrawn_at) == (housing.id, "plan", None)
