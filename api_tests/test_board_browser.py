"""The ward board in a real browser: Debian's Chromium driven by Playwright against a real
uvicorn server, real PostgreSQL, the real check-in sweep and the real twilio SDK (fake Twilio).

Chromium comes from the distribution (/usr/bin/chromium), installed by the fixture below when
it is missing and apt is at hand; Playwright's own browser download is never used. Set
HOMEWARD_SCREENSHOTS=1 to refresh docs/board.png and docs/patient.png from these runs.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from db.models import Episode, Escalation
from service.checkins import lifecycle
from service.escalations.service import raise_escalation
from service.follow_ups.service import create_for_discharge

pytestmark = pytest.mark.slow


async def _sweep(worker: Any, clock: Any, minutes: int) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()


async def _discharged(db, ward_id, clock, *, ago=timedelta(0), risk=False, texts=True, **fields):
    """A patient discharged `ago`, with the follow-up (and, with `texts`, the check-in
    schedule) that a discharge starts."""
    patient = await builders.home_patient(db, ward_id, **fields)
    discharged_at = clock.now() - ago
    episode = Episode(
        patient_id=patient.id,
        admitted_at=discharged_at - timedelta(days=20),
        discharged_at=discharged_at,
        suicide_risk=risk,
        destination="home",
    )
    db.add(episode)
    await db.flush()
    follow_up = await create_for_discharge(db, episode, clock.now())
    if texts:
        await lifecycle.start_schedule(db, patient.id, discharged_at, clock.now())
    await db.commit()
    return patient, follow_up


async def test_missed_check_in_appears_live_is_acknowledged_and_followed_up(
    browser, live, db, clock, sms_worker, fake_twilio, tmp_path
):
    ward = await builders.ward(db, name="Cedar Ward")
    nurse = await builders.user(
        db, "ward_staff", ward_id=ward.id, email="sam.nurse@example.org", full_name="Sam Nurse"
    )
    patient, follow_up = await _discharged(
        db, ward.id, clock, given_name="Alex", family_name="Morgan"
    )
    await builders.goal(db, patient.id, at=clock.now())
    await builders.plan(db, patient.id, at=clock.now())
    housing = await builders.agency(db, name="Northside Housing Trust")
    await builders.referral(db, patient.id, housing.id, nurse.id, at=clock.now())
    other, _ = await _discharged(db, ward.id, clock, given_name="Jo", family_name="Rivers")
    # Someone whose 48-hour follow-up (suicide risk recorded) is already overdue.
    await _discharged(
        db,
        ward.id,
        clock,
        ago=timedelta(hours=60),
        risk=True,
        texts=False,
        given_name="Sam",
        family_name="Patel",
    )

    # A day later the first check-in goes out; two hours on, the reminder. No reply.
    await _sweep(sms_worker, clock, 24 * 60)
    await _sweep(sms_worker, clock, 120)
    assert len(fake_twilio.accepted) == 4  # prompt and reminder, to each patient

    help_request = await raise_escalation(
        db,
        patient_id=other.id,
        ward_id=ward.id,
        reason="help_request",
        severity="urgent",
        source_type="sms_inbound",
        source_id=uuid.uuid4(),
        now=clock.now(),
    )
    await db.commit()

    page = await new_page(browser)
    await page.clock.install()  # the page's timers run when the test says so
    await sign_in(page, live.url, nurse.email)
    assert page.url.endswith("/board")
    await page.locator(f'tr[data-escalation="{help_request.id}"]').wait_for()
    # The help request, and Sam Patel's breached follow-up, which the ladder has since climbed.
    breach = await db.scalar(select(Escalation).where(Escalation.reason == "follow_up_due"))
    assert breach is not None and (breach.severity, breach.level) == ("urgent", 2)
    assert await page.locator("tr[data-escalation]").count() == 2
    await page.evaluate("window.__sameDocument = true")

    # The reply window closes: the real sweep marks the check-ins missed and raises no_reply.
    await _sweep(sms_worker, clock, 120)
    raised = (
        await db.scalars(
            select(Escalation).where(
                Escalation.patient_id == patient.id, Escalation.reason == "no_reply"
            )
        )
    ).all()
    assert [(e.reason, e.status) for e in raised] == [("no_reply", "open")]

    # ~20 s later the board's live part fetches its fragment: the escalation appears in place.
    await page.clock.fast_forward(21_000)
    row = page.locator(f'tr[data-escalation="{raised[0].id}"]')
    await row.wait_for()
    assert await page.evaluate("window.__sameDocument === true")  # no full reload
    assert "Alex Morgan" in await row.inner_text()
    assert "no reply" in await row.inner_text()
    assert "left" in await row.locator(".clock").inner_text()
    await page.locator("#check-ins").get_by_text("missed").first.wait_for()
    # Most urgent first: urgent before routine, the highest level first among urgent ones.
    order = [
        await r.get_attribute("data-escalation")
        for r in await page.locator("tr[data-escalation]").all()
    ]
    assert order[:2] == [str(breach.id), str(help_request.id)]
    assert str(raised[0].id) in order[2:]  # routine no_reply (Jo Rivers missed one too)
    overdue = page.locator("#follow-ups .clock.overdue")
    assert "overdue by" in await overdue.first.inner_text()
    await page.screenshot(path=str(shot_path(tmp_path, "board.png")), full_page=True)
    await assert_accessible(page, "the ward board")

    # Acknowledge from the board, using the keyboard as well as the pointer would.
    await row.get_by_role("button", name="Acknowledge").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    acknowledged = page.locator(f'tr[data-escalation="{raised[0].id}"]')
    await acknowledged.get_by_text("acknowledged").wait_for()
    await db.refresh(raised[0])
    assert raised[0].status == "acknowledged"
    assert raised[0].acknowledged_by == nurse.id

    # The patient page: record a successful phone call, which completes the follow-up.
    await acknowledged.get_by_role("link", name="Alex Morgan").click()
    await page.wait_for_load_state()
    await page.get_by_role("heading", name="Relapse-prevention plan").wait_for()
    await page.locator("#sms").get_by_text("Homeward check-in").first.wait_for()
    await page.screenshot(path=str(shot_path(tmp_path, "patient.png")), full_page=True)
    await assert_accessible(page, "the patient page")
    # The attempt is recorded on the patient's Stays page, where the follow-up clock is.
    await page.get_by_role("link", name="Record a contact attempt").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/stays#follow-ups")
    await page.get_by_label("How").select_option("phone")
    await page.get_by_label("Yes, spoke with them").check()
    await page.get_by_label("Note (optional)").fill("Spoke with Alex; settling in at home.")
    await page.get_by_role("button", name="Record attempt").click()
    await page.wait_for_load_state()
    await page.get_by_text("completed").first.wait_for()
    await db.refresh(follow_up)
    assert follow_up.status == "completed"
    assert follow_up.method == "phone"


async def test_board_reads_on_a_tablet_and_signs_out(browser, live, db, clock, tmp_path):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    page = await new_page(browser, width=768, height=1024)
    await sign_in(page, live.url, nurse.email)
    assert page.url.endswith("/board")
    # Nothing wider than the screen: tables scroll inside their own box.
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert overflow
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/board/login")
    await page.goto(f"{live.url}/board")
    assert page.url.endswith("/board/login")


async def test_agency_worker_sees_own_referral_but_not_another_agencys_patient(
    browser, live, db, clock
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    ours, theirs = await builders.agency(db), await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=ours.id)
    shared = await builders.home_patient(db, ward.id, given_name="Robin", family_name="Shared")
    foreign = await builders.home_patient(db, ward.id, given_name="Kim", family_name="Elsewhere")
    await builders.referral(db, shared.id, ours.id, nurse.id, at=clock.now())
    await builders.consent(
        db, shared.id, ours.id, nurse.id, scope="plan", given_at=clock.now() - timedelta(days=1)
    )
    await builders.referral(db, foreign.id, theirs.id, nurse.id, at=clock.now())
    await builders.consent(
        db, foreign.id, theirs.id, nurse.id, scope="full", given_at=clock.now() - timedelta(days=1)
    )

    page = await new_page(browser)
    await sign_in(page, live.url, worker.email)
    assert page.url.endswith("/board/agency")
    await page.get_by_role("link", name="Robin Shared").first.click()
    await page.wait_for_load_state()
    await page.get_by_role("heading", name="Robin Shared").wait_for()
    assert "NHS number" not in await page.content()

    response = await page.goto(f"{live.url}/board/patients/{foreign.id}")
    assert response.status == 404
    assert "Kim" not in await page.content()
    await page.get_by_role("heading", name="Not found").wait_for()
    # Nor does the ward board open for an agency worker.
    board = await page.goto(f"{live.url}/board")
    assert board.status == 403
