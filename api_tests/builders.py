"""Plain async builders for test data, going through the domain services where one exists."""

from __future__ import annotations

import functools
import itertools
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Agency,
    Consent,
    Episode,
    FollowUp,
    Goal,
    GoalStatusChange,
    Patient,
    Referral,
    ReferralStatusChange,
    RelapsePreventionPlan,
    User,
    Ward,
)
from service.identity import passwords, tokens
from service.principal import Principal
from service.wards import service as wards
from service.wards.schemas import WardCreate

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


@functools.cache
def _password_hash(password: str) -> str:
    # argon2id is deliberately slow; hash each test password once per run.
    return passwords.hash_password(password)


async def ward(session: AsyncSession, **fields: Any) -> Ward:
    data = WardCreate(name=fields.pop("name", f"Ward {next(_seq)}"), **fields)
    row = await wards.create_ward(session, data)
    await session.commit()
    return row


async def agency(session: AsyncSession, **fields: Any) -> Agency:
    row = Agency(
        name=fields.pop("name", f"Agency {next(_seq)}"),
        kind=fields.pop("kind", "housing"),
        active=fields.pop("active", True),
        **fields,
    )
    session.add(row)
    await session.commit()
    return row


async def user(
    session: AsyncSession,
    role: str,
    *,
    ward_id: uuid.UUID | None = None,
    agency_id: uuid.UUID | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    **fields: Any,
) -> User:
    n = next(_seq)
    row = User(
        email=email or f"{role}{n}@example.org",
        full_name=fields.pop("full_name", f"{role.title()} {n}"),
        role=role,
        ward_id=ward_id,
        agency_id=agency_id,
        active=fields.pop("active", True),
        password_hash=_password_hash(password),
        token_version=0,
        **fields,
    )
    session.add(row)
    await session.commit()
    return row


def bearer(app: Litestar, who: User) -> dict[str, str]:
    """The tests' one way to call as `who`: a token signed for them, valid for a year of the
    app's clock, without the (slow, rate-limited) login. Only tests of login log in."""
    res = app.state.resources
    token, _ = tokens.issue(
        res.settings.jwt_secret, who.id, who.token_version, res.clock.now(), timedelta(days=365)
    )
    return {"Authorization": f"Bearer {token}"}


def principal(who: User) -> Principal:
    """The caller a domain service expects, for calling services directly in tests."""
    return Principal(user_id=who.id, role=who.role, ward_id=who.ward_id, agency_id=who.agency_id)  # type: ignore[arg-type]


_nhs_rng = random.Random(20261201)


def nhs_number() -> str:
    """A fresh NHS number with a valid modulus-11 check digit."""
    while True:
        first_nine = "".join(str(_nhs_rng.randrange(10)) for _ in range(9))
        total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 10:
            continue
        return first_nine + str(0 if check == 11 else check)


async def patient(
    session: AsyncSession,
    ward_id: uuid.UUID,
    *,
    admitted_at: datetime | None = datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    **fields: Any,
) -> Patient:
    """A patient on the ward with an open episode (as registration makes one);
    `admitted_at=None` leaves out the episode."""
    n = next(_seq)
    row = Patient(
        ward_id=ward_id,
        nhs_number=fields.pop("nhs_number", None) or nhs_number(),
        given_name=fields.pop("given_name", f"Given{n}"),
        family_name=fields.pop("family_name", f"Family{n}"),
        date_of_birth=fields.pop("date_of_birth", datetime(1980, 1, 1).date()),
        mobile=fields.pop("mobile", f"+4479{n % 10**8:08d}"),
        timezone=fields.pop("timezone", "Europe/London"),
        contact_window_start=fields.pop("contact_window_start", time(9, 0)),
        contact_window_end=fields.pop("contact_window_end", time(20, 0)),
        status=fields.pop("status", "inpatient"),
        **fields,
    )
    session.add(row)
    await session.flush()
    if admitted_at is not None:
        session.add(Episode(patient_id=row.id, admitted_at=admitted_at))
    await session.commit()
    return row


def patient_body(**fields: Any) -> dict[str, Any]:
    """A valid registration body for POST /api/v1/patients."""
    body: dict[str, Any] = {
        "nhs_number": nhs_number(),
        "given_name": "Alex",
        "family_name": "Morgan",
        "date_of_birth": "1985-04-12",
        "mobile": "07911 123456",
        "sms_consent": True,
    }
    body.update(fields)
    return body


async def ward_team(session: AsyncSession, app: Litestar) -> SimpleNamespace:
    """A ward with a nurse and a manager, and ready auth headers for both."""
    w = await ward(session)
    nurse = await user(session, "ward_staff", ward_id=w.id)
    manager = await user(session, "ward_manager", ward_id=w.id)
    return SimpleNamespace(
        ward=w,
        nurse=nurse,
        manager=manager,
        nurse_headers=bearer(app, nurse),
        manager_headers=bearer(app, manager),
    )


