"""`homeward seed-demo`: two demo wards with staff, a partner agency and months of history.

Safe to run again: wards, users and the agency are found by name or email, and a ward's
history is built only once (see demo_history), so a second run changes nothing.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import make_engine, make_sessionmaker
from db.models import Agency, User, Ward
from jobs.demo_care import CarePlayer
from jobs.demo_escalations import Staff
from jobs.demo_history import WardHistory
from jobs.demo_outcomes import seed_outcome_history
from jobs.first_run import DEMO_WARD_NAME
from service.clock import Clock, SystemClock
from service.principal import Principal
from service.settings import Settings
from service.users import service as users
from service.users.schemas import UserCreate
from service.wards import service as wards
from service.wards.schemas import WardCreate

DEMO_AGENCY_NAME = "Demo Housing Association"
SECOND_WARD_NAME = "Demo Assessment Ward"
# (ward number, name, patients): the second ward is smaller, so the comparison differs.
WARDS = ((1, DEMO_WARD_NAME, 16), (2, SECOND_WARD_NAME, 10))
# (email, name, role, ward number or None for the agency)
PEOPLE = (
    ("manager@homeward.local", "Morgan Manager", "ward_manager", 1),
    ("nurse@homeward.local", "Nia Nurse", "ward_staff", 1),
    ("assessment.nurse@homeward.local", "Ash Assessor", "ward_staff", 2),
    ("housing@homeward.local", "Hari Housing", "agency_worker", None),
)

Created = list[tuple[str, str, str]]


async def _ward(session: AsyncSession, name: str) -> Ward:
    ward = await session.scalar(select(Ward).where(Ward.name == name))
    return ward or await wards.create_ward(session, WardCreate(name=name))


async def _agency(session: AsyncSession) -> Agency:
    agency = await session.scalar(select(Agency).where(Agency.name == DEMO_AGENCY_NAME))
    if agency is None:
        agency = Agency(name=DEMO_AGENCY_NAME, kind="housing", active=True)
        session.add(agency)
        await session.flush()
    return agency


async def _people(
    session: AsyncSession, ward_ids: dict[int, uuid.UUID], agency_id: uuid.UUID
) -> tuple[dict[str, Principal], Created]:
    created: Created = []
    found: dict[str, Principal] = {}
    for email, name, role, ward_number in PEOPLE:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            password = secrets.token_urlsafe(12)
            user = await users.create_user(
                session,
                UserCreate(
                    email=email,
                    full_name=name,
                    role=role,  # type: ignore[arg-type]
                    password=password,
                    ward_id=ward_ids[ward_number] if ward_number else None,
                    agency_id=agency_id if ward_number is None else None,
                ),
            )
            created.append((email, role, password))
        found[email] = Principal(user.id, user.role, user.ward_id, user.agency_id)  # type: ignore[arg-type]
    return found, created


async def _histories(
    session: AsyncSession,
    ward_ids: dict[int, uuid.UUID],
    people: dict[str, Principal],
    agency_id: uuid.UUID,
    now: datetime,
) -> list[str]:
    built = []
    nurses = {1: people["nurse@homeward.local"], 2: people["assessment.nurse@homeward.local"]}
    for number, name, count in WARDS:
        history = WardHistory(
            ward_number=number,
            staff=nurses[number],
            escalations=Staff(ward_ids[number], nurses[number]),
            care=CarePlayer(nurses[number], people["housing@homeward.local"], agency_id),
            now=now,
        )
        if await history.already_built(session, count):
            continue
        await history.build(session, count)
        built.append(f"{name}: {count} patients with about six months of history")
    return built


async def seed_demo(settings: Settings, clock: Clock | None = None) -> None:
    assert settings.database_url is not None
    now = (clock or SystemClock()).now().replace(microsecond=0)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            ward_ids = {number: (await _ward(session, name)).id for number, name, _ in WARDS}
            agency = await _agency(session)
            people, created = await _people(session, ward_ids, agency.id)
            built = await _histories(session, ward_ids, people, agency.id, now)
            built += await seed_outcome_history(session, ward_ids, now)
            await session.commit()
    finally:
        await engine.dispose()
    print(f"Demo wards ready: {DEMO_WARD_NAME}, {SECOND_WARD_NAME}")
    for line in built:
        print(f"  {line}")
    for email, role, password in created:
        print(f"  {role:<14} {email:<32} password: {password}")
    if not created:
        print("  (demo users already existed; passwords unchanged)")
