"""The authorization matrix: every route of the app x every kind of caller -> expected outcome.

`test_authz_matrix.py` reads the route table from the app itself (`app.routes`), so a route
without a rule here fails the suite: adding a route means deciding who may call it.

How to extend (e.g. when another branch adds routes):
  1. Add a `Rule(method, path_format, expect(...), params=..., body=...)` to `RULES`.
     `path_format` is Litestar's (`/api/v1/patients/{patient_id}/goals`, no `:uuid`).
  2. `params` fill path placeholders; `body` and `query` build the request. Each is either a
     constant or an async factory `f(world, role)` called right before that role's request,
     so a state-changing route can get a fresh object per caller (see `fresh_referral`).
  3. `expect(ok=..., not_found=..., invalid=..., conflict=...)`: every authenticated role not
     named answers 403 (role may never do this); no token answers 401 unless `public=True`.
  4. `audits_denials=True` for patient data: each 404 must add a `denied` audit event.
  5. Extra rules with a `variant` name probe the same route with smuggled ids or fields.

Generic checks the runner applies to every cell: the status class matches; any non-2xx answer
leaves every table but the audit log and login attempts unchanged; and `check`, when given,
inspects the response (e.g. filters in the query string never widen what a caller sees).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.base import Base
from db.models import (
    Agency,
    AuditEvent,
    Carer,
    CheckIn,
    Consent,
    Goal,
    InboundMessage,
    MessageTemplate,
    OnCallShift,
    Patient,
    Referral,
    RelapsePreventionPlan,
    ReplyToRead,
    User,
    Ward,
)

# The callers every route is tried with.
ADMIN = "admin"
MANAGER = "ward_manager"
STAFF = "ward_staff"
OTHER_STAFF = "other_ward_staff"
AGENCY = "agency_with_consent"
AGENCY_NO_CONSENT = "agency_without_consent"
OTHER_AGENCY = "other_agency"
ANON = "no_token"

AUTHENTICATED = (ADMIN, MANAGER, STAFF, OTHER_STAFF, AGENCY, AGENCY_NO_CONSENT, OTHER_AGENCY)
ROLES = (*AUTHENTICATED, ANON)
WARD_OF_PATIENT = (MANAGER, STAFF)
ALL_WARD = (MANAGER, STAFF, OTHER_STAFF)
ALL_AGENCY = (AGENCY, AGENCY_NO_CONSENT, OTHER_AGENCY)
NOT_AGENCY_OF_PATIENT = (AGENCY_NO_CONSENT, OTHER_AGENCY)

OK = "2xx"
Outcome = str | int  # OK, or one exact status code

# Tables a refused request may still write to (the audit of the refusal itself).
MAY_CHANGE_ON_FAILURE = {"audit_events", "login_attempts", "job_heartbeats"}


@dataclass
class World:
    """One ward's small world: built once, and every rule runs on a copy of it.

    * `patient` is on `ward`; `other_ward` has its own staff.
    * `agency` has a pending referral of `patient` AND a consent in force (full scope).
    * `agency_no_consent` has a pending referral of `patient` but no consent.
    * `other_agency` has neither.
    * `patient` has goals owned by `agency` (`goal`), by `other_agency` (`other_goal`) and by
      nobody (`ward_goal`), and a relapse-prevention plan (`plan`).
    * `other_patient` is on `other_ward`, with a goal (`foreign_goal`).
    """

    db: AsyncSession
    now: datetime
    ward: Ward
    other_ward: Ward
    patient: Patient
    agency: Agency
    agency_no_consent: Agency
    other_agency: Agency
    referral: Referral
    referral_no_consent: Referral
    consent: Consent
    goal: Goal
    other_goal: Goal
    ward_goal: Goal
    plan: RelapsePreventionPlan
    other_patient: Patient
    foreign_goal: Goal
    users: dict[str, User]
    headers: dict[str, dict[str, str]]


async def build_world(db: AsyncSession, app: Litestar, now: datetime) -> World:
    ward = await builders.ward(db)
    other_ward = await builders.ward(db)
    agency = await builders.agency(db)
    agency_no_consent = await builders.agency(db)
    other_agency = await builders.agency(db)
    users = {
        ADMIN: await builders.user(db, "admin"),
        MANAGER: await builders.user(db, "ward_manager", ward_id=ward.id),
        STAFF: await builders.user(db, "ward_staff", ward_id=ward.id),
        OTHER_STAFF: await builders.user(db, "ward_staff", ward_id=other_ward.id),
        AGENCY: await builders.user(db, "agency_worker", agency_id=agency.id),
        AGENCY_NO_CONSENT: await builders.user(db, "agency_worker", agency_id=agency_no_consent.id),
        OTHER_AGENCY: await builders.user(db, "agency_worker", agency_id=other_agency.id),
    }
    patient = await builders.patient(db, ward.id, key_worker_id=users[STAFF].id)
    staff_id = users[STAFF].id
    referral = await builders.referral(db, patient.id, agency.id, staff_id, at=now)
    referral_no_consent = await builders.referral(
        db, patient.id, agency_no_consent.id, staff_id, at=now
    )
    consent = await builders.consent(
        db, patient.id, agency.id, staff_id, scope="full", given_at=now - timedelta(days=1)
    )
    goal = await builders.goal(db, patient.id, at=now, owner_agency_id=agency.id)
    other_goal = await builders.goal(db, patient.id, at=now, owner_agency_id=other_agency.id)
    ward_goal = await builders.goal(db, patient.id, at=now)
    plan = await builders.plan(db, patient.id, at=now - timedelta(days=1))
    other_patient = await builders.patient(db, other_ward.id)
    foreign_goal = await builders.goal(db, other_patient.id, at=now)
    headers = {role: builders.bearer(app, user) for role, user in users.items()}
    headers[ANON] = {}
    return World(
        db=db,
        now=now,
        ward=ward,
        other_ward=other_ward,
        patient=patient,
        agency=agency,
        agency_no_consent=agency_no_consent,
        other_agency=other_agency,
        referral=referral,
        referral_no_consent=referral_no_consent,
        consent=consent,
        goal=goal,
        other_goal=other_goal,
        ward_goal=ward_goal,
        plan=plan,
        other_patient=other_patient,
        foreign_goal=foreign_goal,
        users=users,
        headers=headers,
    )


Factory = Callable[[World, str], Awaitable[Any]]
Value = Any  # a constant, or a Factory
Check = Callable[[World, str, Any], Awaitable[None]]


def expect(
    *,
    ok: Iterable[str] = (),
    not_found: Iterable[str] = (),
    invalid: Iterable[str] = (),
    conflict: Iterable[str] = (),
    public: bool = False,
    forbidden_all: bool = False,
) -> dict[str, Outcome]:
    """Outcome per role: named roles get their class, other authenticated roles 403, no token
    401 (or everyone 2xx for a public route)."""
    if public:
        return dict.fromkeys(ROLES, OK)
    if forbidden_all:
        return dict.fromkeys(ROLES, 403)
    result: dict[str, Outcome] = dict.fromkeys(AUTHENTICATED, 403)
    result[ANON] = 401
    for roles, outcome in ((ok, OK), (not_found, 404), (invalid, 422), (conflict, 409)):
        for role in roles:
            result[role] = outcome
    return result


@dataclass
class Rule:
    method: str
    path: str
    expect: dict[str, Outcome]
    params: dict[str, Value] = field(default_factory=dict)
    body: Value = None
    query: Value = None
    audits_denials: bool = False
    variant: str = ""
    check: Check | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def label(self) -> str:
        suffix = f" [{self.variant}]" if self.variant else ""
        return f"{self.method} {self.path}{suffix}"


# ---- factories: fresh objects per request, so one caller's success never changes the next's


def const(value: Any) -> Factory:
    async def make(w: World, role: str) -> Any:
        return value

    return make


def attr(path: str) -> Factory:
    """`attr("patient.id")` -> world.patient.id, as a string."""

    async def make(w: World, role: str) -> Any:
        value: Any = w
        for part in path.split("."):
            value = getattr(value, part)
        return str(value)

    return make


async def fresh_agency(w: World, role: str) -> str:
    return str((await builders.agency(w.db)).id)


def fresh_referral(status: str, agency: str = "agency") -> Factory:
    async def make(w: World, role: str) -> str:
        row = await builders.referral(
            w.db, w.patient.id, getattr(w, agency).id, w.users[STAFF].id, at=w.now, status=status
        )
        return str(row.id)

    return make


async def fresh_consent(w: World, role: str) -> str:
    # To the agency with no referral: a new consent there never widens anyone's view.
    row = await builders.consent(
        w.db, w.patient.id, w.other_agency.id, w.users[STAFF].id, given_at=w.now
    )
    return str(row.id)


async def fresh_escalation(w: World, role: str) -> str:
    """An open escalation on the world's patient, raised from a source of its own."""
    from service.escalations.service import raise_escalation

    row = await raise_escalation(
        w.db,
        patient_id=w.patient.id,
        ward_id=w.ward.id,
        reason="agency_concern",
        severity="routine",
        source_type="matrix",
        source_id=uuid.uuid4(),
        now=w.now,
    )
    await w.db.commit()
    return str(row.id)


