"""Login with rate limiting (turning a token back into a caller is service.identity.callers)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import LoginAttempt, User
from service.errors import NotAuthenticated, TooManyRequests
from service.identity import passwords, tokens


@dataclass(frozen=True)
class LoginPolicy:
    secret: str
    ttl: timedelta
    max_failures: int
    window: timedelta


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    expires_at: datetime
    user: User


def _key(kind: str, value: str) -> str:
    # Hashed so the table never holds an email address or a client address.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:64]}"


async def _recent_failures(session: AsyncSession, key: str, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.key == key,
            LoginAttempt.attempted_at > since,
            LoginAttempt.succeeded.is_(False),
        )
    )
    return int(count or 0)


async def login(
    session: AsyncSession,
    policy: LoginPolicy,
    *,
    email: str,
    password: str,
    client_address: str,
    now: datetime,
) -> LoginResult:
    email_key = _key("email", email.strip().lower())
    # Per address allows for a shared ward PC where several people sign in.
    address_key = _key("ip", client_address)
    since = now - policy.window
    if (
        await _recent_failures(session, email_key, since) >= policy.max_failures
        or await _recent_failures(session, address_key, since) >= policy.max_failures * 4
    ):
        raise TooManyRequests(
            "Too many failed sign-in attempts; try again later.",
            retry_after_seconds=int(policy.window.total_seconds()),
        )

    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        # Not an audit denial (no patient data was asked for): the failures are kept so the
        # rate limit above counts them after the rollback.
        raise NotAuthenticated("Email or password is not correct.").keeping(
            LoginAttempt(key=email_key, attempted_at=now, succeeded=False),
            LoginAttempt(key=address_key, attempted_at=now, succeeded=False),
        )

    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.add(LoginAttempt(key=email_key, attempted_at=now, succeeded=True))
    token, expires_at = tokens.issue(policy.secret, user.id, user.token_version, now, policy.ttl)
    return LoginResult(access_token=token, expires_at=expires_at, user=user)
