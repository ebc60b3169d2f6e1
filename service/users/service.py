"""Users: admins manage accounts; deactivation and password changes revoke tokens at once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, RecoveryCode, User, UserSession, Ward
from service import audit
from service.checks import flush_or
from service.errors import Conflict, InvalidInput, NotFound
from service.identity import passwords, resets
from service.pagination import decode_cursor, page_after, split_page
from service.phones import normalise_mobile
from service.principal import AGENCY, WARD, Principal
from service.users.schemas import UserCreate, UserOut, UserUpdate


def to_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,  # type: ignore[arg-type]
        ward_id=user.ward_id,
        agency_id=user.agency_id,
        mobile=user.mobile,
        active=user.active,
    )


def _check_password(password: str) -> None:
    problem = passwords.password_problem(password)
    if problem:
        raise InvalidInput.field("password", problem)


async def _check_affiliation(
    session: AsyncSession, role: str, ward_id: uuid.UUID | None, agency_id: uuid.UUID | None
) -> None:
    if role in WARD:
        if ward_id is None:
            raise InvalidInput.field("ward_id", f"is required for role {role}")
        if await session.get(Ward, ward_id) is None:
            raise InvalidInput.field("ward_id", "does not name a ward")
    elif ward_id is not None:
        raise InvalidInput.field("ward_id", f"must be empty for role {role}")
    if role in AGENCY:
        if agency_id is None:
            raise InvalidInput.field("agency_id", "is required for role agency_worker")
        if await session.get(Agency, agency_id) is None:
            raise InvalidInput.field("agency_id", "does not name an agency")
    elif agency_id is not None:
        raise InvalidInput.field("agency_id", f"must be empty for role {role}")


async def _flush_unique(session: AsyncSession) -> None:
    await flush_or(session, lambda: Conflict("A user with this email already exists."))


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    _check_password(data.password)
    await _check_affiliation(session, data.role, data.ward_id, data.agency_id)
    user = User(
        email=data.email.strip().lower(),
        full_name=data.full_name.strip(),
        role=data.role,
        ward_id=data.ward_id,
        agency_id=data.agency_id,
        mobile=normalise_mobile(data.mobile) if data.mobile else None,
        active=data.active,
        password_hash=passwords.hash_password(data.password),
        token_version=0,
    )
    session.add(user)
    await _flush_unique(session)
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def update_user(session: AsyncSession, user_id: uuid.UUID, data: UserUpdate) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    revoke = False
    if "password" in changes:
        _check_password(changes["password"])
        user.password_hash = passwords.hash_password(changes.pop("password"))
        await resets.end_reset(session, user.id)  # an admin's own password ends a reset
        revoke = True
    if "email" in changes:
        user.email = changes.pop("email").strip().lower()
    if "full_name" in changes:
        user.full_name = changes.pop("full_name").strip()
    if "mobile" in changes:
        mobile = changes.pop("mobile")
        user.mobile = normalise_mobile(mobile) if mobile else None
    if {"role", "ward_id", "agency_id"} & changes.keys():
        role = changes.pop("role", user.role)
        ward_id = changes.pop("ward_id", user.ward_id)
        agency_id = changes.pop("agency_id", user.agency_id)
        await _check_affiliation(session, role, ward_id, agency_id)
        revoke = revoke or role != user.role
        user.role, user.ward_id, user.agency_id = role, ward_id, agency_id
    if "active" in changes:
        active = changes.pop("active")
        revoke = revoke or (user.active and not active)
        user.active = active
    if revoke:
        user.token_version += 1
    await _flush_unique(session)
    return user


async def list_users(
    session: AsyncSession,
    cursor: str | None,
    limit: int,
    *,
    role: str | None = None,
    ward_id: uuid.UUID | None = None,
    agency_id: uuid.UUID | None = None,
) -> tuple[list[User], str | None]:
    query = select(User)
    if role:
        query = query.where(User.role == role)
    if ward_id:
        query = query.where(User.ward_id == ward_id)
    if agency_id:
        query = query.where(User.agency_id == agency_id)
    query = page_after(query, User.created_at, User.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda u: (u.created_at, u.id))


async def reset_totp(
    session: AsyncSession, caller: Principal, user_id: uuid.UUID, now: datetime
) -> None:
    """An admin turns a user's two-step sign-in off (phone and recovery codes lost): the key
    and codes are gone, every session ends, and where TOTP is required the user sets it up
    again at the next sign-in."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.token_version += 1
    user.updated_at = now
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit.record(session, caller, "user.totp_reset", at=now, object_type="user", object_id=user.id)