def fresh_reply(status: str = "unread") -> Factory:
    """A reply to read on the world's patient (what a free-text SMS would have left)."""

    async def make(w: World, role: str) -> str:
        inbound = InboundMessage(
            message_sid="SM" + uuid.uuid4().hex,
            patient_id=w.patient.id,
            ward_id=w.ward.id,
            from_number=w.patient.mobile or "+447700900123",
            body="can someone call me",
            kind="free_text",
            received_at=w.now,
        )
        w.db.add(inbound)
        await w.db.flush()
        read = status == "read"
        row = ReplyToRead(
            inbound_id=inbound.id,
            patient_id=w.patient.id,
            ward_id=w.ward.id,
            severity="routine",
            received_at=w.now,
            status=status,
            read_due_at=w.now + timedelta(hours=1),
            read_by=w.users[STAFF].id if read else None,
            read_at=w.now if read else None,
            created_at=w.now,
        )
        w.db.add(row)
        await w.db.commit()
        return str(row.id)

    return make


async def patient_with_carer(w: World, role: str) -> str:
    """The world's patient, with a carer named (what the PUT carer rule would have done)."""
    if await w.db.get(Carer, w.patient.id) is None:
        w.db.add(
            Carer(
                patient_id=w.patient.id,
                name="Sam",
                relationship="partner",
                consent_to_contact=False,
                updated_by=w.users[STAFF].id,
                created_at=w.now,
                updated_at=w.now,
            )
        )
        await w.db.commit()
    return str(w.patient.id)


async def fresh_home_patient(w: World, role: str) -> str:
    """A patient of the ward at home with SMS consent and a mobile."""
    return str((await builders.home_patient(w.db, w.ward.id)).id)


async def schedule_body(w: World, role: str) -> dict[str, Any]:
    return {
        "offsets_hours": [24, 48, 72],
        "reply_window_minutes": 240,
        "reminder_after_minutes": 120,
        "active": True,
    }


async def extra_check_in_body(w: World, role: str) -> dict[str, Any]:
    return {"due_at": (w.now + timedelta(days=1)).isoformat()}


async def fresh_check_in(w: World, role: str) -> str:
    """An extra check-in not yet sent, on the world's patient (one per request: cancelling
    it is the change)."""
    row = CheckIn(
        patient_id=w.patient.id,
        kind="extra",
        due_at=w.now + timedelta(days=1),
        next_action_at=w.now + timedelta(days=1),
        status="scheduled",
        reply_window_minutes=240,
        reminder_after_minutes=120,
        created_at=w.now,
        updated_at=w.now,
    )
    w.db.add(row)
    await w.db.commit()
    return str(row.id)


async def fresh_user(w: World, role: str) -> str:
    return str((await builders.user(w.db, "ward_staff", ward_id=w.other_ward.id)).id)


async def fresh_inpatient(w: World, role: str) -> str:
    """A patient on the ward, in an open stay (to be discharged)."""
    return str((await builders.patient(w.db, w.ward.id)).id)


async def fresh_discharged_patient(w: World, role: str) -> str:
    """A patient of the ward, discharged a week ago (to be readmitted)."""
    row = await builders.patient(w.db, w.ward.id, admitted_at=None, status="discharged")
    await builders.past_stay(
        w.db,
        row.id,
        admitted_at=w.now - timedelta(days=20),
        discharged_at=w.now - timedelta(days=7),
    )
    return str(row.id)


async def fresh_follow_up(w: World, role: str) -> str:
    """A pending follow-up of the world's patient (from an earlier stay)."""
    _, follow_up = await builders.past_stay(
        w.db,
        w.patient.id,
        admitted_at=w.now - timedelta(days=200),
        discharged_at=w.now - timedelta(days=190),
    )
    assert follow_up is not None
    return str(follow_up.id)


async def foreign_follow_up(w: World, role: str) -> str:
    """A follow-up of the other ward's patient."""
    _, follow_up = await builders.past_stay(
        w.db,
        w.other_patient.id,
        admitted_at=w.now - timedelta(days=200),
        discharged_at=w.now - timedelta(days=190),
    )
    assert follow_up is not None
    return str(follow_up.id)


