"""The ward's whole job in one walk, in a real browser (Debian's Chromium, Playwright, a real
uvicorn server, PostgreSQL, the real worker sending through the twilio SDK to fake Twilio).

A nurse signs in, registers and admits a patient, writes the plan and two goals, records
consent for an agency, discharges with suicide risk, sees the 48-hour clock, reads the
patient's reply and answers it, then changes the plan (version 2) and compares the versions.
A manager then changes the on-call number and rota and reads the audit log for that same
patient. Every step the user takes is a page (clicks, typing, keys); each step checks what the
page shows and what the database now holds; axe-core runs on each page.

With HOMEWARD_SCREENSHOTS=1 the walk refreshes the README's pictures of the main pages in
docs/."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.browser import assert_accessible, new_page, shot_path, sign_in
from db.models import (
    AuditEvent,
    Consent,
    Episode,
    FollowUp,
    Goal,
    OnCallShift,
    OutboxMessage,
    Patient,
    RelapsePreventionPlan,
    ReplyToRead,
    Ward,
)
from service.conversation import inbound

pytestmark = pytest.mark.slow

MOBILE = "+447911123456"
ANSWER = "Hi Alex, Kit from the ward here. I will ring you tomorrow at 10."


@dataclass
class Walked:
    ward_id: uuid.UUID
    nurse_id: uuid.UUID
    patient_id: uuid.UUID
    nhs_number: str


def _field(name: str) -> str:
    # Contact rows are named as the API's paths ("crisis_contacts[0].phone"): quote the id.
    return f'[id="f-{name}"]'


async def _tab(page: Any, name: str) -> None:
    """One of the patient's own pages, from the patient's navigation."""
    await page.get_by_role("navigation", name="This patient").get_by_role("link", name=name).click()
    await page.wait_for_load_state()


async def _look(page: Any, what: str, tmp_path: Path, shot: str | None) -> None:
    await assert_accessible(page, what)
    if shot is not None:
        await page.screenshot(path=str(shot_path(tmp_path, shot)), full_page=True)


async def _nurse_walk(
    browser: Any, live: Any, db: Any, clock: Any, sms_worker: Any, fake_twilio: Any,
    tmp_path: Path, *, shots: bool = True,
) -> Walked:  # fmt: skip
    def shot(name: str) -> str | None:
        return name if shots else None

    ward = await builders.ward(db, name="Cedar Ward")
    nurse = await builders.user(
        db,
        "ward_staff",
        ward_id=ward.id,
        email="kit.nurse@example.org",
        full_name="Kit Nurse",
        mobile="+447700900555",  # to be on call, a nurse needs a phone
    )
    housing = await builders.agency(db, name="Northside Housing Trust")
    ward_id, nurse_id, housing_id = ward.id, nurse.id, housing.id

    # One pass of every sweep, so the pages (and the README's pictures) show a ward whose
    # background jobs are on time, not the "alerts may be delayed" banner.
    await sms_worker.run_once()

    # Sign in (email and password; the test settings leave two-step sign-in off).
    page = await new_page(browser)
    await page.clock.install()  # the page's timers run when the test says so
    await sign_in(page, live.url, nurse.email)
    assert page.url.endswith("/board")
    assert not await page.locator("[data-jobs-banner]").is_visible()

    # The patient list, from the main navigation.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    await page.wait_for_load_state()
    await page.get_by_role("heading", name="Patients", exact=True).wait_for()
    await _look(page, "the patient list", tmp_path, shot("patients.png"))

    # Register and admit (one form: registering opens the first stay).
    await page.get_by_role("link", name="Register a patient").click()
    await page.wait_for_load_state()
    await page.get_by_label("NHS number").fill("943 476 5919")
    await page.get_by_label("Given name").fill("Alex")
    await page.get_by_label("Family name").fill("Morgan")
    await page.get_by_label("Date of birth").fill("1985-04-12")
    await page.get_by_label("Mobile").fill("07911 123456")
    await page.get_by_label("The patient consents to check-in texts").check()
    await page.get_by_label("Key worker").select_option(label="Kit Nurse")
    admitted = clock.now() - timedelta(days=10)  # December: London is UTC
    await page.locator("#f-admitted_at").fill(admitted.strftime("%Y-%m-%dT%H:%M"))
    await _look(page, "the registration form", tmp_path, shot("patient-new.png"))
    await page.get_by_role("button", name="Register and admit").click()
    await page.wait_for_load_state()
    await page.get_by_text("Patient registered and admitted.").wait_for()
    await _look(page, "the details page", tmp_path, None)
    patient = await db.scalar(select(Patient).where(Patient.nhs_number == "9434765919"))
    assert patient is not None and patient.status == "inpatient"
    assert (patient.mobile, patient.key_worker_id, patient.ward_id) == (MOBILE, nurse_id, ward_id)
    patient_id, nhs = patient.id, patient.nhs_number
    stay = await db.scalar(select(Episode).where(Episode.patient_id == patient_id))
    assert stay is not None and (stay.admitted_at, stay.discharged_at) == (admitted, None)
    stay_id = stay.id

    # The overview, then the plan from its link: version 1.
    await _tab(page, "Overview")
    await page.get_by_role("heading", name="Alex Morgan").first.wait_for()
    await _look(page, "the patient overview", tmp_path, None)
    await page.get_by_role("link", name="Write the plan").click()
    await page.locator("#plan-edit").wait_for()
    await page.locator("#f-early_warning_signs").fill("Not sleeping\nSkipping meals")
    await page.locator("#f-triggers").fill("Arguments at home")
    await page.locator("#f-coping_strategies").fill("Walk by the river")
    await page.locator(_field("crisis_contacts[0].name")).fill("Jo Hill")
    await page.locator(_field("crisis_contacts[0].relationship")).fill("sister")
    await page.locator(_field("crisis_contacts[0].phone")).fill("07911 123457")
    await _look(page, "the plan editor", tmp_path, None)
    await page.get_by_role("button", name="Save as a new version").click()
    await page.get_by_text("Plan saved as version 1").wait_for()
    plans = (
        await db.scalars(
            select(RelapsePreventionPlan).where(RelapsePreventionPlan.patient_id == patient_id)
        )
    ).all()
    assert [(p.version, p.early_warning_signs) for p in plans] == [
        (1, ["Not sleeping", "Skipping meals"])
    ]

    # Two goals.
    await _tab(page, "Goals")
    for domain, text in (("housing", "A tenancy of my own"), ("finances", "Sort out my benefits")):
        await page.locator("#f-domain").select_option(domain)
        await page.locator("#f-description").fill(text)
        if domain == "housing":
            await page.locator("#f-owner_agency_id").select_option(str(housing_id))
        await page.get_by_role("button", name="Add goal").click()
        await page.get_by_text("Goal added.").wait_for()
    assert await page.get_by_role("link", name="A tenancy of my own").is_visible()
    assert await page.get_by_role("link", name="Sort out my benefits").is_visible()
    await _look(page, "the goals page", tmp_path, shot("goals.png"))
    goals = (
        await db.scalars(select(Goal).where(Goal.patient_id == patient_id).order_by(Goal.domain))
    ).all()
    assert [(g.domain, g.description, g.owner_agency_id) for g in goals] == [
        ("finances", "Sort out my benefits", None),
        ("housing", "A tenancy of my own", housing_id),
    ]

    # Consent for the housing agency to see the plan's contact details.
    await _tab(page, "Consents")
    await page.locator("#f-agency_id").select_option(str(housing_id))
    await page.get_by_label("Plan: contact details", exact=False).check()
    await page.get_by_role("button", name="Record consent").click()
    await page.get_by_text("Consent recorded.").wait_for()
    row = page.locator("#consent-list tbody tr").first
    assert "Northside Housing Trust" in await row.inner_text()
    assert "in force" in await row.inner_text()
    await _look(page, "the consents page", tmp_path, shot("consents.png"))
    consent = await db.scalar(select(Consent).where(Consent.patient_id == patient_id))
    assert consent is not None
    assert (consent.agency_id, consent.scope, consent.withdrawn_at) == (housing_id, "plan", None)
    assert consent.recorded_by_id == nurse_id

    # Discharge with suicide risk: the 48-hour clock starts.
    await _tab(page, "Stays")
    assert "on the ward" in await page.locator("#stays").inner_text()
    await _look(page, "the stays page", tmp_path, None)
    await page.get_by_label("Yes: follow up within 48 hours").check()
    await page.get_by_label("Destination").fill("home")
    await page.get_by_role("button", name="Record the discharge").click()
    await page.wait_for_load_state()
    await page.get_by_text("Discharge recorded").wait_for()
    clocks = page.locator("#follow-ups")
    assert "48 h: suicide risk" in await clocks.inner_text()
    assert await clocks.locator(".clock").first.inner_text() == "2 d 0 h left"
    await _look(page, "the stays page after discharge", tmp_path, shot("stays.png"))
    db.expire_all()  # the live server changed the rows this session read
    stay = await db.get(Episode, stay_id)
    assert stay is not None and stay.discharged_at == clock.now()
    assert (stay.suicide_risk, stay.destination) == (True, "home")
    follow_up = await db.scalar(select(FollowUp).where(FollowUp.patient_id == patient_id))
    assert follow_up is not None and follow_up.suicide_risk is True
    assert follow_up.due_at == stay.discharged_at + timedelta(hours=48)
    patient = await db.get(Patient, patient_id)
    assert patient is not None and patient.status == "discharged"

    # The patient texts words that need a person, through the inbound service the webhook uses.
    await inbound.handle_inbound(
        db,
        message_sid="SM" + uuid.uuid4().hex,
        from_number=MOBILE,
        to_number="+447700900001",
        body="not sleeping much, could someone ring me tomorrow",
        now=clock.now(),
    )
    await db.commit()
    reply = await db.scalar(select(ReplyToRead).where(ReplyToRead.patient_id == patient_id))
    assert reply is not None and reply.status == "unread"
    reply_id = reply.id

    # Read it (from the board's link), mark it read, answer it.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Board").click()
    await page.wait_for_load_state()
    await page.get_by_role("link", name="1 reply to read").click()
    await page.wait_for_load_state()
    assert page.url.endswith(f"/board/patients/{patient_id}/conversation")
    waiting = page.locator(f'[data-reply="{reply_id}"]')
    await waiting.get_by_text("not sleeping much, could someone ring me tomorrow").wait_for()
    await _look(page, "the conversation page", tmp_path, None)
    await waiting.get_by_role("button", name="Mark read").click()
    await page.wait_for_load_state()
    await page.get_by_text("Reply marked read.").wait_for()
    assert await page.locator("[data-reply]").count() == 0
    reply = await db.get(ReplyToRead, reply_id, populate_existing=True)
    assert reply is not None and (reply.status, reply.read_by) == ("read", nurse_id)

    await page.get_by_label("Text", exact=True).fill(ANSWER)
    await page.get_by_role("button", name="Send text").click()
    await page.wait_for_load_state()
    await page.get_by_text("Text queued").wait_for()
    await page.locator("#sms").get_by_text("Kit Nurse (staff)").wait_for()
    queued = await db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.patient_id == patient_id, OutboxMessage.body == ANSWER
        )
    )
    assert queued is not None and (queued.status, queued.to_number) == ("queued", MOBILE)
    # The real worker pass sends it through the SDK to fake Twilio.
    await sms_worker.run_once("outbox")
    assert [m.body for m in fake_twilio.sent_to(MOBILE)][-1] == ANSWER
    sent = await db.get(OutboxMessage, queued.id, populate_existing=True)
    assert sent is not None and sent.status != "queued"
    await page.clock.fast_forward(21_000)  # the live region refreshes in place
    await page.locator("#sms li.outbound .status").last.get_by_text("sent").wait_for()
    await _look(page, "the conversation after sending", tmp_path, shot("conversation.png"))

    # The check-ins the discharge scheduled.
    await _tab(page, "Check-ins")
    await _look(page, "the check-ins page", tmp_path, shot("check-ins.png"))

    # Version 2 of the plan, and what changed.
    await _tab(page, "Plan")
    assert await page.locator("#f-early_warning_signs").input_value() == (
        "Not sleeping\nSkipping meals"
    )
    await page.locator("#f-early_warning_signs").fill("Not sleeping\nNot answering the phone")
    await page.locator(_field("crisis_contacts[1].name")).fill("Crisis team")
    await page.locator(_field("crisis_contacts[1].relationship")).fill("ward")
    await page.locator(_field("crisis_contacts[1].phone")).fill("0116 496 0123")
    await _look(page, "the plan editor with version 1", tmp_path, shot("plan-edit.png"))
    await page.get_by_role("button", name="Save as a new version").click()
    await page.get_by_text("Plan saved as version 2").wait_for()
    await page.get_by_role("button", name="Compare").click()
    diff = page.locator("#plan-diff")
    await diff.wait_for()
    text = await diff.inner_text()
    assert "From version 1 to version 2" in text
    assert "Not answering the phone" in text and "Skipping meals" in text
    assert "Crisis team (ward): 0116 496 0123" in text
    await _look(page, "the plan comparison", tmp_path, shot("plan-compare.png"))
    plans = (
        await db.scalars(
            select(RelapsePreventionPlan)
            .where(RelapsePreventionPlan.patient_id == patient_id)
            .order_by(RelapsePreventionPlan.version)
        )
    ).all()
    assert [p.version for p in plans] == [1, 2]
    assert plans[1].early_warning_signs == ["Not sleeping", "Not answering the phone"]
    assert [c["phone"] for c in plans[1].crisis_contacts] == ["+447911123457", "+441164960123"]

    # The overview now gathers it all: the plan's version 2, both goals, the clock, the texts.
    await _tab(page, "Overview")
    overview = await page.locator("main").inner_text()
    assert "Version 2" in overview and "A tenancy of my own" in overview
    assert "48 h: suicide risk" in overview and ANSWER in overview
    await _look(page, "the patient overview, filled", tmp_path, shot("patient-overview.png"))

    # The printable plan, as it prints.
    await _tab(page, "Plan")
    await page.get_by_role("link", name="Printable plan for the patient").click()
    await page.locator("#take-home").wait_for()
    await _look(page, "the printable plan", tmp_path, None)
    await page.emulate_media(media="print")
    printed = await page.locator("#take-home").inner_text()
    assert "Alex Morgan" in printed and "Not answering the phone" in printed
    if shots:
        await page.screenshot(path=str(shot_path(tmp_path, "plan-print.png")), full_page=True)
    await page.context.close()
    return Walked(ward_id, nurse_id, patient_id, nhs)


async def test_a_nurse_walks_a_patient_from_registration_to_plan_version_2(
    browser, live, db, clock, sms_worker, fake_twilio, tmp_path
):
    await _nurse_walk(browser, live, db, clock, sms_worker, fake_twilio, tmp_path)


async def test_a_manager_changes_on_call_and_rota_then_reads_that_patients_audit_log(
    browser, live, db, clock, sms_worker, fake_twilio, tmp_path
):
    # The nurse's walk again (its pictures were taken by the test above), so the manager works
    # on the patient the nurse registered and the audit log holds what real page use wrote.
    walked = await _nurse_walk(
        browser, live, db, clock, sms_worker, fake_twilio, tmp_path, shots=False
    )
    manager = await builders.user(
        db,
        "ward_manager",
        ward_id=walked.ward_id,
        email="mo.manager@example.org",
        full_name="Mo Manager",
    )
    page = await new_page(browser)
    await sign_in(page, live.url, manager.email)
    await page.get_by_role("link", name="Manage ward").click()
    await page.wait_for_load_state()
    await assert_accessible(page, "the ward page")

    # The on-call number: a digit short is refused with the form again, then saved.
    await page.get_by_label("On-call phone").fill("020 7946 001")
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_load_state()
    await page.locator("[data-error-summary]").wait_for()
    await assert_accessible(page, "the ward page with an error")
    ward = await db.get(Ward, walked.ward_id, populate_existing=True)
    assert ward is not None and ward.escalation_policy.get("on_call_phone") != "+44207946001"
    await page.get_by_label("On-call phone").fill("020 7946 0018")
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_load_state()
    await page.get_by_text("The ward's settings are saved.").wait_for()
    ward = await db.get(Ward, walked.ward_id, populate_existing=True)
    assert ward is not None and ward.escalation_policy["on_call_phone"] == "+442079460018"

    # The nurse on call tomorrow for twelve hours.
    start = clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    await page.get_by_label("Who").select_option(str(walked.nurse_id))
    await page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Ends").fill((start + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Add the shift").click()
    await page.wait_for_load_state()
    await page.get_by_text("The shift is on the rota.").wait_for()
    assert await page.locator("table.rota tbody tr").count() == 1
    assert "Kit Nurse" in await page.locator("table.rota tbody tr").first.inner_text()
    await assert_accessible(page, "the ward page with the rota")
    await page.screenshot(path=str(shot_path(tmp_path, "ward-manage.png")), full_page=True)
    shift = await db.scalar(select(OnCallShift).where(OnCallShift.ward_id == walked.ward_id))
    assert shift is not None
    assert (shift.user_id, shift.starts_at, shift.ends_at) == (
        walked.nurse_id,
        start,
        start + timedelta(hours=12),
    )

    # The audit log for the patient the nurse registered, found by NHS number.
    await page.get_by_role("link", name="Audit log").click()
    await page.wait_for_load_state()
    await page.get_by_label("Patient").fill(walked.nhs_number)
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_load_state()
    rows = page.locator("#audit-rows tbody tr")
    await rows.first.wait_for()
    shown = await page.locator("#audit-rows tbody").inner_text()
    await assert_accessible(page, "the audit log for one patient")
    # The newest rows only (the viewport): the whole page would be far over 400 KB.
    await page.screenshot(path=str(shot_path(tmp_path, "audit.png")))
    stored = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == walked.patient_id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
    ).all()
    actions = {e.action for e in stored}
    # What the nurse's walk wrote, one row per change at least.
    wrote = {
        "patient.create", "plan.update", "goal.create", "consent.create",
        "episode.discharge", "reply.read", "sms.send",
    }  # fmt: skip
    assert wrote <= actions, sorted(wrote - actions)
    assert walked.nurse_id in {e.actor_id for e in stored}
    # Newest first, this patient's only: the page's rows are the newest stored rows.
    shown_count = await rows.count()
    assert 1 <= shown_count <= len(stored)
    for event, line in zip(stored, await rows.all(), strict=False):
        cells = await line.locator("td").all_inner_texts()
        assert (cells[2], cells[4]) == (event.action, str(walked.patient_id))
    assert "Kit Nurse" in shown
