"""The ward board in a real browser: Debian's Chromium driven by Playwright against a real
uvicorn server, real PostgreSQL, the real check-in sweep and the real twilio SDK (fake Twilio).

Chromium comes from the distribution (/usr/bin/chromium), installed by the fixture below when
it is missing and apt is at hand; Playwright's own browser download is never used. Set
HOMEWARD_SCREENSHOTS=1 to refresh docs/board.png and docs/patient.png from these runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.live_server import LiveServer
from db.models import Episode, Escalation
from service.app import create_app
from service.checkins import lifecycle
from service.escalations.service import raise_escalation
from service.follow_ups.service import create_for_discharge

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytestmark = pytest.mark.slow


def _install_chromium() -> str | None:
    """Install Debian's chromium if we may (root, apt present); why not, otherwise."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "no Chromium at /usr/bin/chromium and no root apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "chromium"]
    # xdist workers may get here together: one installs, the others wait and find it there.
    with open(Path(tempfile.gettempdir()) / "homeward-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for command in (install, ["apt-get", "update"], install):
            if os.path.exists(CHROMIUM):
                return None
            subprocess.run(command, env=env, capture_output=True, timeout=1200, check=False)
    return None if os.path.exists(CHROMIUM) else "apt-get could not install chromium"


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install -e '.[dev]')")
    if not os.path.exists(CHROMIUM):
        why = _install_chromium()
        if why is not None:
            pytest.skip(f"browser tests skipped: {why}")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def live(sms_settings, clock) -> Iterator[LiveServer]:
    server = LiveServer(create_app(sms_settings, clock=clock)).start()
    try:
        yield server
    finally:
        server.stop()


async def _page(browser: Any, width: int = 1280, height: int = 900) -> Any:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="en-GB", timezone_id="Europe/London"
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def _sign_in(page: Any, base: str, email: str) -> None:
    await page.goto(f"{base}/board/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(builders.PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def _sweep(worker: Any, clock: Any, minutes: int) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()


def _shot_path(tmp_path: Path, name: str) -> Path:
    if os.environ.get("HOMEWARD_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        return DOCS / name
    return tmp_path / name


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

    page = await _page(browser)
    await page.clock.install()  # the page's timers run when the test says so
    await _sign_in(page, live.url, nurse.email)
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
    await page.screenshot(path=str(_shot_path(tmp_path, "board.png")), full_page=True)

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
    await page.screenshot(path=str(_shot_path(tmp_path, "patient.png")), full_page=True)
    await page.get_by_text("Record a contact attempt").click()
    await page.get_by_label("How").select_option("phone")
    await page.get_by_label("Yes, spoke with them").check()
    await page.get_by_label("Note", exact=True).fill("Spoke with Alex; settling in at home.")
    await page.get_by_role("button", name="Record attempt").click()
    await page.wait_for_load_state()
    await page.get_by_text("completed").first.wait_for()
    await db.refresh(follow_up)
    assert follow_up.status == "completed"
    assert follow_up.method == "phone"


async def test_board_reads_on_a_tablet_and_signs_out(browser, live, db, clock, tmp_path):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    page = await _page(browser, width=768, height=1024)
    await _sign_in(page, live.url, nurse.email)
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

    page = await _page(browser)
    await _sign_in(page, live.url, worker.email)
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
