"""First start on the embedded database: a demo ward and an admin whose password is shown once.

The password goes to the controlling terminal only (/dev/tty), never to stdout or stderr,
which a service manager or container runtime keeps as the log. Without a terminal it is
written to a file readable by this user alone in the data folder, which is removed at the
next start once the admin has changed it. The admin must change it at first sign-in.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

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
PASSWORD_FILE = "first_admin_password"
DEMO_WARD_NAME = "Demo Recovery Ward"


def workspace_url(settings: Settings) -> str:
    """Where people sign in: the ward's pages at this deployment's public address."""
    return settings.public_base_url.rstrip("/") + "/board"


async def ensure_first_admin(settings: Settings) -> None:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=1)
    password: str | None = None
    try:
        async with make_sessionmaker(engine)() as session:
            # Serialise concurrent first starts (api and worker launched together).
            await session.execute(select(func.pg_advisory_xact_lock(7_000_001)))
            if await session.scalar(select(func.count()).select_from(User)):
                still_forced = await session.scalar(
                    select(User.must_change_password).where(User.email == FIRST_ADMIN_EMAIL)
                )
                if not still_forced:
                    # Changed (or gone): the written-down password opens nothing now.
                    (settings.data_dir / PASSWORD_FILE).unlink(missing_ok=True)
                return
            await wards.create_ward(session, WardCreate(name=DEMO_WARD_NAME))
            password = secrets.token_urlsafe(12)
            admin = await users.create_user(
                session,
                UserCreate(
                    email=FIRST_ADMIN_EMAIL,
                    full_name="First Admin",
                    role="admin",
                    password=password,
                ),
            )
            admin.must_change_password = True
            await session.commit()
    finally:
        await engine.dispose()
    _show_once(settings.data_dir, password, workspace_url(settings))


def _show_once(data_dir: Path, password: str, workspace: str) -> None:
    """To the terminal if there is one, else to a 0600 file; never through stdout or the log."""
    words = (
        "\n  First start: created the demo ward and an admin.\n"
        f"    email:    {FIRST_ADMIN_EMAIL}\n"
        f"    password: {password}\n"
        f"    sign in:  {workspace}\n"
        "  This password is shown once. At first sign-in the board takes you to\n"
        f"  {workspace}/password to choose your own, then to {workspace}/account/totp\n"
        "  to set up two-step sign-in (required for admins; any authenticator app).\n"
    )
    try:
        with open("/dev/tty", "w") as terminal:
            terminal.write(words)
        return
    except OSError:
        pass  # no controlling terminal (a service, a container, a pipe)
    path = data_dir / PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    print(
        "\n  First start: created the demo ward and an admin "
        f"({FIRST_ADMIN_EMAIL}).\n"
        f"  No terminal to show its password on: it is in {path.resolve()}\n"
        "  (readable by this user only; it must be changed at first sign-in).\n"
        f"  Workspace: {workspace}\n",
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
