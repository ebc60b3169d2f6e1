"""An agency worker's day in the browser: answer two referrals, log a support action, raise a
concern; then the patient withdraws consent (another session, through the service) and the
worker's next page load no longer shows them. axe-core on every page on the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from db.models import Escalation, Referral, SupportAction
from service.consents.service import withdraw_consent

pytestmark = pytest.mark.slow


async def test_an_agency_worker_answers_logs_and_raises_then_consent_ends(
    browser, live, db, clock, tmp_path
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    robin = await builders.home_patient(db, ward.id, given_name="Robin", family_name="Oak")
    alex = await builders.home_patient(db, ward.id, given_name="Alex", family_name="Birch")
    given = clock.now() - timedelta(days=1)
    consent = await builders.consent(db, robin.id, agency.id, nurse.id, given_at=given)
    await builders.consent(db, alex.id, agency.id, nurse.id, given_at=given)
    to_accept = await builders.referral(db, robin.id, agency.id, nurse.id, at=clock.now())
    to_decline = await builders.referral(db, alex.id, agency.id, nurse.id, at=clock.now())

    page = await new_page(browser)
    await sign_in(page, live.url, worker.email)
    assert page.url.endswith("/board/agency")
    await assert_accessible(page, "agency inbox")
    await page.screenshot(path=str(shot_path(tmp_path, "agency-inbox.png")), full_page=True)

    # Accept Robin's referral.
    await page.goto(f"{live.url}/board/agency/referrals/{to_accept.id}")
    await assert_accessible(page, "a referral to answer")
    await page.get_by_role("button", name="Accept referral").click()
    await page.get_by_text("Referral accepted.").wait_for()

    # Decline Alex's: first without a reason (the form again), then with one.
    await page.goto(f"{live.url}/board/agency/referrals/{to_decline.id}")
    await page.get_by_role("button", name="Decline referral").click()
    await page.get_by_role("heading", name="There is a problem").wait_for()
    await assert_accessible(page, "a refused decline")
    await page.get_by_label("Reason for declining").fill("No capacity this month")
    await page.get_by_role("button", name="Decline referral").click()
    await page.get_by_text("Referral declined.").wait_for()

    # Robin's page: log a support action, then raise a concern.
    await page.get_by_role("link", name="Robin Oak").first.click()
    await page.get_by_role("heading", name="Robin Oak").wait_for()
    await assert_accessible(page, "the agency's patient view")
    await page.get_by_label("What you did").select_option("visit")
    await page.get_by_label("Note").fill("Home visit: settling in.")
    await page.get_by_role("button", name="Log support action").click()
    await page.get_by_text("Support action logged.").wait_for()
    await page.get_by_role("link", name="Raise a concern with the ward").click()
    await assert_accessible(page, "raise a concern")
    await page.get_by_label("Your concern").fill("Not answering the door twice this week.")
    await page.get_by_label("Urgent: the ward should act today").check()
    await page.get_by_role("button", name="Raise concern").click()
    await page.get_by_text("Concern raised with the ward.").wait_for()

    accept_id, decline_id, robin_id, consent_id = to_accept.id, to_decline.id, robin.id, consent.id
    nurse_principal = builders.principal(nurse)
    db.expire_all()  # the live server changed the rows this session built
    referrals = {r.id: r for r in (await db.scalars(select(Referral))).all()}
    assert referrals[accept_id].status == "accepted"
    assert referrals[decline_id].decline_reason == "No capacity this month"
    assert (await db.scalar(select(SupportAction.kind))) == "visit"
    assert (await db.scalar(select(Escalation.severity))) == "urgent"

    # The patient withdraws consent: recorded by the ward in its own session.
    await withdraw_consent(db, nurse_principal, robin_id, consent_id, clock.now())
    await db.commit()

    response = await page.reload()
    assert response.status == 404
    assert "Robin" not in await page.content()
    await page.goto(f"{live.url}/board/agency")
    assert "Robin" not in await page.content()
    await page.locator("#consent-ended").wait_for()
    await assert_accessible(page, "the inbox after consent ended")
