"""The ward board's pages over HTTP: every page route x every kind of caller (cookie sessions),
sign-in and sign-out, CSRF, escaping, ward time. The browser tests are in test_board_browser.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from api_tests import authz_matrix as matrix
from api_tests import builders
from api_tests.authz_matrix import (
    ADMIN,
    AGENCY,
    AGENCY_NO_CONSENT,
    ANON,
    MANAGER,
    OTHER_AGENCY,
    OTHER_STAFF,
    STAFF,
    World,
)
from api_tests.conftest import TEST_JWT_SECRET
from db.models import (
    Agency,
    AuditEvent,
    CheckIn,
    Consent,
    Episode,
    Escalation,
    FollowUp,
    FollowUpAttempt,
    Goal,
    GoalStatusChange,
    MessageTemplate,
    OnCallShift,
    OutboxMessage,
    Patient,
    Referral,
    RelapsePreventionPlan,
    ReplyToRead,
    SupportAction,
    User,
    Ward,
)
from service.app import create_app
from service.escalations.service import raise_escalation
from service.settings import Settings
from service.web.session import csrf_for

ROLES = (ADMIN, MANAGER, STAFF, OTHER_STAFF, AGENCY, AGENCY_NO_CONSENT, OTHER_AGENCY, ANON)
SESSION_COOKIE = "homeward_session"
LOGIN_CSRF_COOKIE = "homeward_login_csrf"  # set by the sign-in form, at its own path
LOGIN_PATH = "/board/login"
SIGN_IN = -303  # no session: a 303 redirect to the sign-in form (told apart from a form's 303)

PathFactory = Callable[[World], Awaitable[str]]
FormFactory = Callable[[World], Awaitable[dict[str, str]]]


@dataclass
class PageRule:
    method: str
    path: str  # Litestar's path_format, for the coverage check
    url: PathFactory  # a fresh concrete URL per request
    expect: dict[str, int]
    form: FormFactory | None = None
    # A change the page must have made (checked after each successful POST).
    done: Callable[[World], Awaitable[int]] | None = None
    # Call with a token of its own: the page ends the session it is called with (sign-out,
    # a password change), which must not sign the role out of the rules after it.
    own_session: bool = False


def outcome(*, ok: tuple[str, ...] = (), not_found: tuple[str, ...] = (), ok_status: int = 200):
    result = dict.fromkeys(ROLES, 403)
    result[ANON] = SIGN_IN
    for role in ok:
        result[role] = ok_status
    for role in not_found:
        result[role] = 404
    return result


async def fixed_form(values: dict[str, str]) -> dict[str, str]:
    return dict(values)


async def _constant(form: dict[str, str]) -> dict[str, str]:
    return form


def fixed(url: str) -> PathFactory:
    async def make(w: World) -> str:
        return url

    return make


async def patient_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}"


async def live_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/live"


async def referrals_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/referrals"


async def fresh_escalation_url(w: World, action: str) -> str:
    row = await raise_escalation(
        w.db,
        patient_id=w.patient.id,
        ward_id=w.ward.id,
        reason="agency_concern",
        severity="urgent",
        source_type="page-matrix",
        source_id=uuid.uuid4(),
        now=w.now,
    )
    await w.db.commit()
    return f"/board/escalations/{row.id}/{action}"


async def ack_url(w: World) -> str:
    return await fresh_escalation_url(w, "acknowledge")


async def resolve_url(w: World) -> str:
    return await fresh_escalation_url(w, "resolve")


async def attempt_url(w: World) -> str:
    _, follow_up = await builders.past_stay(
        w.db,
        w.patient.id,
        admitted_at=w.now - timedelta(days=30),
        discharged_at=w.now - timedelta(hours=10),
    )
    assert follow_up is not None
    return f"/board/patients/{w.patient.id}/follow-ups/{follow_up.id}/attempts"


async def referral_form(w: World) -> dict[str, str]:
    agency = await builders.agency(w.db)  # a new agency each time: no duplicate referral
    # No consent to share with a new agency yet: given with the referral (the send rule).
    return {
        "agency_id": str(agency.id),
        "reason": "Housing support after discharge",
        "consent": "plan",
    }


async def attempt_form(w: World) -> dict[str, str]:
    return {"occurred_at": "2026-12-01T08:30", "method": "phone", "successful": "no"}


async def resolve_form(w: World) -> dict[str, str]:
    return {
        "resolution_outcome": "contacted_patient_safe",
        "resolution_note": "Spoke with the patient; safe.",
    }


async def password_form(w: World) -> dict[str, str]:
    new = "a brand new passphrase"
    return {"current_password": builders.PASSWORD, "new_password": new, "confirm_password": new}


async def goals_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/goals"


async def goal_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/goals/{w.ward_goal.id}"


async def goal_status_url(w: World) -> str:
    # A fresh open goal each time, so every allowed change is a change (one history row).
    row = await builders.goal(w.db, w.patient.id, at=w.now, status="active")
    return f"/board/patients/{w.patient.id}/goals/{row.id}/status"


async def plan_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/plan"


async def plan_print_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/plan/print"


async def consents_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/consents"


async def withdraw_url(w: World) -> str:
    row = await builders.consent(
        w.db, w.patient.id, w.agency.id, w.users[STAFF].id, given_at=w.now - timedelta(hours=1)
    )
    return f"/board/patients/{w.patient.id}/consents/{row.id}/withdraw"


async def goal_form(w: World) -> dict[str, str]:
    return {"domain": "housing", "description": "A tenancy of my own", "status": "proposed"}


async def goal_edit_form(w: World) -> dict[str, str]:
    return {"domain": "housing", "description": "A tenancy near my sister", "target_date": ""}


async def goal_status_form(w: World) -> dict[str, str]:
    return {"status": "on_hold"}


async def plan_form(w: World) -> dict[str, str]:
    return {
        "early_warning_signs": "Not sleeping\nSkipping meals",
        "crisis_contacts[0].name": "Jo Hill",
        "crisis_contacts[0].relationship": "sister",
        "crisis_contacts[0].phone": "07911 123457",
    }


async def consent_form(w: World) -> dict[str, str]:
    return {"agency_id": str(w.agency.id), "scope": "plan"}


async def _withdrawn(w: World) -> int:
    query = select(func.count()).select_from(Consent).where(Consent.withdrawn_at.is_not(None))
    return int(await w.db.scalar(query) or 0)


async def account_password_form(w: World) -> dict[str, str]:
    new = "another new passphrase here"
    # After the rule of POST /board/password, which set password_form's passphrase.
    return {
        "current_password": "a brand new passphrase",
        "new_password": new,
        "confirm_password": new,
    }


def refreshed(url: str) -> PathFactory:
    """A fixed URL, after re-reading every user: a rule before it moved their token version."""

    async def make(w: World) -> str:
        for who in w.users.values():
            await w.db.refresh(who)
        return url

    return make


async def _count(w: World, model: Any) -> int:
    return int(await w.db.scalar(select(func.count()).select_from(model)) or 0)


async def _where(w: World, *conditions: Any) -> int:
    return int(await w.db.scalar(select(func.count()).where(*conditions)) or 0)


def patient_page(slug: str) -> PathFactory:
    async def make(w: World) -> str:
        return f"/board/patients/{w.patient.id}/{slug}"

    return make


def home_patient_page(slug: str) -> PathFactory:
    """A fresh patient of the ward at home who may be texted (one per request)."""

    async def make(w: World) -> str:
        patient = await builders.home_patient(w.db, w.ward.id)
        await w.db.commit()
        return f"/board/patients/{patient.id}/{slug}"

    return make


async def cancel_check_in_url(w: World) -> str:
    check_in_id = await matrix.fresh_check_in(w, STAFF)
    return f"/board/patients/{w.patient.id}/check-ins/{check_in_id}/cancel"


async def read_reply_url(w: World) -> str:
    reply_id = await matrix.fresh_reply()(w, STAFF)
    return f"/board/patients/{w.patient.id}/replies/{reply_id}/read"


async def extra_check_in_form(w: World) -> dict[str, str]:
    return {"due_at": "2026-12-03T10:00", "reply_window_minutes": "", "reminder_after_minutes": ""}


async def schedule_form(w: World) -> dict[str, str]:
    return {
        "offsets_hours": "24, 48, 72",
        "reply_window_minutes": "240",
        "reminder_after_minutes": "120",
        "active": "yes",
    }


async def message_form(w: World) -> dict[str, str]:
    return {"body": "Please ring the ward when you can."}


async def stop_form(w: World) -> dict[str, str]:
    return {"confirm": "yes"}


async def details_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/details"


async def stays_url(w: World) -> str:
    return f"/board/patients/{w.patient.id}/stays"


async def new_patient_form(w: World) -> dict[str, str]:
    return {
        "nhs_number": builders.nhs_number(),
        "given_name": "Robin",
        "family_name": "Page",
        "date_of_birth": "1990-02-03",
        "contact_window_start": "09:00",
        "contact_window_end": "20:00",
        "language": "en",
        "timezone": "Europe/London",
    }


async def details_form(w: World) -> dict[str, str]:
    return {
        "mobile": "07911 123458",
        "timezone": "Europe/London",
        "contact_window_start": "10:00",
        "contact_window_end": "19:00",
        "language": "en",
        "sms_consent": "yes",
    }


async def close_url(w: World) -> str:
    at_home = await builders.home_patient(w.db, w.ward.id)  # a fresh record to close each time
    return f"/board/patients/{at_home.id}/close"


async def admit_url(w: World) -> str:
    at_home = await builders.home_patient(w.db, w.ward.id)
    return f"/board/patients/{at_home.id}/stays/admit"


async def discharge_url(w: World) -> str:
    on_ward = await builders.patient(w.db, w.ward.id)
    return f"/board/patients/{on_ward.id}/stays/discharge"


async def _closed(w: World) -> int:
    query = select(func.count()).select_from(Patient).where(Patient.status == "closed")
    return int(await w.db.scalar(query) or 0)


# The manager's ward page, the audit log and the admins' pages (test_ward_pages_admin.py).
MANAGER_OR_ADMIN = (MANAGER, ADMIN)


def ward_page(suffix: str = "") -> PathFactory:
    async def make(w: World) -> str:
        return f"/board/ward{suffix}?ward_id={w.ward.id}"

    return make


async def _fresh_nurse(w: World) -> User:
    return await builders.user(w.db, "ward_staff", ward_id=w.ward.id, mobile=builders.mobile())


async def _fresh_shift(w: World) -> OnCallShift:
    nurse = await _fresh_nurse(w)
    shift = OnCallShift(
        ward_id=w.ward.id,
        user_id=nurse.id,
        starts_at=w.now,
        ends_at=w.now + timedelta(hours=8),
        created_by=nurse.id,
        created_at=w.now,
    )
    w.db.add(shift)
    await w.db.commit()
    return shift


async def shift_remove_url(w: World) -> str:
    return f"/board/ward/on-call/{(await _fresh_shift(w)).id}/remove?ward_id={w.ward.id}"


async def ward_settings_form(w: World) -> dict[str, str]:
    # A new name each time: every success is one audited change.
    return {
        "name": f"Renamed {uuid.uuid4().hex[:8]}",
        "timezone": "Europe/London",
        "crisis_message": "Call 111 and choose the mental health option.",
        "escalation_policy.read_minutes": "60",
        "escalation_policy.staff_email": "fallback",
        "escalation_policy.resolve_minutes.urgent": "240",
        "escalation_policy.resolve_minutes.routine": "1440",
        **{
            f"escalation_policy.ack_minutes.urgent.{n}": str(m)
            for n, m in ((1, 15), (2, 30), (3, 60))
        },
        **{
            f"escalation_policy.ack_minutes.routine.{n}": str(m)
            for n, m in ((1, 240), (2, 480), (3, 1440))
        },
    }


async def shift_form(w: World) -> dict[str, str]:
    nurse = await _fresh_nurse(w)
    start = w.now + timedelta(days=1)
    return {
        "user_id": str(nurse.id),
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
    }


def _actions(action: str) -> Callable[[World], Awaitable[int]]:
    async def count(w: World) -> int:
        query = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.outcome == "allowed")
        )
        return int(await w.db.scalar(query) or 0)

    return count


async def fresh_user_url(w: World, suffix: str = "") -> str:
    return f"/board/admin/users/{(await _fresh_nurse(w)).id}{suffix}"


def user_url(suffix: str = "") -> PathFactory:
    async def make(w: World) -> str:
        return await fresh_user_url(w, suffix)

    return make


def agency_url(suffix: str = "") -> PathFactory:
    async def make(w: World) -> str:
        return f"/board/admin/agencies/{(await builders.agency(w.db)).id}{suffix}"

    return make


async def new_user_form(w: World) -> dict[str, str]:
    return {
        "full_name": "New Person",
        "email": f"new-{uuid.uuid4().hex[:10]}@example.org",
        "role": "ward_staff",
        "ward_id": str(w.ward.id),
        "password": "a long enough passphrase",
    }


async def user_edit_form(w: World) -> dict[str, str]:
    return {
        "full_name": "Changed Name",
        "email": f"c-{uuid.uuid4().hex[:10]}@example.org",
        "role": "ward_staff",
        "ward_id": str(w.ward.id),
    }


async def new_agency_form(w: World) -> dict[str, str]:
    return {"name": f"Agency {uuid.uuid4().hex[:8]}", "kind": "housing"}


async def new_ward_form(w: World) -> dict[str, str]:
    return {"name": f"Ward {uuid.uuid4().hex[:8]}", "timezone": "Europe/London"}


def agency_referral_url(status: str, action: str = "") -> PathFactory:
    """A fresh referral of `patient` to `agency` (consent in force) per request."""

    async def make(w: World) -> str:
        row = await builders.referral(
            w.db, w.patient.id, w.agency.id, w.users[STAFF].id, at=w.now, status=status
        )
        return f"/board/agency/referrals/{row.id}" + (f"/{action}" if action else "")

    return make


def referrals_in(status: str) -> Callable[[World], Awaitable[int]]:
    async def count(w: World) -> int:
        query = select(func.count()).select_from(Referral).where(Referral.status == status)
        return int(await w.db.scalar(query) or 0)

    return count


async def support_action_url(w: World) -> str:
    return f"/board/agency/patients/{w.patient.id}/support-actions"


async def concerns_url(w: World) -> str:
    return f"/board/agency/patients/{w.patient.id}/concerns"


async def decline_form(w: World) -> dict[str, str]:
    return {"reason": "No capacity this month"}


async def support_action_form(w: World) -> dict[str, str]:
    return {"kind": "phone_call", "occurred_at": "", "note": "Talked about the tenancy."}


async def concern_form(w: World) -> dict[str, str]:
    return {"note": "Not at home for two visits.", "urgent": "yes"}


async def template_url(w: World) -> str:
    return f"/board/ward/message-templates/checkin.prompt/pl?ward_id={w.ward.id}"


async def template_form(w: World) -> dict[str, str]:
    # New words each time: the same words again are no new version.
    return {"body": f"Cześć {uuid.uuid4().hex[:6]}! $question", "action": "save"}


async def template_delete_url(w: World) -> str:
    language = f"pl-x{uuid.uuid4().hex[:6]}"
    w.db.add(
        MessageTemplate(
            ward_id=w.ward.id,
            purpose="checkin.prompt",
            language=language,
            version=1,
            body="Hej! $question",
            created_at=w.now,
        )
    )
    await w.db.commit()
    return f"/board/ward/message-templates/checkin.prompt/{language}/delete?ward_id={w.ward.id}"


async def open_template_form(w: World) -> dict[str, str]:
    return {"purpose": "checkin.prompt", "language": "pl"}


async def confirm_url(w: World) -> str:
    return f"/board/ward/message-templates/languages/cy/confirm?ward_id={w.ward.id}"


async def records_url(w: World) -> str:
    return f"/board/outcomes/records?measure=follow_up&ward_id={w.ward.id}&period=2026-11-01"


async def adopt_form(w: World) -> dict[str, str]:
    # A preview (no confirm): shows what would change, changes nothing.
    return {
        "ward_id": str(w.ward.id),
        "from_ward_id": str(w.other_ward.id),
        "setting": "check_in_schedule",
        "measure": "follow_up",
    }


async def you_said_form(w: World) -> dict[str, str]:
    return {
        "ward_id": str(w.ward.id),
        "heard": "Hard to reach the ward",
        "changed": "A direct line",
        "changed_on": "2026-11-30",
        "answers": "",
    }


WARD_OF_PATIENT = (MANAGER, STAFF)
ALL_WARD = (MANAGER, STAFF, OTHER_STAFF)
ALL_AGENCY = (AGENCY, AGENCY_NO_CONSENT, OTHER_AGENCY)

PAGE_RULES: list[PageRule] = [
    PageRule("GET", "/board/login", fixed("/board/login"), dict.fromkeys(ROLES, 200)),
    PageRule("GET", "/board", fixed("/board"), outcome(ok=ALL_WARD)),
    PageRule(
        "GET",
        "/board/home",
        fixed("/board/home"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY), ok_status=303),
    ),
    PageRule("GET", "/board/live", fixed("/board/live"), outcome(ok=ALL_WARD)),
    PageRule("GET", "/board/search", fixed("/board/search?q=3F2A-9C1B"), outcome(ok=ALL_WARD)),
    PageRule(
        "GET",
        "/board/outcomes",
        fixed("/board/outcomes"),
        outcome(ok=(*ALL_WARD, ADMIN)),
    ),
    PageRule(
        "GET",
        "/board/outcomes/chart",
        fixed("/board/outcomes/chart?measure=follow_up"),
        outcome(ok=(*ALL_WARD, ADMIN)),
    ),
    PageRule(
        "GET",
        "/board/outcomes/series.csv",
        fixed("/board/outcomes/series.csv?measure=follow_up"),
        outcome(ok=(*ALL_WARD, ADMIN)),
    ),
    PageRule(
        "GET",
        "/board/outcomes/records",
        records_url,
        outcome(ok=(ADMIN, *WARD_OF_PATIENT), not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/outcomes/adopt",
        fixed("/board/outcomes/adopt"),
        outcome(ok=(ADMIN, MANAGER), not_found=(OTHER_STAFF,)),
        form=adopt_form,
    ),
    PageRule(
        "GET",
        "/board/outcomes/listening",
        fixed("/board/outcomes/listening"),
        outcome(ok=(*ALL_WARD, ADMIN)),
    ),
    PageRule(
        "POST",
        "/board/outcomes/listening",
        fixed("/board/outcomes/listening"),
        outcome(ok=(ADMIN, MANAGER), not_found=(OTHER_STAFF,), ok_status=303),
        form=you_said_form,
    ),
    PageRule("GET", "/board/agency", fixed("/board/agency"), outcome(ok=ALL_AGENCY)),
    PageRule(
        "GET",
        "/board/patients/{patient_id}",
        patient_url,
        outcome(
            ok=(*WARD_OF_PATIENT, AGENCY), not_found=(OTHER_STAFF, *matrix.NOT_AGENCY_OF_PATIENT)
        ),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/live",
        live_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "GET",
        "/board/static/{file_path}",
        fixed("/board/static/board.css"),
        dict.fromkeys(ROLES, 200),
    ),
    PageRule(
        "POST",
        "/board/logout",
        fixed("/board/logout"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY), ok_status=303),
        own_session=True,
    ),
    PageRule(
        "GET",
        "/board/password",
        fixed("/board/password"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY)),
    ),
    PageRule("GET", "/board/login/code", fixed("/board/login/code"), dict.fromkeys(ROLES, SIGN_IN)),
    PageRule(
        "GET",
        "/board/account",
        fixed("/board/account"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY)),
    ),
    PageRule(
        "GET",
        "/board/account/password",
        fixed("/board/account/password"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY)),
    ),
    PageRule(
        "GET",
        "/board/account/totp",
        fixed("/board/account/totp"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY)),
    ),
    # A code that is no code: the form comes back refused, for every user (nothing changes).
    PageRule(
        "POST",
        "/board/account/totp",
        fixed("/board/account/totp"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY), ok_status=422),
        form=lambda w: _constant({"totp_code": "not-a-code"}),
    ),
    # Nobody's session: not found for everyone (another user's session is tested to 404 too).
    PageRule(
        "POST",
        "/board/account/sessions/{session_id}/end",
        fixed(f"/board/account/sessions/{uuid.uuid4().hex}/end"),
        outcome(not_found=(ADMIN, *ALL_WARD, *ALL_AGENCY)),
    ),
    PageRule(
        "POST",
        "/board/escalations/{escalation_id}/acknowledge",
        ack_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
    ),
    PageRule(
        "POST",
        "/board/escalations/{escalation_id}/resolve",
        resolve_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=resolve_form,
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/follow-ups/{follow_up_id}/attempts",
        attempt_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=attempt_form,
        done=lambda w: _count(w, FollowUpAttempt),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/referrals",
        referrals_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=referral_form,
        done=lambda w: _count(w, Referral),
    ),
    # A patient's goals, plan and consents (service/web/patient_goals.py, patient_plan.py,
    # patient_consents.py): ward staff of the patient's ward only.
    PageRule(
        "GET",
        "/board/patients/{patient_id}/goals",
        goals_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/goals",
        goals_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=goal_form,
        done=lambda w: _count(w, Goal),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/goals/{goal_id}",
        goal_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/goals/{goal_id}",
        goal_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=goal_edit_form,
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/goals/{goal_id}/status",
        goal_status_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=goal_status_form,
        done=lambda w: _count(w, GoalStatusChange),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/plan",
        plan_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/plan",
        plan_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=plan_form,
        done=lambda w: _count(w, RelapsePreventionPlan),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/plan/print",
        plan_print_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/consents",
        consents_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/consents",
        consents_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=consent_form,
        done=lambda w: _count(w, Consent),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/consents/{consent_id}/withdraw",
        withdraw_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/consents/{consent_id}/withdraw",
        withdraw_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        done=_withdrawn,
    ),
    # The patient's check-ins and conversation pages (service/web/check_ins.py, conversation.py).
    *(
        PageRule(
            "GET",
            f"/board/patients/{{patient_id}}/{slug}",
            patient_page(slug),
            outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
        )
        for slug in ("check-ins", "check-ins/schedule", "conversation", "conversation/live")
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/check-ins",
        home_patient_page("check-ins"),
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=extra_check_in_form,
        done=lambda w: _where(w, CheckIn.kind == "extra"),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/check-ins/{check_in_id}/cancel",
        cancel_check_in_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        done=lambda w: _where(w, CheckIn.status == "cancelled"),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/check-ins/schedule",
        patient_page("check-ins/schedule"),
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=schedule_form,
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/messages",
        home_patient_page("messages"),
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=message_form,
        done=lambda w: _count(w, OutboxMessage),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/replies/{reply_id}/read",
        read_reply_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        done=lambda w: _where(w, ReplyToRead.status == "read"),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/stop-texting",
        home_patient_page("stop-texting"),
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=stop_form,
        done=lambda w: _where(w, Patient.sms_consent.is_(False)),
    ),
    # The ward's patient pages (service/web/ward_patients.py).
    PageRule("GET", "/board/patients", fixed("/board/patients?name=Fam"), outcome(ok=ALL_WARD)),
    PageRule("GET", "/board/patients/new", fixed("/board/patients/new"), outcome(ok=ALL_WARD)),
    PageRule(
        "POST",
        "/board/patients/new",
        fixed("/board/patients/new"),
        outcome(ok=ALL_WARD, ok_status=303),
        form=new_patient_form,
        done=lambda w: _count(w, Patient),
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/details",
        details_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/details",
        details_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=details_form,
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/close",
        close_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=lambda w: fixed_form({"confirm": "yes"}),
        done=_closed,
    ),
    PageRule(
        "GET",
        "/board/patients/{patient_id}/stays",
        stays_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,)),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/stays/admit",
        admit_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=lambda w: fixed_form({"admitted_at": "2026-12-01T08:00"}),
        done=lambda w: _count(w, Episode),
    ),
    PageRule(
        "POST",
        "/board/patients/{patient_id}/stays/discharge",
        discharge_url,
        outcome(ok=WARD_OF_PATIENT, not_found=(OTHER_STAFF,), ok_status=303),
        form=lambda w: fixed_form({"discharged_at": "2026-12-01T08:30", "suicide_risk": "yes"}),
        done=lambda w: _count(w, FollowUp),
    ),
    PageRule("GET", "/board/ward", ward_page(), outcome(ok=MANAGER_OR_ADMIN)),
    PageRule(
        "POST",
        "/board/ward/settings",
        ward_page("/settings"),
        outcome(ok=MANAGER_OR_ADMIN, ok_status=303),
        form=ward_settings_form,
        done=_actions("ward.update"),
    ),
    PageRule(
        "POST",
        "/board/ward/on-call",
        ward_page("/on-call"),
        outcome(ok=MANAGER_OR_ADMIN, ok_status=303),
        form=shift_form,
        done=lambda w: _count(w, OnCallShift),
    ),
    PageRule(
        "GET",
        "/board/ward/on-call/{shift_id}/remove",
        shift_remove_url,
        outcome(ok=MANAGER_OR_ADMIN),
    ),
    PageRule(
        "POST",
        "/board/ward/on-call/{shift_id}/remove",
        shift_remove_url,
        outcome(ok=MANAGER_OR_ADMIN, ok_status=303),
        done=_actions("ward.on_call.remove"),
    ),
    PageRule("GET", "/board/audit", fixed("/board/audit"), outcome(ok=MANAGER_OR_ADMIN)),
    PageRule("GET", "/board/audit.csv", fixed("/board/audit.csv"), outcome(ok=MANAGER_OR_ADMIN)),
    PageRule("GET", "/board/admin/wards", fixed("/board/admin/wards"), outcome(ok=(ADMIN,))),
    PageRule(
        "POST",
        "/board/admin/wards",
        fixed("/board/admin/wards"),
        outcome(ok=(ADMIN,), ok_status=303),
        form=new_ward_form,
        done=lambda w: _count(w, Ward),
    ),
    PageRule("GET", "/board/admin/users", fixed("/board/admin/users"), outcome(ok=(ADMIN,))),
    PageRule(
        "POST",
        "/board/admin/users",
        fixed("/board/admin/users"),
        outcome(ok=(ADMIN,), ok_status=303),
        form=new_user_form,
        done=lambda w: _count(w, User),
    ),
    PageRule("GET", "/board/admin/users/{user_id}", user_url(), outcome(ok=(ADMIN,))),
    PageRule(
        "POST",
        "/board/admin/users/{user_id}",
        user_url(),
        outcome(ok=(ADMIN,), ok_status=303),
        form=user_edit_form,
    ),
    PageRule(
        "GET",
        "/board/admin/users/{user_id}/deactivate",
        user_url("/deactivate"),
        outcome(ok=(ADMIN,)),
    ),
    PageRule(
        "POST",
        "/board/admin/users/{user_id}/deactivate",
        user_url("/deactivate"),
        outcome(ok=(ADMIN,), ok_status=303),
    ),
    PageRule(
        "POST",
        "/board/admin/users/{user_id}/activate",
        user_url("/activate"),
        outcome(ok=(ADMIN,), ok_status=303),
    ),
    PageRule(
        "POST",
        "/board/admin/users/{user_id}/password-reset",
        user_url("/password-reset"),
        outcome(ok=(ADMIN,)),
    ),
    PageRule("GET", "/board/admin/agencies", fixed("/board/admin/agencies"), outcome(ok=(ADMIN,))),
    PageRule(
        "POST",
        "/board/admin/agencies",
        fixed("/board/admin/agencies"),
        outcome(ok=(ADMIN,), ok_status=303),
        form=new_agency_form,
        done=lambda w: _count(w, Agency),
    ),
    PageRule("GET", "/board/admin/agencies/{agency_id}", agency_url(), outcome(ok=(ADMIN,))),
    PageRule(
        "POST",
        "/board/admin/agencies/{agency_id}",
        agency_url(),
        outcome(ok=(ADMIN,), ok_status=303),
        form=new_agency_form,
    ),
    PageRule(
        "GET",
        "/board/admin/agencies/{agency_id}/deactivate",
        agency_url("/deactivate"),
        outcome(ok=(ADMIN,)),
    ),
    PageRule(
        "POST",
        "/board/admin/agencies/{agency_id}/deactivate",
        agency_url("/deactivate"),
        outcome(ok=(ADMIN,), ok_status=303),
    ),
    # -- the agency workspace: only the referred agency with consent; others an audited 404
    PageRule(
        "GET",
        "/board/agency/referrals/{referral_id}",
        agency_referral_url("pending"),
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY)),
    ),
    PageRule(
        "POST",
        "/board/agency/referrals/{referral_id}/accept",
        agency_referral_url("pending", "accept"),
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY), ok_status=303),
        done=referrals_in("accepted"),
    ),
    PageRule(
        "POST",
        "/board/agency/referrals/{referral_id}/decline",
        agency_referral_url("pending", "decline"),
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY), ok_status=303),
        form=decline_form,
        done=referrals_in("declined"),
    ),
    PageRule(
        "POST",
        "/board/agency/referrals/{referral_id}/complete",
        agency_referral_url("accepted", "complete"),
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY), ok_status=303),
        done=referrals_in("completed"),
    ),
    PageRule(
        "POST",
        "/board/agency/patients/{patient_id}/support-actions",
        support_action_url,
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY), ok_status=303),
        form=support_action_form,
        done=lambda w: _count(w, SupportAction),
    ),
    PageRule(
        "GET",
        "/board/agency/patients/{patient_id}/concerns",
        concerns_url,
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY)),
    ),
    PageRule(
        "POST",
        "/board/agency/patients/{patient_id}/concerns",
        concerns_url,
        outcome(ok=(AGENCY,), not_found=(AGENCY_NO_CONSENT, OTHER_AGENCY), ok_status=303),
        form=concern_form,
        done=lambda w: _count(w, Escalation),
    ),
    PageRule(
        "GET",
        "/board/ward/message-templates",
        fixed("/board/ward/message-templates"),
        outcome(ok=(ADMIN, *ALL_WARD)),
    ),
    PageRule(
        "GET",
        "/board/ward/message-templates/{purpose}/{language}",
        fixed("/board/ward/message-templates/crisis.reply/cy"),
        outcome(ok=(ADMIN, *ALL_WARD)),
    ),
    PageRule(
        "POST",
        "/board/ward/message-templates/{purpose}/{language}",
        template_url,
        outcome(ok=(ADMIN, MANAGER), not_found=(OTHER_STAFF,), ok_status=303),
        form=template_form,
        done=lambda w: _count(w, MessageTemplate),
    ),
    PageRule(
        "POST",
        "/board/ward/message-templates/open",
        fixed("/board/ward/message-templates/open"),
        outcome(ok=(ADMIN, *ALL_WARD), ok_status=303),
        form=open_template_form,
    ),
    PageRule(
        "POST",
        "/board/ward/message-templates/{purpose}/{language}/delete",
        template_delete_url,
        outcome(ok=(ADMIN, MANAGER), not_found=(OTHER_STAFF,), ok_status=303),
        done=lambda w: _count(w, MessageTemplate),
    ),
    PageRule(
        "POST",
        "/board/ward/message-templates/languages/{language}/confirm",
        confirm_url,
        outcome(ok=(ADMIN, MANAGER), not_found=(OTHER_STAFF,), ok_status=303),
    ),
    # Last: a password change ends every token the user holds, the world's too.
    PageRule(
        "POST",
        "/board/password",
        fixed("/board/password"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY), ok_status=303),
        form=password_form,
        own_session=True,
    ),
    # These end every other token of the user too (a fresh one for the page's own session).
    PageRule(
        "POST",
        "/board/account/password",
        refreshed("/board/account/password"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY), ok_status=303),
        form=account_password_form,
        own_session=True,
    ),
    PageRule(
        "POST",
        "/board/account/sign-out-everywhere",
        refreshed("/board/account/sign-out-everywhere"),
        outcome(ok=(ADMIN, *ALL_WARD, *ALL_AGENCY), ok_status=303),
        own_session=True,
    ),
]


# POST /board/login is public and has its own tests below (it is the way in, not a page).
PUBLIC_ENTRY = {("POST", "/board/login"), ("POST", "/board/login/code")}


def session_headers(w: World, role: str) -> dict[str, str]:
    if role == ANON:
        return {}
    token = w.headers[role]["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


def csrf_of(w: World, role: str) -> str:
    if role == ANON:
        return ""
    token = w.headers[role]["Authorization"].removeprefix("Bearer ")
    return csrf_for(TEST_JWT_SECRET, token)


def test_every_page_route_has_a_page_rule():
    app = create_app(
        Settings(database_url="postgresql://unused@localhost/unused", jwt_secret="x" * 32)
    )
    pages = matrix.page_operations(app)
    ruled = {(r.method, r.path) for r in PAGE_RULES} | PUBLIC_ENTRY
    assert pages, "the page routes are mounted"
    assert sorted(pages - ruled) == []
    assert sorted(ruled - pages) == []
    # ... and none of them leaks into the bearer matrix or the OpenAPI document.
    assert not any(path.startswith("/board") for _, path in matrix.app_operations(app))
    assert not any(p.startswith("/board") for p in app.openapi_schema.paths or {})


async def test_page_matrix(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    failures: list[str] = []
    for rule in PAGE_RULES:
        for role in ROLES:
            url = await rule.url(world)
            session = world
            if rule.own_session and role != ANON:
                own = builders.bearer(app, world.users[role])
                session = replace(world, headers={**world.headers, role: own})
            headers = session_headers(session, role)
            before = await rule.done(world) if rule.done else 0
            if rule.method == "GET":
                response = await client.get(url, headers=headers, follow_redirects=False)
            else:
                form = dict(await rule.form(world)) if rule.form else {}
                form["csrf_token"] = csrf_of(session, role)
                response = await client.post(
                    url, data=form, headers=headers, follow_redirects=False
                )
            client.cookies.clear()  # a page that sets a session must not sign in the next role
            want = rule.expect[role]
            if want == SIGN_IN:
                if (response.status_code, response.headers.get("location")) != (
                    303,
                    "/board/login",
                ):
                    failures.append(f"{rule.method} {rule.path} as {role}: not sent to sign-in")
                continue
            if response.status_code != want:
                failures.append(
                    f"{rule.method} {rule.path} as {role}: {response.status_code} != {want}"
                )
                continue
            if rule.done and rule.method == "POST":
                changed = (await rule.done(world)) - before
                if changed != (1 if want == 303 else 0):
                    failures.append(f"{rule.method} {rule.path} as {role}: {changed} rows changed")
    assert failures == [], "\n".join(failures)


async def test_agency_worker_gets_404_for_another_agencys_patient_and_it_is_audited(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    url = f"/board/patients/{world.patient.id}"
    response = await client.get(url, headers=session_headers(world, OTHER_AGENCY))
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert world.patient.family_name not in response.text
    denied = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.actor_id == world.users[OTHER_AGENCY].id,
            AuditEvent.outcome == "denied",
            AuditEvent.patient_id == world.patient.id,
        )
    )
    assert denied == 1


async def _sign_in(client, who: User, password: str = builders.PASSWORD):
    form = await client.get("/board/login")
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    return await client.post(
        "/board/login",
        data={"email": who.email, "password": password, "login_csrf": login_csrf},
        follow_redirects=False,
    )


async def test_sign_in_sets_a_strict_httponly_cookie_and_sign_out_clears_it(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)

    signed_in = await _sign_in(client, nurse)

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/board"
    cookie = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/board" in cookie
    assert "Secure" not in cookie  # plain http in tests; https requests get Secure
    board = await client.get("/board")
    assert board.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', board.text).group(1)

    out = await client.post("/board/logout", data={"csrf_token": csrf}, follow_redirects=False)

    assert out.status_code == 303
    assert (await client.get("/board", follow_redirects=False)).status_code == 303


async def test_sign_in_removes_the_sign_in_form_cookie_where_it_was_set(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)

    form = await client.get("/board/login")
    signed_in = await _sign_in(client, nurse)

    [set_at] = [h for h in form.headers.get_list("set-cookie") if h.startswith(LOGIN_CSRF_COOKIE)]
    [removed] = [
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith(LOGIN_CSRF_COOKIE)
    ]
    # A browser removes a cookie only when name and path both match the one it holds.
    assert f"Path={LOGIN_PATH};" in set_at + ";"
    assert f"Path={LOGIN_PATH};" in removed + ";"
    assert "Max-Age=0" in removed


async def test_wrong_password_and_forged_sign_in_form_are_refused(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)

    wrong = await _sign_in(client, nurse, password="not the password")
    assert wrong.status_code == 401
    assert "Email or password is not correct" in wrong.text

    client.cookies.clear()
    forged = await client.post(
        "/board/login",
        data={"email": nurse.email, "password": builders.PASSWORD, "login_csrf": "guess"},
        follow_redirects=False,
    )
    assert forged.status_code == 403


async def test_a_deactivated_user_is_signed_out_at_once(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    assert (await _sign_in(client, nurse)).status_code == 303
    assert (await client.get("/board")).status_code == 200

    nurse.active = False
    await db.commit()

    page = await client.get("/board", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/board/login")
    fragment = await client.get("/board/live", headers={"X-Homeward-Fragment": "1"})
    assert fragment.status_code == 401


async def test_forms_without_the_csrf_token_change_nothing(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    url = await ack_url(world)
    headers = session_headers(world, STAFF)

    for token in ("", "x" * 64, csrf_of(world, MANAGER)):
        response = await client.post(
            url, data={"csrf_token": token}, headers=headers, follow_redirects=False
        )
        assert response.status_code == 403, token

    escalation_id = uuid.UUID(url.split("/")[3])
    row = await db.get(Escalation, escalation_id)
    assert row is not None and row.status == "open"


async def test_session_cookie_does_not_authenticate_the_api_nor_bearer_the_pages(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    api = await client.get("/api/v1/me", headers=session_headers(world, STAFF))
    assert api.status_code == 401
    page = await client.get("/board", headers=world.headers[STAFF], follow_redirects=False)
    assert page.status_code == 303


async def test_names_are_escaped_and_times_shown_in_the_wards_zone(app, client, db, clock):
    ward = await builders.ward(db, timezone="America/New_York")
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(
        db, ward.id, given_name="<script>alert(1)</script>", family_name="O'Brien & Co"
    )
    await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=ward.id,
        reason="help_request",
        severity="urgent",
        source_type="test",
        source_id=uuid.uuid4(),
        now=clock.now(),  # 09:00 UTC is 04:00 in New York
    )
    await db.commit()
    headers = {"Cookie": f"{SESSION_COOKIE}={builders.bearer(app, nurse)['Authorization'][7:]}"}

    board = await client.get("/board", headers=headers)

    assert board.status_code == 200
    assert "<script>alert(1)</script>" not in board.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in board.text
    assert "O&#39;Brien &amp; Co" in board.text
    assert "04:00" in board.text and "America/New_York" in board.text
    assert "15 min left" in board.text


async def test_resolving_needs_a_note(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    url = await resolve_url(world)
    response = await client.post(
        url,
        data={
            "csrf_token": csrf_of(world, STAFF),
            "resolution_outcome": "contacted_patient_safe",
            "resolution_note": "   ",
        },
        headers=session_headers(world, STAFF),
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "resolution_note" in response.text
    row = await db.get(Escalation, uuid.UUID(url.split("/")[3]))
    await db.refresh(row)
    assert row.status == "open"


async def test_outcomes_page_charts_the_ward_and_compares_wards_for_managers(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    patient = await builders.home_patient(db, world.ward.id)
    _, follow_up = await builders.past_stay(
        db,
        patient.id,
        admitted_at=clock.now() - timedelta(days=40),
        discharged_at=clock.now() - timedelta(days=10),
    )
    follow_up.status, follow_up.completed_at = "completed", clock.now() - timedelta(days=9)
    await db.commit()

    managers = await client.get("/board/outcomes", headers=session_headers(world, MANAGER))
    assert managers.status_code == 200
    assert "<svg" in managers.text and 'class="target"' in managers.text
    assert 'id="measures"' in managers.text
    assert 'id="compare"' in managers.text
    assert world.other_ward.name in managers.text

    staff = await client.get("/board/outcomes", headers=session_headers(world, STAFF))
    assert 'id="measures"' in staff.text and 'id="compare"' not in staff.text

    admin = await client.get(
        f"/board/outcomes?ward_id={world.other_ward.id}", headers=session_headers(world, ADMIN)
    )
    assert admin.status_code == 200
    assert f'<span class="sub">{world.other_ward.name}</span>' in admin.text


async def test_agency_home_lists_own_referrals_and_hides_unshared_patients(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())

    shared = await client.get("/board/agency", headers=session_headers(world, AGENCY))
    assert shared.status_code == 200
    assert world.patient.family_name in shared.text

    # A referral but no consent: only that a referral waits for consent (no name, no reason).
    unshared = await client.get("/board/agency", headers=session_headers(world, AGENCY_NO_CONSENT))
    assert unshared.status_code == 200
    assert 'id="waiting-consent"' in unshared.text
    assert world.patient.family_name not in unshared.text
    assert world.referral_no_consent.reason not in unshared.text


async def test_pages_are_not_cached_framed_or_open_to_inline_script(app, client, db, clock):
    world = await matrix.build_world(db, app, clock.now())
    for url in ("/board", "/board/login", f"/board/patients/{uuid.uuid4()}"):
        response = await client.get(url, headers=session_headers(world, STAFF))
        assert response.headers["cache-control"] == "no-store", url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], url
        assert "unsafe-inline" not in response.headers["content-security-policy"], url


async def test_cookies_are_secure_over_https_and_via_the_https_public_address(app, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as https:
        signed_in = await _sign_in(https, nurse)
    session = [h for h in signed_in.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    assert len(session) == 1 and "Secure" in session[0]
    # PUBLIC_BASE_URL is https://homeward.test: a TLS proxy may hand us plain http for it.
    async with AsyncTestClient(app=app, base_url="http://homeward.test") as proxied:
        form = await proxied.get("/board/login")
    assert "Secure" in form.headers["set-cookie"]


async def test_a_refused_form_comes_back_with_its_errors_and_what_was_typed(app, client, db, clock):
    """The forms convention (service/web/forms.py): 422, a linked summary, the message beside
    its field, the typed values kept, and nothing written."""
    world = await matrix.build_world(db, app, clock.now())
    url = await referrals_url(world)
    before = await db.scalar(select(func.count()).select_from(Referral))
    response = await client.post(
        url,
        data={
            "csrf_token": csrf_of(world, STAFF),
            "agency_id": str(world.agency.id),
            "goal_id": "",
            "reason": "   ",
        },
        headers=session_headers(world, STAFF),
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "data-error-summary" in response.text
    assert 'href="#f-reason"' in response.text
    assert 'id="f-reason-error"' in response.text
    assert "Reason is required" in response.text
    assert 'aria-describedby="f-reason-error"' in response.text
    assert f'<option value="{world.agency.id}" selected>' in response.text
    assert await db.scalar(select(func.count()).select_from(Referral)) == before


async def test_a_refused_you_said_we_did_comes_back_with_its_errors_and_what_was_typed(
    app, client, db, clock
):
    world = await matrix.build_world(db, app, clock.now())
    form = {**(await you_said_form(world)), "heard": "  ", "changed": "A direct line"}
    response = await client.post(
        "/board/outcomes/listening",
        data={**form, "csrf_token": csrf_of(world, MANAGER)},
        headers=session_headers(world, MANAGER),
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert 'href="#f-heard"' in response.text and "A direct line" in response.text
    r = await client.get(
        f"/api/v1/wards/{world.ward.id}/you-said-we-did",
        headers=world.headers[MANAGER],
    )
    assert r.json()["items"] == []
