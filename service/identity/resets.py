"""An admin's password reset: a one-time code, shown once, that signs the user in once.

The code becomes the user's password (hashed with argon2id like any password: it is never
stored as typed), the old password and every session end at once (`token_version`), and the
existing forced-change mechanism (`users.must_change_password`) makes the user choose a new
password before anything else. `password_resets` says until when the code may sign in and
whether it has: a second sign-in with it, or one after `RESET_TTL`, is refused like a wrong
password. Changing the password (oneself, or an admin setting one) ends the reset.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PasswordReset, User
from service import audit
from service.errors import Conflict, NotAuthenticated, NotFound
from service.identity import passwords
from service.principal import Principal

# Long enough to reach the person by phone or in person the same day, short enough that a
# code written down and lost is soon worth nothing.
RESET_TTL = timedelta(hours=24)
# Read aloud and typed by hand: no 0/O, 1/I/L. 16 characters of 31 is about 79 bits.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class IssuedReset:
    code: str
    expires_at: datetime


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


async def issue_reset(
    session: AsyncSession, caller: Principal, user_id: uuid.UUID, now: datetime
) -> IssuedReset:
    """A fresh code for the user (any earlier one stops working); audited without the code."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.")
    if not user.active:
        raise Conflict("This account is deactivated; make it active before resetting it.")
    code = _new_code()
    user.password_hash = passwords.hash_password(code)
    user.must_change_password = True
    user.token_version += 1  # the old password's sessions end now
    user.updated_at = now
    expires_at = now + RESET_TTL
    values = {"expires_at": expires_at, "redeemed_at": None, "created_by": caller.user_id}
    await session.execute(
        insert(PasswordReset)
        .values(user_id=user.id, created_at=now, **values)
        .on_conflict_do_update(index_elements=["user_id"], set_={**values, "created_at": now})
    )
    audit.record(
        session,
        caller,
        "user.password_reset",
        at=now,
        object_type="user",
        object_id=user.id,
        detail={"expires_at": expires_at.isoformat()},
    )
    return IssuedReset(code=code, expires_at=expires_at)


async def redeem_at_sign_in(session: AsyncSession, user: User, now: datetime) -> None:
    """Called once the password matched: when it is a reset code, it must be unused and in
    time, and is used up now. Refused exactly like a wrong password (no oracle)."""
    reset = await session.scalar(
        select(PasswordReset).where(PasswordReset.user_id == user.id).with_for_update()
    )
    if reset is None:
        return
    if reset.redeemed_at is not None or reset.expires_at <= now:
        raise NotAuthenticated("Email or password is not correct.")
    reset.redeemed_at = now
    audit.record(
        session,
        None,
        "user.password_reset_used",
        at=now,
        object_type="user",
        object_id=user.id,
    )


async def end_reset(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The password was changed: the reset (used or not) is over."""
    await session.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id))
