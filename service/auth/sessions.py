"""One's own sign-in sessions: the list, ending one, ending all the others; and TOTP enrolment.

A session is the server-side record of one access token (db `sessions`, keyed by its jti),
written at sign-in. The authentication middleware reads its `last_seen_at` with the user in
one query; pages refuse a session idle longer than BOARD_IDLE_MINUTES (service.http.auth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RecoveryCode, User, UserSession
from service import audit
from service.auth.service import LoginPolicy, reissue, revoke
from service.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from service.identity import totp
from service.principal import Principal

# Activity is written at most this often (a page view per second must not be a write each).
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionView:
    jti: str
    kind: str
    created_at: datetime
    last_seen_at: datetime
    device: str
    current: bool


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPad", "iPad"),
    ("iPhone", "iPhone"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def describe_agent(user_agent: str) -> str:
    """A short "browser on system" summary of a User-Agent header, for people to recognise."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    cleaned = _PRINTABLE.sub("", user_agent).strip()
    return (browser or system or cleaned[:60]) or "unknown device"


def idle_limit(idle_minutes: int) -> timedelta:
    return timedelta(minutes=idle_minutes)


async def list_sessions(
    session: AsyncSession, caller: Principal, now: datetime, idle: timedelta
) -> list[SessionView]:
    rows = (
        await session.scalars(
            select(UserSession)
            .where(UserSession.user_id == caller.user_id, UserSession.expires_at > now)
            .order_by(UserSession.last_seen_at.desc())
        )
    ).all()
    return [
        SessionView(
            jti=row.jti,
            kind=row.kind,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            device=row.user_agent or "unknown device",
            current=row.jti == caller.token_id,
        )
        for row in rows
        # A board session idle past the limit is over, whatever its token says.
        if row.kind != "board" or now - row.last_seen_at <= idle or row.jti == caller.token_id
    ]


async def end_session(session: AsyncSession, caller: Principal, jti: str, now: datetime) -> None:
    """End one of one's own sessions (another person's is "not found", and audited)."""
    row = await session.get(UserSession, jti[:64]) if jti else None
    if row is None or row.user_id != caller.user_id:
        raise audit.denied(
            caller,
            "auth.session_end_denied",
            NotFound("No such session."),
            at=now,
            object_type="user",
            object_id=caller.user_id,
        )
    await revoke(session, caller.user_id, row.jti, row.expires_at, now)
    audit.record(
        session, caller, "auth.session_ended", at=now, object_type="user", object_id=caller.user_id
    )


async def end_other_sessions(
    session: AsyncSession, policy: LoginPolicy, caller: Principal, now: datetime
) -> tuple[str, datetime]:
    """Sign out everywhere else: every other token of this user ends; a fresh one for this."""
    user = await _active_user(session, caller)
    token = await reissue(session, policy, caller, user, now)
    audit.record(
        session,
        caller,
        "auth.signed_out_everywhere",
        at=now,
        object_type="user",
        object_id=caller.user_id,
    )
    return token


async def _active_user(session: AsyncSession, caller: Principal) -> User:
    user = await session.get(User, caller.user_id, populate_existing=True)
    if user is None or not user.active:
        raise NotAuthenticated("The access token is missing, invalid or expired.")
    return user


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_data_uri: str


async def pending_enrolment(session: AsyncSession, caller: Principal) -> Enrolment | None:
    """The secret to scan, created on first asking; None once TOTP is set up (the secret is
    then never shown again)."""
    user = await _active_user(session, caller)
    if user.totp_confirmed_at is not None:
        return None
    if user.totp_secret is None:
        user.totp_secret = totp.new_secret()
        await session.flush()
    uri = totp.provisioning_uri(user.totp_secret, user.email)
    return Enrolment(secret=user.totp_secret, uri=uri, qr_data_uri=totp.qr_svg_data_uri(uri))


@dataclass(frozen=True)
class Enrolled:
    access_token: str
    expires_at: datetime
    # Shown once, never stored in the clear.
    recovery_codes: list[str]


async def confirm_enrolment(
    session: AsyncSession, policy: LoginPolicy, caller: Principal, code: str, now: datetime
) -> Enrolled:
    """A current code from the app proves it holds the secret: TOTP is on, ten recovery codes
    are made, and every other session ends (a fresh token for this one)."""
    user = await _active_user(session, caller)
    if user.totp_confirmed_at is not None:
        raise Conflict("Two-step sign-in is already set up for this account.")
    if user.totp_secret is None:
        raise InvalidInput.field("totp_code", "reload the page to get a new key first")
    step = totp.matching_step(user.totp_secret, code, now, None)
    if step is None:
        raise InvalidInput.field("totp_code", "is not the current code from your app")
    user.totp_confirmed_at = now
    user.totp_last_step = step
    codes = await _new_recovery_codes(session, user)
    audit.record(
        session, caller, "user.totp_enrolled", at=now, object_type="user", object_id=user.id
    )
    token, expires_at = await reissue(session, policy, caller, user, now)
    return Enrolled(
        access_token=token,
        expires_at=expires_at,
        recovery_codes=[totp.format_recovery_code(c) for c in codes],
    )


async def _new_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    for code in codes:
        salt, digest = totp.hash_recovery_code(code)
        session.add(RecoveryCode(user_id=user.id, salt=salt, code_hash=digest))
    return codes


async def recovery_codes_left(session: AsyncSession, caller: Principal) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == caller.user_id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(rows.all())


async def totp_enrolled(session: AsyncSession, caller: Principal) -> bool:
    confirmed = await session.scalar(
        select(User.totp_confirmed_at).where(User.id == caller.user_id)
    )
    return confirmed is not None
