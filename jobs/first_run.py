"""First start on the embedded database: a demo ward and an admin whose password is shown once."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, select

from db.engine import make_engine, make_sessionmaker
from db.models import User
from service.errors import DomainError
from service.settings import Settings
from service.users import service as users
from service.users.schemas import UserCreate
from service.wards import service as wards
from service.wards.schemas import WardCreate

FIRST_ADMIN_EMAIL = "admin@homeward.local"
DEMO_WARD_NAME = "Demo Recovery Ward"


async def ensure_first_admin(settings: Settings) -> None:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            # Serialise concurrent first starts (api and worker launched together).
            await session.execute(select(func.pg_advisory_xact_lock(7_000_001)))
            if await session.scalar(select(func.count()).select_from(User)):
                return
            await wards.create_ward(session, WardCreate(name=DEMO_WARD_NAME))
            password = secrets.token_urlsafe(12)
            await users.create_user(
                session,
                UserCreate(
                    email=FIRST_ADMIN_EMAIL,
                    full_name="First Admin",
                    role="admin",
                    password=password,
                ),
            )
            await session.commit()
    finally:
        await engine.dispose()
    # Printed to the terminal once, never logged; it is not stored anywhere in clear.
    print(
        "\n  First start: created the demo ward and an admin.\n"
        f"    email:    {FIRST_ADMIN_EMAIL}\n"
        f"    password: {password}\n"
        "  This password is shown once. Change it with PATCH /api/v1/users/{id}.\n",
        flush=True,
    )


async def create_user_from_cli(
    settings: Settings,
    *,
    email: str,
    role: str,
    password: str,
    ward_id: str | None,
    agency_id: str | None,
    full_name: str | None,
) -> uuid.UUID:
    assert settings.database_url is not None
    try:
        data = UserCreate(
            email=email,
            full_name=full_name or email.split("@")[0],
            role=role,  # type: ignore[arg-type]
            password=password,
            ward_id=uuid.UUID(ward_id) if ward_id else None,
            agency_id=uuid.UUID(agency_id) if agency_id else None,
        )
    except ValueError as exc:
        raise ValueError(f"bad id: {exc}") from None
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            try:
                user = await users.create_user(session, data)
            except DomainError as exc:
                raise ValueError(exc.detail) from None
            await session.commit()
            return user.id
    finally:
        await engine.dispose()
