"""A patient's goals, relapse-prevention plan and consents pages over HTTP (cookie sessions):
refusals come back 422 with their errors and write nothing, successes are in the database,
another ward's patient is an audited 404, plan versions stay readable and their differences
are shown. The diff itself (`service.plans.diff`) is unit-tested first; the browser journey is
test_browser_nurse_plans.py."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import get_args

import phonenumbers
from sqlalchemy import func, select

from api_tests import authz_matrix as matrix
from api_tests.authz_matrix import OTHER_STAFF, STAFF, World
from api_tests.test_board_pages import csrf_of, session_headers
from db.models import AuditEvent, Consent, Goal, GoalStatusChange, RelapsePreventionPlan
from service.agencies.schemas import ConsentScope
from service.plans.diff import diff_plans
from service.plans.schemas import CrisisContact, PlanOut
from service.web.patient_consents import SCOPES

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _plan(version: int, **fields) -> PlanOut:
    values = {
        "early_warning_signs": [],
        "triggers": [],
        "coping_strategies": [],
        "crisis_contacts": [],
        "check_in_question": None,
        **fields,
    }
    return PlanOut(
        patient_id=uuid.uuid4(), version=version, created_at=AT, created_by=None, **values
    )


def _contact(name: str, phone: str, relationship: str = "friend") -> CrisisContact:
    return CrisisContact(name=name, relationship=relationship, phone=phone)


# --- the diff, a pure function ------------------------------------------------------------


def test_the_diff_names_items_added_and_removed_per_list_in_their_order():
    before = _plan(1, early_warning_signs=["Not sleeping", "Pacing"], triggers=["Crowds"])
    after = _plan(
        2,
        early_warning_signs=["Pacing", "Skipping meals", "Not answering the phone"],
        triggers=["Crowds"],
        coping_strategies=["Walk by the river"],
    )

    diff = diff_plans(before, after)

    assert (diff.from_version, diff.to_version) == (1, 2)
    assert diff.early_warning_signs.added == ["Skipping meals", "Not answering the phone"]
    assert diff.early_warning_signs.removed == ["Not sleeping"]
    assert (diff.triggers.added, diff.triggers.removed) == ([], [])
    assert diff.coping_strategies.added == ["Walk by the river"]
    assert not diff.check_in_question_changed and not diff.unchanged


def test_an_item_written_twice_and_kept_once_is_one_removed():
    diff = diff_plans(_plan(1, triggers=["Crowds", "Crowds"]), _plan(2, triggers=["Crowds"]))
    assert (diff.triggers.added, diff.triggers.removed) == ([], ["Crowds"])


def test_a_crisis_contact_kept_by_name_with_a_new_number_is_a_change_not_two_contacts():
    jo_old, jo_new = _contact("Jo Hill", "+447911123457"), _contact("jo hill", "+447911999999")
    sam, kim = _contact("Sam", "+441632960001"), _contact("Kim", "+441632960002")

    diff = diff_plans(
        _plan(1, crisis_contacts=[jo_old, sam]), _plan(2, crisis_contacts=[kim, sam, jo_new])
    )

    assert diff.crisis_contacts_added == [kim]
    assert diff.crisis_contacts_removed == []
    assert [(c.before, c.after) for c in diff.crisis_contacts_changed] == [(jo_old, jo_new)]
    gone = diff_plans(_plan(2, crisis_contacts=[sam]), _plan(3, crisis_contacts=[]))
    assert gone.crisis_contacts_removed == [sam] and gone.crisis_contacts_added == []


def test_the_question_change_and_an_unchanged_plan():
    same = _plan(1, triggers=["Crowds"], crisis_contacts=[_contact("Sam", "+441632960001")])
    assert diff_plans(same, _plan(2, **_fields_of(same))).unchanged

    asked = diff_plans(_plan(1), _plan(2, check_in_question="How is your week going?"))
    assert asked.check_in_question_changed
    assert (asked.check_in_question_before, asked.check_in_question_after) == (
        None,
        "How is your week going?",
    )
    assert not asked.unchanged


def _fields_of(plan: PlanOut) -> dict:
    return {
        name: getattr(plan, name)
        for name in (
            "early_warning_signs",
            "triggers",
            "coping_strategies",
            "crisis_contacts",
            "check_in_question",
        )
    }


def test_the_consent_page_describes_every_scope_the_api_has():
    assert set(SCOPES) == set(get_args(ConsentScope))


# --- the pages ----------------------------------------------------------------------------


async def _post(client, world: World, url: str, data: dict[str, str], role: str = STAFF):
    return await client.post(
        url,
        data={"csrf_token": csrf_of(world, role), **data},
        headers=session_headers(world, role),
        follow_redirects=False,
    )


async def _get(client, world: World, url: str, role: str = STAFF):
    return await client.get(url, headers=session_headers(world, role), follow_redirects=False)


async def _count(db, model, *where) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_goal_added_edited_and_moved_on_through_its_lifecycle(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    url = f"/board/patients/{world.patient.id}/goals"
    before = await _count(db, Goal)

    refused = await _post(
        client, world, url, {"domain": "housing", "description": "  ", "status": "proposed"}
    )
    assert refused.status_code == 422
    assert 'href="#f-description"' in refused.text and "Goal is required" in refused.text
    assert '<option value="housing" selected>' in refused.text  # what was typed is kept
    assert await _count(db, Goal) == before

    added = await _post(
        client,
        world,
        url,
        {
            "domain": "employment_education",
            "description": "Back to college in spring",
            "target_date": "2027-03-01",
            "owner_agency_id": str(world.agency.id),
            "status": "active",
        },
    )
    assert (added.status_code, added.headers["location"]) == (303, f"{url}?done=added")
    goal = await db.scalar(select(Goal).where(Goal.description == "Back to college in spring"))
    assert goal is not None
    assert (goal.domain, goal.status, goal.owner_agency_id) == (
        "employment_education",
        "active",
        world.agency.id,
    )
    assert goal.target_date.isoformat() == "2027-03-01"
    listed = await _get(client, world, url)
    assert listed.status_code == 200 and "Back to college in spring" in listed.text

    edited = await _post(
        client,
        world,
        f"{url}/{goal.id}",
        {"domain": "employment_education", "description": "College course", "target_date": ""},
    )
    assert edited.status_code == 303
    await db.refresh(goal)
    # Every field is on the form: an emptied target date and agency are cleared.
    assert (goal.description, goal.target_date, goal.owner_agency_id) == (
        "College course",
        None,
        None,
    )

    achieved = await _post(client, world, f"{url}/{goal.id}/status", {"status": "achieved"})
    assert achieved.status_code == 303
    # Achieved is final: moving back is the form's problem (the API's 409), and nothing changes.
    history = await _count(db, GoalStatusChange, GoalStatusChange.goal_id == goal.id)
    back = await _post(client, world, f"{url}/{goal.id}/status", {"status": "active"})
    assert back.status_code == 422
    assert "The goal is closed; its status can no longer change." in back.text
    await db.refresh(goal)
    assert goal.status == "achieved"
    assert await _count(db, GoalStatusChange, GoalStatusChange.goal_id == goal.id) == history
    page = await _get(client, world, f"{url}/{goal.id}")
    assert "active → achieved" in page.text


async def test_plan_version_two_keeps_version_one_readable_and_the_page_shows_the_diff(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    patient = world.patient
    # The world's plan is version 1; the page writes version 2.
    url = f"/board/patients/{patient.id}/plan"
    saved = await _post(
        client,
        world,
        url,
        {
            "early_warning_signs": "Not sleeping\n\n  Skipping meals  \n",
            "triggers": "",
            "coping_strategies": "Walk by the river\nCall my sister",
            "crisis_contacts[0].name": "Jo Hill",
            "crisis_contacts[0].relationship": "sister",
            "crisis_contacts[0].phone": "07911 123458",
            # An empty row between filled ones is skipped, not a blank contact.
            "crisis_contacts[2].name": "Crisis team",
            "crisis_contacts[2].relationship": "ward",
            "crisis_contacts[2].phone": "0116 496 0123",
            "check_in_question": "How was today, out of 5?",
        },
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"{url}?saved=2")
    rows = (
        await db.scalars(
            select(RelapsePreventionPlan)
            .where(RelapsePreventionPlan.patient_id == patient.id)
            .order_by(RelapsePreventionPlan.version)
        )
    ).all()
    assert [r.version for r in rows] == [1, 2]
    one, two = rows
    assert one.early_warning_signs == ["Not sleeping"]  # untouched
    assert two.early_warning_signs == ["Not sleeping", "Skipping meals"]
    assert two.triggers == []
    assert [c["phone"] for c in two.crisis_contacts] == ["+447911123458", "+441164960123"]
    assert two.created_by == world.users[STAFF].id

    compared = await _get(client, world, f"{url}?from=1&to=2")
    assert compared.status_code == 200
    diff = compared.text.split('id="plan-diff"', 1)[1]
    assert "From version 1 to version 2" in diff
    assert re.search(r'class="added">.*?Skipping meals', diff)
    assert re.search(r'class="removed">.*?Arguments at home', diff)
    assert "Changed: Jo Hill (sister): 07911 123457 → (sister): 07911 123458" in diff
    assert "How was today, out of 5?" in diff
    assert "Version 1:" in compared.text and "Version 2:" in compared.text

    unknown = await _get(client, world, f"{url}?from=1&to=9")
    assert unknown.status_code == 422
    assert "With version is not a version of this plan" in unknown.text


async def test_a_refused_plan_shows_each_error_beside_its_row_and_writes_nothing(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    url = f"/board/patients/{world.patient.id}/plan"
    before = await _count(db, RelapsePreventionPlan)

    refused = await _post(
        client,
        world,
        url,
        {
            "early_warning_signs": "Not sleeping\n" + "x" * 501,
            "crisis_contacts[1].name": "Jo Hill",
            "crisis_contacts[1].relationship": "sister",
            "crisis_contacts[1].phone": "12345",
        },
    )
    assert refused.status_code == 422
    # A too-long line belongs to its textarea.
    assert 'id="f-early_warning_signs-error"' in refused.text
    assert await _count(db, RelapsePreventionPlan) == before

    bad_phone = await _post(
        client,
        world,
        url,
        {
            "crisis_contacts[1].name": "Jo Hill",
            "crisis_contacts[1].relationship": "sister",
            "crisis_contacts[1].phone": "12345",
        },
    )
    assert bad_phone.status_code == 422
    # The filled rows come back first, numbered as the API numbers them.
    assert 'id="f-crisis_contacts[0].phone-error"' in bad_phone.text
    assert "Crisis contact 1 phone is not a valid phone number" in bad_phone.text
    assert 'name="crisis_contacts[0].name" type="text" value="Jo Hill"' in bad_phone.text
    half = await _post(
        client,
        world,
        url,
        {"crisis_contacts[0].phone": "07911 123457", "crisis_contacts[3].name": "Sam"},
    )
    assert half.status_code == 422
    assert 'href="#f-crisis_contacts[0].name"' in half.text
    assert "Crisis contact 1 name is required" in half.text
    assert await _count(db, RelapsePreventionPlan) == before


async def test_the_printed_plan_has_the_patients_words_and_dialable_numbers_only(
    app, client, db, clock
):
    """HW-37: each crisis number is printed as dialled from the stored number, from the plan
    in force, with nothing staff-only on the page."""
    world = await matrix.build_world(db, app, clock.now())
    contacts = [
        {"name": "Jo Hill", "relationship": "sister", "phone": "+447911123457"},
        {"name": "Crisis line", "relationship": "ward", "phone": "+441164960123"},
        {"name": "Ana", "relationship": "friend", "phone": "+34912345678"},
    ]
    row = RelapsePreventionPlan(
        patient_id=world.patient.id,
        version=2,
        early_warning_signs=["Not sleeping"],
        triggers=["Arguments at home"],
        coping_strategies=["Walk by the river"],
        crisis_contacts=contacts,
        check_in_question="How was today?",
        created_at=clock.now(),
        created_by=world.users[STAFF].id,
    )
    db.add(row)
    await db.commit()

    printed = await _get(client, world, f"/board/patients/{world.patient.id}/plan/print")

    assert printed.status_code == 200
    take_home = printed.text.split('id="take-home"', 1)[1]
    shown = re.findall(r'<td class="phone">([^<]+)</td>', take_home)
    assert shown == ["07911 123457", "0116 496 0123", "+34 912 34 56 78"]
    for number, contact in zip(shown, contacts, strict=True):
        dialled = phonenumbers.parse(number, "GB")
        assert (
            phonenumbers.format_number(dialled, phonenumbers.PhoneNumberFormat.E164)
            == (contact["phone"])
        )
    assert "Jo Hill (sister)" in take_home and "How was today?" in take_home
    assert "version 2" in take_home  # the plan in force, not the world's version 1
    # (The page's header names the nurse signed in; it is not printed, and not the plan.)
    for staff_only in (world.patient.nhs_number, world.users[STAFF].full_name, "NHS number"):
        assert staff_only not in take_home
    assert 'class="no-print"' in printed.text


async def test_consent_given_withdrawn_after_confirmation_and_shown_in_the_history(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    url = f"/board/patients/{world.patient.id}/consents"
    agency = world.agency_no_consent
    before = await _count(db, Consent)

    refused = await _post(
        client,
        world,
        url,
        {
            "agency_id": str(agency.id),
            "scope": "plan",
            "given_at": "2026-11-20T10:00",
            "expires_at": "2026-11-30T10:00",
        },
    )
    assert refused.status_code == 422
    assert 'id="f-expires_at-error"' in refused.text and "must be in the future" in refused.text
    assert 'value="plan" checked' in refused.text
    no_scope = await _post(client, world, url, {"agency_id": str(agency.id)})
    assert no_scope.status_code == 422 and "What may be shared is required" in no_scope.text
    assert await _count(db, Consent) == before

    given = await _post(
        client,
        world,
        url,
        {"agency_id": str(agency.id), "scope": "plan", "expires_at": "2027-06-01T12:00"},
    )
    assert given.status_code == 303
    consent = await db.scalar(select(Consent).where(Consent.agency_id == agency.id))
    assert consent is not None and consent.scope == "plan"
    assert consent.recorded_by_id == world.users[STAFF].id
    # Ward time: 12:00 in London in June is 11:00 UTC.
    assert consent.expires_at == datetime(2027, 6, 1, 11, 0, tzinfo=UTC)

    withdraw = f"{url}/{consent.id}/withdraw"
    confirm = await _get(client, world, withdraw)
    assert confirm.status_code == 200
    assert f"Withdraw consent for {agency.name}?" in confirm.text
    await db.refresh(consent)
    assert consent.withdrawn_at is None  # asking is not withdrawing

    done = await _post(client, world, withdraw, {})
    assert done.status_code == 303
    await db.refresh(consent)
    assert consent.withdrawn_at == clock.now()
    again = await _post(client, world, withdraw, {})
    assert again.status_code == 422 and "already been withdrawn" in again.text

    expired = Consent(
        patient_id=world.patient.id,
        agency_id=world.other_agency.id,
        scope="contact_details",
        given_at=clock.now() - timedelta(days=30),
        expires_at=clock.now() - timedelta(days=1),
        recorded_by_id=world.users[STAFF].id,
        created_at=clock.now() - timedelta(days=30),
    )
    db.add(expired)
    await db.commit()
    history = await _get(client, world, url)
    states = dict(
        re.findall(
            r'<tr data-consent="([^"]+)">.*?<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>',
            history.text,
            flags=re.S,
        )
    )
    assert "in force" in states[str(world.consent.id)]
    assert states[str(consent.id)].startswith("withdrawn")
    assert states[str(expired.id)] == "expired"


async def test_another_wards_patient_is_an_audited_404_on_every_page(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    base = f"/board/patients/{world.patient.id}"
    pages = ("goals", f"goals/{world.goal.id}", "plan", "plan/print", "consents")
    for path in pages:
        response = await _get(client, world, f"{base}/{path}", role=OTHER_STAFF)
        assert response.status_code == 404, path
        assert world.patient.family_name not in response.text
    posted = await _post(
        client, world, f"{base}/plan", {"early_warning_signs": "x"}, role=OTHER_STAFF
    )
    assert posted.status_code == 404
    denied = await _count(
        db,
        AuditEvent,
        AuditEvent.actor_id == world.users[OTHER_STAFF].id,
        AuditEvent.outcome == "denied",
        AuditEvent.patient_id == world.patient.id,
    )
    assert denied == len(pages) + 1
    assert await _count(db, RelapsePreventionPlan, RelapsePreventionPlan.version > 1) == 0


async def test_another_patients_consent_is_an_audited_404_to_confirm_or_withdraw(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    foreign = Consent(
        patient_id=world.other_patient.id,
        agency_id=world.agency.id,
        scope="full",
        given_at=clock.now() - timedelta(days=1),
        recorded_by_id=world.users[OTHER_STAFF].id,
        created_at=clock.now() - timedelta(days=1),
    )
    db.add(foreign)
    await db.commit()
    path = f"/patients/{world.patient.id}/consents/{foreign.id}/withdraw"

    confirm = await _get(client, world, f"/board{path}")
    page = await _post(client, world, f"/board{path}", {})
    api = await client.post(f"/api/v1{path}", headers=world.headers[STAFF])

    assert [r.status_code for r in (confirm, page, api)] == [404, 404, 404]
    await db.refresh(foreign)
    assert foreign.withdrawn_at is None
    denied = (
        await db.scalars(
            select(AuditEvent.action).where(
                AuditEvent.actor_id == world.users[STAFF].id,
                AuditEvent.outcome == "denied",
                AuditEvent.object_id == str(foreign.id),
            )
        )
    ).all()
    assert sorted(denied) == ["consent.read", "consent.withdraw", "consent.withdraw"]