async def new_patient_body(w: World, role: str) -> dict[str, Any]:
    return builders.patient_body()


async def foreign_ward_patient_body(w: World, role: str) -> dict[str, Any]:
    """`ward_id` of a ward that is not the caller's."""
    foreign = w.other_ward if role in WARD_OF_PATIENT else w.ward
    return builders.patient_body(ward_id=str(foreign.id))


async def now_body(w: World, role: str) -> dict[str, Any]:
    return {"admitted_at": w.now.isoformat()}


async def discharge_body(w: World, role: str) -> dict[str, Any]:
    return {"discharged_at": w.now.isoformat(), "suicide_risk": False, "destination": "Home"}


async def suicide_risk_body(w: World, role: str) -> dict[str, Any]:
    return {"suicide_risk": True}


async def attempt_body(w: World, role: str) -> dict[str, Any]:
    return {"occurred_at": w.now.isoformat(), "method": "phone", "successful": False}


PLAN_BODY = {
    "early_warning_signs": ["Not sleeping"],
    "triggers": ["Arguments at home"],
    "coping_strategies": ["Walk by the river"],
    "crisis_contacts": [{"name": "Jo Hill", "relationship": "sister", "phone": "07911 123457"}],
    "check_in_question": "How are you today, 1 to 5?",
}


async def new_ward_body(w: World, role: str) -> dict[str, Any]:
    return {"name": f"Matrix ward {uuid.uuid4().hex[:8]}"}


async def new_user_body(w: World, role: str) -> dict[str, Any]:
    return {
        "email": f"matrix-{uuid.uuid4().hex[:8]}@example.org",
        "full_name": "Matrix User",
        "role": "admin",
        "password": "a long enough password",
    }


async def new_agency_body(w: World, role: str) -> dict[str, Any]:
    return {"name": f"Matrix agency {uuid.uuid4().hex[:8]}", "kind": "housing"}


async def login_body(w: World, role: str) -> dict[str, Any]:
    return {"email": w.users[ADMIN].email, "password": builders.PASSWORD}


async def password_change_body(w: World, role: str) -> dict[str, Any]:
    return {"current_password": builders.PASSWORD, "new_password": "a brand new passphrase"}


async def referral_body(w: World, role: str) -> dict[str, Any]:
    return {
        "patient_id": str(w.patient.id),
        "agency_id": await fresh_agency(w, role),
        "reason": "Housing support after discharge",
        # A fresh agency has no consent in force: it is given with the referral.
        "consent": {"scope": "contact_details"},
    }


async def consent_body(w: World, role: str) -> dict[str, Any]:
    return {"agency_id": str(w.other_agency.id), "scope": "contact_details"}


# ---- checks on successful answers


async def only_own_agency_items(w: World, role: str, body: Any) -> None:
    """Agency callers only ever get items of their own agency; ward callers of their ward."""
    user = w.users.get(role)
    if user is None:
        return
    for item in body["items"]:
        if user.agency_id is not None:
            assert item["agency_id"] == str(user.agency_id), "another agency's item leaked"
        elif user.ward_id is not None and "patient_id" in item:
            ward_id = await w.db.scalar(
                select(Patient.ward_id).where(Patient.id == uuid.UUID(item["patient_id"]))
            )
            assert ward_id == user.ward_id, "another ward's item leaked"


async def agency_list_is_own(w: World, role: str, body: Any) -> None:
    user = w.users.get(role)
    if user is not None and user.agency_id is not None:
        assert [a["id"] for a in body["items"]] == [str(user.agency_id)]


AGENCY_FULL_FIELDS = {
    "id",
    "scope",
    "given_name",
    "family_name",
    "mobile",
    "key_worker_id",
    "key_worker_name",
    "goals",
    "crisis_contacts",
    "relapse_prevention_plan",
}


def _full_scope_view(w: World, item: Any) -> None:
    """What the consented agency (scope `full`) sees of the world's patient: nothing more."""
    assert set(item) == AGENCY_FULL_FIELDS, sorted(item)
    assert item["scope"] == "full"
    assert {g["id"] for g in item["goals"]} == {str(w.goal.id)}, "another agency's goal leaked"
    assert [c["name"] for c in item["crisis_contacts"]] == ["Jo Hill"]
    assert item["relapse_prevention_plan"]["version"] >= 1


async def visible_patients_match(w: World, role: str, body: Any) -> None:
    ids = [p["id"] for p in body["items"]]
    assert ids == ([str(w.patient.id)] if role == AGENCY else []), ids
    for item in body["items"]:
        _full_scope_view(w, item)


async def patient_view_by_role(w: World, role: str, body: Any) -> None:
    """Ward staff get the whole record; the consented agency only its scope's fields."""
    if role == AGENCY:
        _full_scope_view(w, body)
    else:
        assert body["nhs_number"] == w.patient.nhs_number
        assert body["ward_id"] == str(w.ward.id)


async def goals_by_role(w: World, role: str, body: Any) -> None:
    ids = {g["id"] for g in body["items"]}
    if role == AGENCY:
        assert ids == {str(w.goal.id)}, "the agency saw goals it does not own"
    else:
        assert {str(w.goal.id), str(w.other_goal.id), str(w.ward_goal.id)} <= ids


async def only_own_ward_patients(w: World, role: str, body: Any) -> None:
    user = w.users[role]
    for item in body["items"]:
        assert item["ward_id"] == str(user.ward_id), "another ward's patient leaked"
    ids = {item["id"] for item in body["items"]}
    assert (str(w.patient.id) in ids) == (role in WARD_OF_PATIENT)
    assert str(w.other_patient.id) not in ids or role == OTHER_STAFF


async def nhs_search_stays_in_ward(w: World, role: str, body: Any) -> None:
    ids = [item["id"] for item in body["items"]]
    assert ids == ([str(w.other_patient.id)] if role == OTHER_STAFF else []), ids


async def no_foreign_events_for_manager(w: World, role: str, body: Any) -> None:
    if role == MANAGER:
        assert body["items"] == [], "another ward's audit events leaked"


async def own_ward_events(w: World, role: str, body: Any) -> None:
    if role == MANAGER:
        for item in body["items"]:
            assert item["ward_id"] == str(w.ward.id), "another ward's audit event leaked"


async def empty_for_foreign_callers(w: World, role: str, body: Any) -> None:
    if role in (OTHER_STAFF, AGENCY_NO_CONSENT, OTHER_AGENCY):
        assert body["items"] == [], "a filter widened a foreign caller's view"


# ---- on-call branch (issue 16): ward settings and the rota


