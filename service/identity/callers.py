"""Turning a bearer token back into the caller, checked against the database's current rows.

The rows come from the principal cache when it holds them (service.identity.principal_cache:
forgotten at once when PostgreSQL reports a change), else from one query.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RevokedToken, User, UserSession
from service.errors import NotAuthenticated
from service.identity import tokens
from service.identity.principal_cache import TOKEN_OPTION, PrincipalCache, Snapshot
from service.principal import Principal

# Built once, on the table rather than the mapped class: the cache key is memoised and the
# ORM's compile and loading steps are skipped, so each request only binds the id.
_users = User.__table__.c
_revoked = RevokedToken.__table__.c
_sessions = UserSession.__table__.c
# One round trip still: whether this very token was signed out rides along as a column.
PRINCIPAL_QUERY = select(
    _users.id,
    _users.role,
    _users.ward_id,
    _users.agency_id,
    _users.active,
    _users.token_version,
    _users.must_change_password,
    exists()
    .where(_revoked.jti == bindparam("token_id"))
    .correlate_except(RevokedToken.__table__)
    .label("revoked"),
    # The token's server-side session, by primary key in the same round trip (None for a
    # token no sign-in recorded, e.g. one issued before sessions were kept).
    select(_sessions.last_seen_at)
    .where(_sessions.jti == bindparam("token_id"))
    .correlate_except(UserSession.__table__)
    .scalar_subquery()
    .label("last_seen"),
).where(_users.id == bindparam("user_id"))


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    # When the token's session was last used (None: no session row).
    last_seen: datetime | None


async def principal_for_token(
    session: AsyncSession,
    secret: str,
    token: str,
    now: datetime,
    request_id: str | None,
    cache: PrincipalCache | None = None,
) -> Principal:
    return (await authenticate(session, secret, token, now, request_id, cache)).principal


async def authenticate(
    session: AsyncSession,
    secret: str,
    token: str,
    now: datetime,
    request_id: str | None,
    cache: PrincipalCache | None = None,
) -> Authenticated:
    """The caller behind a token, as the database has it now.

    Checking the user's current row on every request (cached or read) is what makes a
    deactivation, a sign-out or a role change take effect at once.
    """
    claims = tokens.verify(secret, token, now)
    if claims is None:
        raise NotAuthenticated("The access token is missing, invalid or expired.")
    row = await _principal_row(session, cache, claims.user_id, claims.token_id)
    if row is None or not row.active or row.revoked or row.token_version != claims.token_version:
        raise NotAuthenticated("The access token is missing, invalid or expired.")
    principal = Principal(
        user_id=row.id,
        role=row.role,
        ward_id=row.ward_id,
        agency_id=row.agency_id,
        request_id=request_id,
        must_change_password=row.must_change_password,
        token_id=claims.token_id,
        token_expires_at=claims.expires_at,
        token_version=row.token_version,
        must_enrol_totp=claims.enrol_totp,
    )
    return Authenticated(principal, row.last_seen)


async def _principal_row(
    session: AsyncSession, cache: PrincipalCache | None, user_id: uuid.UUID, token_id: str
) -> Snapshot | None:
    if cache is not None:
        cached = cache.get(token_id, user_id)
        if cached is not None:
            return cached
        generation = cache.generation
    row = (
        await session.execute(PRINCIPAL_QUERY, {"user_id": user_id, "token_id": token_id})
    ).one_or_none()
    if row is None:
        return None
    snapshot = Snapshot.of(row)
    if cache is not None:
        cache.put(token_id, snapshot, generation)
    return snapshot


# A session's activity is written at most this often (not a write per page view).
TOUCH_EVERY = timedelta(minutes=1)
_TOUCH = (
    update(UserSession)
    .where(_sessions.jti == bindparam("token_id"))
    .values(last_seen_at=bindparam("now"))
)


async def touch(session: AsyncSession, token_id: str, now: datetime) -> None:
    """Note that this session was used now (committed at once: it outlives a refused request)."""
    await session.execute(
        _TOUCH,
        {"token_id": token_id, "now": now},
        # Only this token's row changes, so only it is forgotten from the cache.
        execution_options={TOKEN_OPTION: token_id},
    )
    await session.commit()
