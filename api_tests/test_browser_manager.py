"""The ward manager's and the admin's pages in a real browser (Debian's Chromium, Playwright,
a real uvicorn server and PostgreSQL): a manager changes the on-call number, adds a rota
shift and reads the audit log for one patient; an admin creates a ward manager. Every page
passes axe-core (no serious or critical WCAG 2.2 AA violation)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from db.models import OnCallShift, User, Ward
from service import audit

pytestmark = pytest.mark.slow


async def test_a_manager_sets_the_on_call_number_adds_a_shift_and_reads_the_audit_log(
    browser, live, db, clock, tmp_path
):
    ward = await builders.ward(db, name="Birch Ward")
    manager = await builders.user(
        db, "ward_manager", ward_id=ward.id, email="mo.manager@example.org", full_name="Mo Manager"
    )
    nurse = await builders.user(
        db, "ward_staff", ward_id=ward.id, full_name="Ash Nurse", mobile="+447700900555"
    )
    patient = await builders.patient(db, ward.id, given_name="Alex", family_name="Morgan")
    other = await builders.patient(db, ward.id)
    staff = builders.principal(nurse)
    audit.record(db, staff, "patient.read", at=clock.now(), patient_id=patient.id, ward_id=ward.id)
    audit.record(db, staff, "plan.read", at=clock.now(), patient_id=other.id, ward_id=ward.id)
    await db.commit()
    ward_id, nurse_id, patient_id, nhs = ward.id, nurse.id, patient.id, patient.nhs_number

    page = await new_page(browser)
    await sign_in(page, live.url, manager.email)
    await page.get_by_role("link", name="Manage ward").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "the ward page")

    await page.get_by_label("On-call phone").fill("020 7946 001")  # one digit short
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_load_state()
    assert await page.locator("[data-error-summary]").is_visible()
    await assert_accessible(page, "the ward page with an error")
    await page.get_by_label("On-call phone").fill("020 7946 0018")
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_load_state()
    assert await page.get_by_text("The ward's settings are saved.").is_visible()
    stored = await db.get(Ward, ward_id, populate_existing=True)
    assert stored.escalation_policy["on_call_phone"] == "+442079460018"

    start = clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    await page.get_by_label("Who").select_option(str(nurse_id))
    await page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Ends").fill((start + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Add the shift").click()
    await page.wait_for_load_state()
    assert await page.get_by_text("The shift is on the rota.").is_visible()
    shift = await db.scalar(select(OnCallShift).where(OnCallShift.ward_id == ward_id))
    assert (shift.user_id, shift.starts_at) == (nurse_id, start)  # December: London is UTC
    assert await page.locator("table.rota tbody tr").count() == 1
    await page.screenshot(path=str(shot_path(tmp_path, "ward-manage.png")), full_page=True)

    await page.get_by_role("link", name="Audit log").click()
    await page.wait_for_load_state()
    await page.get_by_label("Patient").fill(nhs)
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_load_state()
    rows = page.locator("#audit-rows tbody tr")
    assert await rows.count() == 1
    assert "patient.read" in await rows.first.inner_text()
    assert "Ash Nurse" in await rows.first.inner_text()
    assert str(patient_id) in await rows.first.inner_text()
    await assert_accessible(page, "the audit log")


async def test_an_admin_creates_a_ward_manager(browser, live, db, clock, tmp_path):
    ward = await builders.ward(db, name="Oak Ward")
    admin = await builders.user(db, "admin", email="ada.admin@example.org", full_name="Ada Admin")
    await builders.agency(db, name="Open Door Housing")
    ward_id = ward.id

    page = await new_page(browser)
    await sign_in(page, live.url, admin.email)
    await page.get_by_role("link", name="Admin").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "the admin wards page")
    await (
        page.get_by_role("navigation", name="Administration")
        .get_by_role("link", name="Agencies")
        .click()
    )
    await page.wait_for_load_state()
    await assert_accessible(page, "the admin agencies page")
    await (
        page.get_by_role("navigation", name="Administration")
        .get_by_role("link", name="Users")
        .click()
    )
    await page.wait_for_load_state()
    await assert_accessible(page, "the admin users page")

    form = page.get_by_role("form", name="Create a user")
    await form.get_by_label("Full name").fill("Robin Lead")
    await form.get_by_label("Email").fill("robin.lead@example.org")
    await form.get_by_label("Role").select_option("ward_manager")
    await form.get_by_label("Ward").select_option(str(ward_id))
    await form.get_by_label("Starting password").fill("a long enough passphrase")
    await form.get_by_role("button", name="Create the user").click()
    await page.wait_for_load_state()
    assert "Robin Lead" in await page.locator("h1").inner_text()
    await assert_accessible(page, "the admin user page")
    robin = await db.scalar(select(User).where(User.email == "robin.lead@example.org"))
    assert (robin.role, robin.ward_id, robin.active) == ("ward_manager", ward_id, True)

    await page.get_by_role("link", name="Deactivate this account").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "the deactivate confirmation")
    await page.get_by_role("link", name="Admin").click()
    await page.wait_for_load_state()
    await page.get_by_role("link", name="Oak Ward").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="Manage Oak Ward").is_visible()