async def adopt_body(w: World, role: str) -> dict[str, Any]:
    """Preview copying the other ward's check-in schedule (changes nothing)."""
    return {"from_ward_id": str(w.other_ward.id), "setting": "check_in_schedule"}


async def fresh_ward_name(w: World, role: str) -> dict[str, Any]:
    return {"name": f"Ward {uuid.uuid4().hex[:12]}", "crisis_message": "Ring the ward."}


async def fresh_on_call_body(w: World, role: str) -> dict[str, Any]:
    """A shift covering now for a new member of the ward's staff (with a mobile)."""
    nurse = await builders.user(w.db, "ward_staff", ward_id=w.ward.id, mobile=builders.mobile())
    return {
        "user_id": str(nurse.id),
        "starts_at": (w.now - timedelta(hours=1)).isoformat(),
        "ends_at": (w.now + timedelta(hours=8)).isoformat(),
    }


async def foreign_on_call_body(w: World, role: str) -> dict[str, Any]:
    """A shift for another ward's staff member: refused (422) for those who may write."""
    body = await fresh_on_call_body(w, role)
    return {**body, "user_id": str(w.users[OTHER_STAFF].id)}


def fresh_shift(ward: str) -> Factory:
    async def make(w: World, role: str) -> str:
        ward_row = getattr(w, ward)
        nurse = await builders.user(
            w.db, "ward_staff", ward_id=ward_row.id, mobile=builders.mobile()
        )
        row = OnCallShift(
            ward_id=ward_row.id,
            user_id=nurse.id,
            starts_at=w.now - timedelta(hours=1),
            ends_at=w.now + timedelta(hours=8),
            created_at=w.now,
        )
        w.db.add(row)
        await w.db.commit()
        return str(row.id)

    return make


# ---- message templates branch (issue 19): a ward's wording per purpose and language


def fresh_template(ward: str) -> Factory:
    """A language the ward has its own check-in prompt for, new for each caller."""

    async def make(w: World, role: str) -> str:
        ward_row = getattr(w, ward)
        language = f"pl-x{uuid.uuid4().hex[:6]}"
        w.db.add(
            MessageTemplate(
                ward_id=ward_row.id,
                purpose="checkin.prompt",
                language=language,
                version=1,
                body="Hej! $question",
                created_at=w.now,
            )
        )
        await w.db.commit()
        return language

    return make


PATIENT = {"patient_id": attr("patient.id")}