async def consent(
    session: AsyncSession,
    patient_id: uuid.UUID,
    agency_id: uuid.UUID,
    recorded_by: uuid.UUID,
    *,
    scope: str = "full",
    given_at: datetime,
    expires_in: timedelta | None = None,
) -> Consent:
    row = Consent(
        patient_id=patient_id,
        agency_id=agency_id,
        scope=scope,
        given_at=given_at,
        expires_at=given_at + expires_in if expires_in else None,
        recorded_by_id=recorded_by,
        created_at=given_at,
    )
    session.add(row)
    await session.commit()
    return row


async def referral(
    session: AsyncSession,
    patient_id: uuid.UUID,
    agency_id: uuid.UUID,
    created_by: uuid.UUID,
    *,
    at: datetime,
    status: str = "pending",
    goal_id: uuid.UUID | None = None,
) -> Referral:
    """A referral row with its creation in the history (and a response time if needed)."""
    row = Referral(
        patient_id=patient_id,
        agency_id=agency_id,
        goal_id=goal_id,
        reason="Needs support",
        status=status,
        respond_by=at + timedelta(days=2),
        responded_at=at if status in ("accepted", "declined", "completed") else None,
        decline_reason="No capacity" if status == "declined" else None,
        created_by_id=created_by,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    session.add(
        ReferralStatusChange(
            referral_id=row.id, from_status=None, to_status=status, at=at, by_id=created_by
        )
    )
    await session.commit()
    return row


async def goal(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    at: datetime,
    owner_agency_id: uuid.UUID | None = None,
    domain: str = "housing",
    status: str = "active",
    description: str | None = None,
) -> Goal:
    """A goal with its creation in the status history."""
    row = Goal(
        id=uuid.uuid4(),
        patient_id=patient_id,
        domain=domain,
        description=description or f"Goal {next(_seq)}",
        status=status,
        owner_agency_id=owner_agency_id,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    session.add(GoalStatusChange(goal_id=row.id, changed_at=at, from_status=None, to_status=status))
    await session.commit()
    return row


async def plan(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    at: datetime,
    version: int = 1,
    crisis_contacts: list[dict[str, str]] | None = None,
) -> RelapsePreventionPlan:
    """One version of a relapse-prevention plan (crisis contact phones already E.164)."""
    row = RelapsePreventionPlan(
        patient_id=patient_id,
        version=version,
        early_warning_signs=["Not sleeping"],
        triggers=["Arguments at home"],
        coping_strategies=["Walk by the river"],
        crisis_contacts=crisis_contacts
        if crisis_contacts is not None
        else [{"name": "Jo Hill", "relationship": "sister", "phone": "+447911123457"}],
        check_in_question=None,
        created_at=at,
    )
    session.add(row)
    await session.commit()
    return row


async def past_stay(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    admitted_at: datetime,
    discharged_at: datetime,
    follow_up: bool = True,
) -> tuple[Episode, FollowUp | None]:
    """A closed episode (leaves the patient's status alone) and, by default, its pending
    follow-up due 72 h after the discharge."""
    episode = Episode(
        patient_id=patient_id,
        admitted_at=admitted_at,
        discharged_at=discharged_at,
        suicide_risk=False,
    )
    session.add(episode)
    await session.flush()
    row = None
    if follow_up:
        row = FollowUp(
            patient_id=patient_id,
            episode_id=episode.id,
            due_at=discharged_at + timedelta(hours=72),
            suicide_risk=False,
            status="pending",
            created_at=discharged_at,
        )
        session.add(row)
    await session.commit()
    return episode, row


def mobile(n: int | None = None) -> str:
    """A UK mobile in the Ofcom drama range, E.164."""
    return f"+4477009{(n if n is not None else next(_seq)) % 100000:05d}"


async def home_patient(session: AsyncSession, ward_id: uuid.UUID, **fields: Any) -> Patient:
    """A patient at home (discharged) with SMS consent and no stay recorded, unless told otherwise."""
    n = next(_seq)
    row = Patient(
        ward_id=ward_id,
        nhs_number=fields.pop("nhs_number", None) or nhs_number(),
        given_name=fields.pop("given_name", f"Given{n}"),
        family_name=fields.pop("family_name", f"Family{n}"),
        date_of_birth=fields.pop("date_of_birth", date(1980, 1, 1)),
        mobile=fields.pop("mobile", mobile(n)),
        timezone=fields.pop("timezone", "Europe/London"),
        contact_window_start=fields.pop("contact_window_start", time(9, 0)),
        contact_window_end=fields.pop("contact_window_end", time(20, 0)),
        language=fields.pop("language", "en"),
        discreet_messages=fields.pop("discreet_messages", False),
        sms_consent=fields.pop("sms_consent", True),
        sms_opted_out=fields.pop("sms_opted_out", False),
        status=fields.pop("status", "discharged"),
        **fields,
    )
    session.add(row)
    await session.commit()
    return row


async def episode(
    session: AsyncSession,
    patient_id: uuid.UUID,
    admitted_at: datetime,
    discharged_at: datetime | None = None,
) -> Episode:
    row = Episode(patient_id=patient_id, admitted_at=admitted_at, discharged_at=discharged_at)
    session.add(row)
    await session.commit()
    return row
