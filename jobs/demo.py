"""`homeward seed-demo`: a demo ward with staff and a partner agency, ready to click through."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from db.engine import make_engine, make_sessionmaker
from db.models import Agency, User, Ward
from jobs.first_run import DEMO_WARD_NAME
from service.settings import Settings
from service.users import service as users
from service.users.schemas import UserCreate
from service.wards import service as wards
from service.wards.schemas import WardCreate

DEMO_AGENCY_NAME = "Demo Housing Association"


async def seed_demo(settings: Settings) -> None:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=1)
    created: list[tuple[str, str, str]] = []
    try:
        async with make_sessionmaker(engine)() as session:
            ward = await session.scalar(select(Ward).where(Ward.name == DEMO_WARD_NAME))
            if ward is None:
                ward = await wards.create_ward(session, WardCreate(name=DEMO_WARD_NAME))
            agency = await session.scalar(select(Agency).where(Agency.name == DEMO_AGENCY_NAME))
            if agency is None:
                agency = Agency(name=DEMO_AGENCY_NAME, kind="housing", active=True)
                session.add(agency)
                await session.flush()
            people = [
                ("manager@homeward.local", "Morgan Manager", "ward_manager"),
                ("nurse@homeward.local", "Nia Nurse", "ward_staff"),
                ("housing@homeward.local", "Hari Housing", "agency_worker"),
            ]
            for email, name, role in people:
                if await session.scalar(select(User.id).where(User.email == email)):
                    continue
                password = secrets.token_urlsafe(12)
                await users.create_user(
                    session,
                    UserCreate(
                        email=email,
                        full_name=name,
                        role=role,  # type: ignore[arg-type]
                        password=password,
                        ward_id=ward.id if role != "agency_worker" else None,
                        agency_id=agency.id if role == "agency_worker" else None,
                    ),
                )
                created.append((email, role, password))
            await session.commit()
    finally:
        await engine.dispose()
    print(f"Demo ward ready: {DEMO_WARD_NAME}")
    for email, role, password in created:
        print(f"  {role:<14} {email:<28} password: {password}")
    if not created:
        print("  (demo users already existed; passwords unchanged)")