RULES: list[Rule] = [
    # -- health, docs and login: public
    # The address people type: 303 to the workspace for anyone (followed here, it ends on the
    # board or its sign-in form); the 303 itself is checked in test_ward_pages_patients.py.
    Rule("GET", "/", expect(public=True)),
    Rule("GET", "/health/live", expect(public=True)),
    Rule("GET", "/health/ready", expect(public=True)),
    # Public; no worker runs in the matrix's world, so every caller alike hears 503 (stale).
    Rule("GET", "/health/jobs", dict.fromkeys(ROLES, 503)),
    Rule("GET", "/metrics", expect(public=True)),
    Rule("GET", "/docs", expect(public=True)),
    Rule("GET", "/docs/swagger", expect(public=True)),
    Rule("GET", "/docs/openapi.json", expect(public=True)),
    Rule("GET", "/docs/oauth2-redirect.html", expect(public=True)),
    Rule("GET", "/docs/{path}", expect(public=True), params={"path": "swagger"}),
    # Swagger UI's own files and start-up script, served from the package (no CDN).
    Rule("GET", "/docs/init.js", expect(public=True)),
    Rule("GET", "/docs/ui/{name}", expect(public=True), params={"name": "swagger-ui.css"}),
    Rule("POST", "/api/v1/auth/login", expect(public=True), body=login_body),
    Rule("GET", "/api/v1/me", expect(ok=AUTHENTICATED)),
    # Each role ends (or replaces) only its own token; the harness restores the world after.
    Rule("POST", "/api/v1/auth/logout", expect(ok=AUTHENTICATED)),
    Rule("POST", "/api/v1/me/password", expect(ok=AUTHENTICATED), body=password_change_body),
    Rule("POST", "/api/v1/me/totp", expect(ok=AUTHENTICATED)),
    # Not the current code: refused for everyone (enrolment itself is in test_accounts_totp.py).
    Rule("POST", "/api/v1/me/totp/confirm", expect(invalid=AUTHENTICATED), body={"totp_code": "x"}),
    # -- wards and users (admin)
    Rule("POST", "/api/v1/wards", expect(ok=[ADMIN]), body=new_ward_body),
    Rule("GET", "/api/v1/wards", expect(ok=[ADMIN, *ALL_WARD])),
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
    ),
    Rule("GET", "/api/v1/admin/unmatched-texts", expect(ok=[ADMIN])),
    Rule("POST", "/api/v1/users", expect(ok=[ADMIN]), body=new_user_body),
    Rule("GET", "/api/v1/users", expect(ok=[ADMIN])),
    Rule("GET", "/api/v1/users/{user_id}", expect(ok=[ADMIN]), params={"user_id": fresh_user}),
    Rule(
        "PATCH",
        "/api/v1/users/{user_id}",
        expect(ok=[ADMIN]),
        params={"user_id": fresh_user},
        body={"full_name": "Renamed"},
    ),
    Rule(
        "POST",
        "/api/v1/users/{user_id}/password-reset",
        expect(ok=[ADMIN]),
        params={"user_id": fresh_user},
    ),
    Rule(
        "DELETE", "/api/v1/users/{user_id}/totp", expect(ok=[ADMIN]), params={"user_id": fresh_user}
    ),
    # -- agencies
    Rule("POST", "/api/v1/agencies", expect(ok=[ADMIN]), body=new_agency_body),
    Rule(
        "GET",
        "/api/v1/agencies",
        expect(ok=[ADMIN, *ALL_WARD, *ALL_AGENCY]),
        check=agency_list_is_own,
    ),
    Rule(
        "GET",
        "/api/v1/agencies/{agency_id}",
        expect(ok=[ADMIN, *ALL_WARD, AGENCY], not_found=NOT_AGENCY_OF_PATIENT),
        params={"agency_id": attr("agency.id")},
    ),
    Rule(
        "PATCH",
        "/api/v1/agencies/{agency_id}",
        expect(ok=[ADMIN]),
        params={"agency_id": fresh_agency},
        body={"phone": "020 7946 0000"},
    ),
    Rule(
        "PATCH",
        "/api/v1/agencies/{agency_id}",
        expect(ok=[ADMIN]),
        params={"agency_id": attr("agency_no_consent.id")},
        body={"email": "team@example.org"},
        variant="an agency worker cannot change their own agency",
    ),
    Rule(
        "GET",
        "/api/v1/agency/patients",
        expect(ok=ALL_AGENCY),
        check=visible_patients_match,
        audits_denials=False,
    ),
    # -- consents (ward staff of the patient's ward)
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/consents",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body=consent_body,
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/consents",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/consents/{consent_id}/withdraw",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={**PATIENT, "consent_id": fresh_consent},
        audits_denials=True,
    ),
    # -- referrals
    Rule(
        "POST",
        "/api/v1/referrals",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        body=referral_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/referrals",
        expect(invalid=ALL_WARD),
        body={
            "patient_id": attr("patient.id"),
            "agency_id": attr("other_agency.id"),
            "reason": "x",
            "status": "accepted",
        },
        variant="status smuggled into a new referral",
    ),
    Rule(
        "GET",
        "/api/v1/referrals",
        expect(ok=[*ALL_WARD, *ALL_AGENCY]),
        check=only_own_agency_items,
    ),
    Rule(
        "GET",
        "/api/v1/referrals",
        expect(ok=[*ALL_WARD, *ALL_AGENCY]),
        query={"patient_id": attr("patient.id"), "agency_id": attr("agency.id")},
        check=empty_for_foreign_callers,
        variant="patient_id and agency_id in the query never widen the view",
    ),
    Rule(
        "GET",
        "/api/v1/referrals/{referral_id}",
        expect(ok=[*WARD_OF_PATIENT, AGENCY], not_found=[OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params={"referral_id": attr("referral.id")},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/accept",
        expect(ok=[AGENCY], not_found=NOT_AGENCY_OF_PATIENT),
        params={"referral_id": fresh_referral("pending")},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/accept",
        expect(invalid=ALL_AGENCY),
        params={"referral_id": fresh_referral("pending")},
        body={"status": "completed"},
        variant="status smuggled into accept",
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/decline",
        expect(ok=[AGENCY], not_found=NOT_AGENCY_OF_PATIENT),
        params={"referral_id": fresh_referral("pending")},
        body={"reason": "No capacity this month"},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/decline",
        expect(invalid=ALL_AGENCY),
        params={"referral_id": fresh_referral("pending")},
        body={},
        variant="decline without a reason",
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/decline",
        expect(invalid=ALL_AGENCY),
        params={"referral_id": fresh_referral("pending")},
        body={"reason": "x", "agency_id": attr("agency_no_consent.id")},
        variant="agency_id smuggled into decline",
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/complete",
        expect(ok=[AGENCY], not_found=NOT_AGENCY_OF_PATIENT),
        params={"referral_id": fresh_referral("accepted")},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/complete",
        expect(conflict=[AGENCY], not_found=NOT_AGENCY_OF_PATIENT),
        params={"referral_id": fresh_referral("pending")},
        variant="completing a pending referral is a conflict",
    ),
    Rule(
        "POST",
        "/api/v1/referrals/{referral_id}/withdraw",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"referral_id": fresh_referral("pending")},
        audits_denials=True,
    ),
    # -- support actions
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/support-actions",
        expect(ok=[AGENCY], not_found=NOT_AGENCY_OF_PATIENT),
        params=PATIENT,
        body={"kind": "phone_call", "note": "Called about housing"},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/support-actions",
        expect(invalid=ALL_AGENCY),
        params=PATIENT,
        body={"kind": "visit", "agency_id": attr("agency_no_consent.id")},
        variant="agency_id smuggled into a support action",
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/support-actions",
        expect(invalid=ALL_AGENCY),
        params=PATIENT,
        body={"kind": "visit", "status": "accepted"},
        variant="status smuggled into a support action",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/support-actions",
        expect(ok=[*WARD_OF_PATIENT, AGENCY], not_found=[OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params=PATIENT,
        audits_denials=True,
        check=only_own_agency_items,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/support-actions",
        # Undeclared query parameters are refused outright (before any lookup).
        expect(invalid=[*WARD_OF_PATIENT, AGENCY, OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params=PATIENT,
        query={"agency_id": attr("agency_no_consent.id")},
        variant="an undeclared agency_id in the query is refused",
    ),
    # -- patients: ward staff of the patient's ward; agency workers read one, within scope
    Rule("POST", "/api/v1/patients", expect(ok=ALL_WARD), body=new_patient_body),
    Rule(
        "POST",
        "/api/v1/patients",
        expect(invalid=ALL_WARD),
        body=foreign_ward_patient_body,
        variant="ward_id of another ward in a registration",
    ),
    Rule(
        "POST",
        "/api/v1/patients",
        expect(invalid=ALL_WARD),
        body={**builders.patient_body(), "status": "discharged"},
        variant="status smuggled into a registration",
    ),
    Rule(
        "POST",
        "/api/v1/patients",
        expect(invalid=ALL_WARD),
        body={**builders.patient_body(), "agency_id": attr("agency.id")},
        variant="agency_id smuggled into a registration",
    ),
    # Agency workers never list or search patients: their list is /api/v1/agency/patients.
    Rule("GET", "/api/v1/patients", expect(ok=ALL_WARD), check=only_own_ward_patients),
    Rule(
        "GET",
        "/api/v1/patients",
        expect(ok=ALL_WARD),
        query={"nhs_number": attr("other_patient.nhs_number")},
        check=nhs_search_stays_in_ward,
        variant="searching another ward's NHS number finds nothing",
    ),
    Rule(
        "GET",
        "/api/v1/patients",
        expect(invalid=ALL_WARD),
        query={"ward_id": attr("other_ward.id")},
        variant="an undeclared ward_id in the query is refused",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}",
        expect(ok=[*WARD_OF_PATIENT, AGENCY], not_found=[OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params=PATIENT,
        audits_denials=True,
        check=patient_view_by_role,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}",
        expect(invalid=[*ALL_WARD, *ALL_AGENCY]),
        params=PATIENT,
        query={"scope": "full"},
        variant="an undeclared scope in the query is refused",
    ),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body={"language": "cy"},
        audits_denials=True,
    ),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}",
        expect(invalid=ALL_WARD),
        params=PATIENT,
        body={"ward_id": attr("other_ward.id")},
        variant="ward_id smuggled into a change",
    ),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}",
        expect(invalid=ALL_WARD),
        params=PATIENT,
        body={"status": "discharged"},
        variant="a status other than closed",
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/admissions",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"patient_id": fresh_discharged_patient},
        body=now_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/admissions",
        expect(conflict=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body=now_body,
        audits_denials=True,
        variant="admitting a patient already on the ward is a conflict",
    ),
    Rule(
        "PUT",
        "/api/v1/patients/{patient_id}/suicide-risk",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"patient_id": fresh_discharged_patient},
        body=suicide_risk_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/discharge",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"patient_id": fresh_inpatient},
        body=discharge_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/discharge",
        expect(invalid=ALL_WARD),
        params={"patient_id": fresh_inpatient},
        body={"discharged_at": "2026-12-01T08:00:00Z", "suicide_risk": False, "due_at": "x"},
        variant="a follow-up due time smuggled into a discharge",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/episodes",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    # -- follow-ups
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/follow-ups",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/follow-ups/{follow_up_id}/attempts",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={**PATIENT, "follow_up_id": fresh_follow_up},
        body=attempt_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/follow-ups/{follow_up_id}/attempts",
        expect(not_found=ALL_WARD),
        params={**PATIENT, "follow_up_id": foreign_follow_up},
        body=attempt_body,
        audits_denials=True,
        variant="another ward's follow-up under this patient's path",
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/follow-ups/{follow_up_id}/attempts",
        expect(invalid=ALL_WARD),
        params={**PATIENT, "follow_up_id": fresh_follow_up},
        body={
            "occurred_at": "2026-12-01T08:00:00Z",
            "method": "phone",
            "successful": True,
            "status": "completed",
        },
        variant="status smuggled into an attempt",
    ),
    # -- goals: agency workers read only their own agency's goals (plan or full scope)
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/goals",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body={"domain": "housing", "description": "Find a flat near family"},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/goals",
        expect(invalid=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body={"domain": "housing", "description": "Already done", "status": "achieved"},
        audits_denials=True,
        variant="a final status smuggled into a new goal",
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/goals",
        expect(invalid=ALL_WARD),
        params=PATIENT,
        body={"domain": "housing", "description": "x", "patient_id": attr("other_patient.id")},
        variant="patient_id smuggled into a goal",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/goals",
        expect(ok=[*WARD_OF_PATIENT, AGENCY], not_found=[OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params=PATIENT,
        audits_denials=True,
        check=goals_by_role,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/goals",
        expect(invalid=[*ALL_WARD, *ALL_AGENCY]),
        params=PATIENT,
        query={"owner_agency_id": attr("other_agency.id")},
        variant="an undeclared owner_agency_id in the query is refused",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/goals/{goal_id}",
        expect(ok=[*WARD_OF_PATIENT, AGENCY], not_found=[OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params={**PATIENT, "goal_id": attr("goal.id")},
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/goals/{goal_id}",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF, *ALL_AGENCY]),
        params={**PATIENT, "goal_id": attr("other_goal.id")},
        audits_denials=True,
        variant="another agency's goal",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/goals/{goal_id}",
        expect(not_found=[*ALL_WARD, *ALL_AGENCY]),
        params={**PATIENT, "goal_id": attr("foreign_goal.id")},
        audits_denials=True,
        variant="another patient's goal under this patient's path",
    ),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}/goals/{goal_id}",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={**PATIENT, "goal_id": attr("ward_goal.id")},
        body={"target_date": "2027-03-01"},
        audits_denials=True,
    ),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}/goals/{goal_id}",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={**PATIENT, "goal_id": attr("goal.id")},
        body={"description": "Secure a tenancy near family"},
        audits_denials=True,
        variant="an agency cannot change even a goal it owns",
    ),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}/goals/{goal_id}",
        expect(invalid=ALL_WARD),
        params={**PATIENT, "goal_id": attr("ward_goal.id")},
        body={"patient_id": attr("other_patient.id")},
        variant="patient_id smuggled into a goal change",
    ),
    # -- relapse-prevention plan: ward staff only (agencies see it through GET patient, full)
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/relapse-prevention-plan",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/relapse-prevention-plan",
        expect(invalid=ALL_WARD),
        params=PATIENT,
        query={"as_of": "0.5"},
        variant="a number is not an RFC 3339 as_of",
    ),
    Rule(
        "PUT",
        "/api/v1/patients/{patient_id}/relapse-prevention-plan",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body=PLAN_BODY,
        audits_denials=True,
    ),
    Rule(
        "PUT",
        "/api/v1/patients/{patient_id}/relapse-prevention-plan",
        expect(invalid=ALL_WARD),
        params=PATIENT,
        body={**PLAN_BODY, "version": 1},
        variant="version smuggled into a plan",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/relapse-prevention-plan/versions",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    # -- referrals for a goal
    Rule(
        "POST",
        "/api/v1/referrals",
        expect(invalid=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        body={
            "patient_id": attr("patient.id"),
            "agency_id": fresh_agency,
            "reason": "For a goal",
            "goal_id": attr("foreign_goal.id"),
        },
        audits_denials=True,
        variant="goal_id of another patient's goal",
    ),
    # -- the audit log: admins, and ward managers for their ward
    Rule("GET", "/api/v1/audit-events", expect(ok=[ADMIN, MANAGER]), check=own_ward_events),
    Rule(
        "GET",
        "/api/v1/audit-events",
        expect(ok=[ADMIN, MANAGER]),
        query={"patient_id": attr("other_patient.id")},
        check=no_foreign_events_for_manager,
        variant="another ward's patient_id in the query never widens the view",
    ),
    Rule(
        "GET",
        "/api/v1/audit-events",
        expect(invalid=[ADMIN, MANAGER]),
        query={"ward_id": attr("other_ward.id")},
        variant="an undeclared ward_id in the query is refused",
    ),
    Rule(
        "GET",
        "/api/v1/audit-events",
        expect(invalid=[ADMIN, MANAGER]),
        query={"to": "0.5"},
        variant="a number is not an RFC 3339 time",
    ),
    # -- SMS check-ins, the conversation and escalations (ward staff of the patient's ward)
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/check-in-schedule",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "PUT",
        "/api/v1/patients/{patient_id}/check-in-schedule",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body=schedule_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/check-ins",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"patient_id": fresh_home_patient},
        body=extra_check_in_body,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/check-ins",
        expect(conflict=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body=extra_check_in_body,
        variant="no check-ins while the patient is on the ward",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/check-ins",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/check-ins/{check_in_id}/cancel",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={**PATIENT, "check_in_id": fresh_check_in},
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/messages",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/messages",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"patient_id": fresh_home_patient},
        body={"body": "Please call the ward back when you can."},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/messages",
        expect(conflict=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body={"body": "Please call the ward back when you can."},
        variant="no texts while the patient is on the ward",
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/messages",
        expect(invalid=[*WARD_OF_PATIENT, OTHER_STAFF]),
        params=PATIENT,
        body={"body": "Hello", "to_number": "+447700900123"},
        variant="a number smuggled into a ward message",
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/conversation",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/escalations",
        expect(ok=ALL_WARD),
        check=empty_for_foreign_callers,
    ),
    Rule(
        "GET",
        "/api/v1/escalations",
        expect(ok=ALL_WARD),
        query={"patient_id": attr("patient.id")},
        check=empty_for_foreign_callers,
        variant="patient_id in the query never widens the view",
    ),
    Rule(
        "GET",
        "/api/v1/escalations/{escalation_id}",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"escalation_id": fresh_escalation},
    ),
    Rule(
        "POST",
        "/api/v1/escalations/{escalation_id}/acknowledge",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"escalation_id": fresh_escalation},
    ),
    Rule(
        "POST",
        "/api/v1/escalations/{escalation_id}/resolve",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"escalation_id": fresh_escalation},
        body={
            "resolution_outcome": "contacted_patient_safe",
            "resolution_note": "Spoke to the patient; settled.",
        },
    ),
    Rule(
        "POST",
        "/api/v1/escalations/{escalation_id}/resolve",
        expect(invalid=[*WARD_OF_PATIENT, OTHER_STAFF]),
        params={"escalation_id": fresh_escalation},
        body={"resolution_outcome": "other", "resolution_note": "done", "status": "open"},
        variant="status smuggled into a resolution",
    ),
    Rule(
        "GET",
        "/api/v1/replies",
        expect(ok=ALL_WARD),
        query={"patient_id": attr("patient.id"), "ward_id": attr("ward.id")},
        check=empty_for_foreign_callers,
        variant="patient_id and ward_id in the query never widen the view",
    ),
    Rule("GET", "/api/v1/replies", expect(ok=ALL_WARD), check=empty_for_foreign_callers),
    Rule(
        "POST",
        "/api/v1/replies/{reply_id}/read",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"reply_id": fresh_reply()},
        body={"note": "Rang the patient back."},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/replies/{reply_id}/read",
        expect(conflict=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"reply_id": fresh_reply("read")},
        variant="a reply already read",
    ),
    Rule(
        "POST",
        "/api/v1/replies/{reply_id}/read",
        expect(invalid=[*WARD_OF_PATIENT, OTHER_STAFF]),
        params={"reply_id": fresh_reply()},
        body={"note": "read", "status": "unread"},
        variant="status smuggled into a reading",
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/concerns",
        expect(ok=[*WARD_OF_PATIENT, AGENCY], not_found=[OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params=PATIENT,
        body={"note": "Missed two visits and sounded low on the phone.", "urgent": True},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/concerns",
        expect(invalid=[*WARD_OF_PATIENT, AGENCY, OTHER_STAFF, *NOT_AGENCY_OF_PATIENT]),
        params=PATIENT,
        body={"note": "Worried", "level": 3},
        variant="level smuggled into a concern",
    ),
    # -- Twilio webhooks: public routes, but nothing without a valid signature
    Rule("POST", "/webhooks/twilio/sms", expect(forbidden_all=True), body=None),
    Rule("POST", "/webhooks/twilio/status", expect(forbidden_all=True), body=None),
    # == outcomes branch (issue 7): reports, feedback, carer ==================================
    Rule(
        "GET",
        "/api/v1/reports/outcomes",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        query={"ward_id": attr("ward.id")},
    ),
    Rule("GET", "/api/v1/reports/outcomes/wards", expect(ok=[ADMIN, MANAGER])),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/feedback",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body={"source": "carer", "text": "Kind staff", "received_at": "2026-11-30T09:00:00Z"},
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/feedback",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "PUT",
        "/api/v1/patients/{patient_id}/carer",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        body={"name": "Sam", "relationship": "partner", "consent_to_contact": False},
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/carer",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params={"patient_id": patient_with_carer},
        audits_denials=True,
    ),
    # == end of outcomes branch block ==========================================================
    # == on-call branch (issue 16): ward settings and the on-call rota ========================
    Rule(
        "PATCH",
        "/api/v1/wards/{ward_id}",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        body=fresh_ward_name,
    ),
    Rule(
        "PATCH",
        "/api/v1/wards/{ward_id}",
        expect(invalid=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        body={"name": "Changed too", "escalation_policy": {"on_call_phone": "12345"}},
        variant="a number that is not one",
    ),
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}/on-call",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
    ),
    Rule(
        "POST",
        "/api/v1/wards/{ward_id}/on-call",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        body=fresh_on_call_body,
    ),
    Rule(
        "POST",
        "/api/v1/wards/{ward_id}/on-call",
        expect(invalid=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        body=foreign_on_call_body,
        variant="another ward's staff member",
    ),
    Rule(
        "DELETE",
        "/api/v1/wards/{ward_id}/on-call/{shift_id}",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id"), "shift_id": fresh_shift("ward")},
    ),
    Rule(
        "DELETE",
        "/api/v1/wards/{ward_id}/on-call/{shift_id}",
        expect(not_found=[ADMIN, MANAGER, OTHER_STAFF]),
        params={"ward_id": attr("ward.id"), "shift_id": fresh_shift("other_ward")},
        variant="another ward's shift through this ward",
    ),
    # == end of on-call branch block ===========================================================
    # -- FHIR exports (issue 20): ward staff read a patient's Bundle; managers and admins
    # export a ward. Agencies and admins never get the patient Bundle (403).
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/fhir",
        expect(ok=WARD_OF_PATIENT, not_found=[OTHER_STAFF]),
        params=PATIENT,
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/patients/{patient_id}/fhir",
        expect(ok=[OTHER_STAFF], not_found=WARD_OF_PATIENT),
        params={"patient_id": attr("other_patient.id")},
        audits_denials=True,
        variant="another ward's patient",
    ),
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}/fhir/$export",
        expect(ok=[ADMIN, MANAGER]),
        params={"ward_id": attr("ward.id")},
    ),
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}/fhir/$export",
        expect(ok=[ADMIN], not_found=[MANAGER]),
        params={"ward_id": attr("other_ward.id")},
        variant="another ward",
    ),
    # == message templates branch (issue 19) ===================================================
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}/message-templates",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
    ),
    Rule(
        "PUT",
        "/api/v1/wards/{ward_id}/message-templates/{purpose}/{language}",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id"), "purpose": "checkin.prompt", "language": "pl"},
        body={"body": "Jak się czujesz? $question"},
    ),
    Rule(
        "PUT",
        "/api/v1/wards/{ward_id}/message-templates/{purpose}/{language}",
        expect(invalid=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id"), "purpose": "crisis.reply", "language": "pl"},
        body={"body": "Zadzwoń jutro."},
        variant="a crisis reply without the crisis routes",
    ),
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}/message-templates/{purpose}/{language}/versions",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        params={
            "ward_id": attr("ward.id"),
            "purpose": "checkin.prompt",
            "language": fresh_template("ward"),
        },
    ),
    Rule(
        "DELETE",
        "/api/v1/wards/{ward_id}/message-templates/{purpose}/{language}",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={
            "ward_id": attr("ward.id"),
            "purpose": "checkin.prompt",
            "language": fresh_template("ward"),
        },
    ),
    Rule(
        "DELETE",
        "/api/v1/wards/{ward_id}/message-templates/{purpose}/{language}",
        expect(not_found=[ADMIN, MANAGER, OTHER_STAFF]),
        params={
            "ward_id": attr("ward.id"),
            "purpose": "checkin.prompt",
            "language": fresh_template("other_ward"),
        },
        variant="another ward's wording through this ward",
    ),
    Rule(
        "POST",
        "/api/v1/wards/{ward_id}/message-templates/languages/{language}/confirm",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id"), "language": "cy"},
    ),
    Rule(
        "POST",
        "/api/v1/wards/{ward_id}/message-templates/languages/{language}/confirm",
        expect(invalid=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id"), "language": "pl"},
        variant="a language that ships for no review",
    ),
    # == end of message templates branch block =================================================
    # == outcomes over time (issue 22): series, funnel, listening, adopt a setting ===========
    Rule(
        "GET",
        "/api/v1/reports/outcomes/series",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        query={"measure": "follow_up", "ward_id": attr("ward.id")},
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/reports/outcomes/funnel",
        expect(ok=[ADMIN, MANAGER]),
        query={"measure": "follow_up"},
    ),
    Rule(
        "GET",
        "/api/v1/reports/outcomes/listening",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        query={"ward_id": attr("ward.id")},
        audits_denials=True,
    ),
    Rule(
        "GET",
        "/api/v1/wards/{ward_id}/you-said-we-did",
        expect(ok=[ADMIN, *WARD_OF_PATIENT], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/wards/{ward_id}/you-said-we-did",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        body={"heard": "Hard to reach", "changed": "A direct line", "changed_on": "2026-11-30"},
        audits_denials=True,
    ),
    Rule(
        "POST",
        "/api/v1/wards/{ward_id}/adopt-setting",
        expect(ok=[ADMIN, MANAGER], not_found=[OTHER_STAFF]),
        params={"ward_id": attr("ward.id")},
        body=adopt_body,
        audits_denials=True,
    ),
    # == end of outcomes over time block =======================================================
]


# ---- the route table and the runner


# The ward board's web pages (service/web) authenticate from a session cookie, never a bearer
# token, so this bearer-driven matrix cannot call them. They are excluded here by prefix and
# covered instead by the page matrix in test_board_pages.py, which runs the same coverage
# check over `page_operations` (every page route must have a rule there).
PAGE_PREFIX = "/board"


def _is_page(path: str) -> bool:
    return path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")


def page_operations(app: Litestar) -> set[tuple[str, str]]:
    return {op for op in _all_operations(app) if _is_page(op[1])}


def app_operations(app: Litestar) -> set[tuple[str, str]]:
    """(method, path_format) of every API route the app serves (web pages excepted)."""
    return {op for op in _all_operations(app) if not _is_page(op[1])}


def _all_operations(app: Litestar) -> set[tuple[str, str]]:
    """(method, path_format) of every route the app serves; OPTIONS/HEAD are framework-made."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD"):
                    found.add((method, route.path_format))
    return found


def coverage_problems(app: Litestar, rules: list[Rule] = RULES) -> list[str]:
    operations = app_operations(app)
    base = {rule.key for rule in rules if not rule.variant}
    problems = [f"no rule for {m} {p}" for m, p in sorted(operations - base)]
    problems += [
        f"rule for a route that does not exist: {m} {p}" for m, p in sorted(base - operations)
    ]
    problems += [
        f"variant of a route that does not exist: {rule.label}"
        for rule in rules
        if rule.key not in operations
    ]
    labels = Counter(rule.label for rule in rules)
    problems += [
        f"two rules named {label} (name the variant)" for label, n in labels.items() if n > 1
    ]
    for rule in rules:
        missing = set(ROLES) - rule.expect.keys()
        if missing:
            problems.append(f"{rule.label}: no expectation for {sorted(missing)}")
    return problems


async def _resolve(value: Any, w: World, role: str) -> Any:
    if callable(value):
        return await value(w, role)
    if isinstance(value, dict):
        return {k: await _resolve(v, w, role) for k, v in value.items()}
    return value


def _fingerprint_sql(skip: Iterable[str]) -> str:
    parts = [
        f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table.name} t)"
        for table in Base.metadata.sorted_tables
        if table.name not in skip
    ]
    return "SELECT " + " || ".join(parts)


async def fingerprint(db: AsyncSession, *, every_table: bool = False) -> str:
    """A digest of the data; by default without the tables a refusal may write to."""
    skip = () if every_table else MAY_CHANGE_ON_FAILURE
    value = await db.scalar(text(_fingerprint_sql(skip)))
    await db.commit()
    return str(value)


async def denied_count(db: AsyncSession) -> int:
    value = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "denied")
    )
    await db.commit()
    return int(value or 0)


def _matches(outcome: Outcome, status: int) -> bool:
    if outcome == OK:
        return 200 <= status < 300
    return status == outcome


async def run_rule(rule: Rule, w: World, client: AsyncTestClient[Litestar]) -> list[str]:
    """Every role against one rule; returns the mismatches (empty when all is as expected)."""
    failures: list[str] = []
    # Refusals first, successes last: a success may change state others then see.
    order = sorted(ROLES, key=lambda role: rule.expect[role] == OK)
    for role in order:
        outcome = rule.expect[role]
        params = await _resolve(rule.params, w, role)
        body = await _resolve(rule.body, w, role)
        query = await _resolve(rule.query, w, role)
        path = rule.path.format(**params)
        before = await fingerprint(w.db) if outcome != OK else None
        denied_before = await denied_count(w.db) if rule.audits_denials else 0
        kwargs: dict[str, Any] = {"headers": w.headers[role]}
        if query:
            kwargs["params"] = query
        if body is not None:
            kwargs["json"] = body
        response = await client.request(rule.method, path, **kwargs)
        cell = f"{rule.label} as {role}"
        if not _matches(outcome, response.status_code):
            failures.append(f"{cell}: expected {outcome}, got {response.status_code}")
            continue
        if before is not None and await fingerprint(w.db) != before:
            failures.append(f"{cell}: answered {response.status_code} but changed data")
        if outcome == 404 and rule.audits_denials and await denied_count(w.db) <= denied_before:
            failures.append(f"{cell}: 404 without a denied audit event")
        if outcome == OK and rule.check is not None:
            try:
                await rule.check(w, role, response.json())
            except AssertionError as exc:
                failures.append(f"{cell}: {exc}")
    return failures
