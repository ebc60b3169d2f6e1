"""Sign-in, sign-out and changing one's own password, with brute-force throttling.

What the throttle does (OWASP's brute-force guidance, "device cookies"):
- Every attempt is claimed before its password is checked: under a transaction-scoped advisory
  lock on each throttle key, recent failures are counted and a failure row is committed; only
  then is the password verified. Concurrent guesses therefore cannot exceed the limit.
- From an unknown device, an account takes `max_failures` failed guesses per window and an
  address `max_failures * 4` (then 429 without checking the password).
- From a device where this user signed in before (a signed device token: the board's cookie,
  or `device_token` in the API's login body) the account and address limits do not apply; the
  device has its own budget of `max_failures`, after which it counts as unknown. A stranger's
  guesses therefore never keep the real user out of their own device.
- A verified login turns its claim into a success, which forgives the account's failures
  before it: the lock ends. (Address failures are not forgiven: one's own account must not
  buy fresh guesses at others'.)
- When an account's budget runs out an audit event `auth.sign_in_locked` is written, and the
  next sign-in answers how many failed attempts there were since the last one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import LoginAttempt, RevokedToken, User
from service import audit
from service.errors import InvalidInput, NotAuthenticated, TooManyRequests
from service.identity import devices, passwords, resets, tokens
from service.principal import Principal
from service.settings import Settings

ADDRESS_FACTOR = 4
# How far back "failed attempts since you last signed in" looks.
NOTICE_HORIZON = timedelta(days=30)


@dataclass(frozen=True)
class LoginPolicy:
    secret: str
    ttl: timedelta
    max_failures: int
    window: timedelta


def policy_of(settings: Settings) -> LoginPolicy:
    return LoginPolicy(
        secret=settings.jwt_secret,
        ttl=timedelta(minutes=settings.jwt_ttl_minutes),
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
    )


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    expires_at: datetime
    user: User
    device_token: str
    # Failed attempts on this account since its previous successful sign-in.
    failed_attempts: int


@dataclass(frozen=True)
class _Budget:
    key: str
    limit: int
    # Whether a success on this key forgives the failures before it.
    forgiving: bool


def _key(kind: str, value: str) -> str:
    # Hashed so the table never holds an email address, a client address or a device id.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:64]}"


def _last_success(key: str) -> object:
    return (
        select(func.coalesce(func.max(LoginAttempt.id), 0))
        .where(LoginAttempt.key == key, LoginAttempt.succeeded.is_(True))
        .scalar_subquery()
    )


async def _failures(session: AsyncSession, budget: _Budget, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.key == budget.key,
            LoginAttempt.attempted_at > since,
            LoginAttempt.succeeded.is_(False),
        )
    )
    if budget.forgiving:
        query = query.where(LoginAttempt.id > _last_success(budget.key))
    return int(await session.scalar(query) or 0)


async def _lock(session: AsyncSession, keys: list[str]) -> None:
    # Sorted, so two requests sharing keys always take them in the same order (no deadlock).
    for key in sorted(set(keys)):
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def _claim(
    session: AsyncSession, budgets: list[_Budget], since: datetime, now: datetime
) -> tuple[dict[str, int], dict[str, int]] | None:
    """Count and record one attempt on every budget, committed before any password check.

    None when a budget is spent (nothing recorded); else each key's failures before this
    attempt and the id of the failure row it now holds.
    """
    await _lock(session, [b.key for b in budgets])
    before: dict[str, int] = {}
    for budget in budgets:
        before[budget.key] = await _failures(session, budget, since)
        if before[budget.key] >= budget.limit:
            await session.rollback()  # releases the locks
            return None
    rows = {b.key: LoginAttempt(key=b.key, attempted_at=now, succeeded=False) for b in budgets}
    session.add_all(rows.values())
    await session.flush()
    ids = {key: row.id for key, row in rows.items()}
    # The claim must be visible to every other request (and outlive a 401) before we go on.
    await session.commit()
    return before, ids


def _too_many(policy: LoginPolicy) -> TooManyRequests:
    return TooManyRequests(
        "Too many failed sign-in attempts; try again later.",
        retry_after_seconds=int(policy.window.total_seconds()),
    )


async def login(
    session: AsyncSession,
    policy: LoginPolicy,
    *,
    email: str,
    password: str,
    client_address: str,
    now: datetime,
    device_token: str | None = None,
) -> LoginResult:
    address = email.strip().lower()
    user = await session.scalar(select(User).where(User.email == address))
    since = now - policy.window
    account = _Budget(_key("email", address), policy.max_failures, forgiving=True)

    claim = None
    nonce = devices.device_of(policy.secret, device_token, user.id, now) if user else None
    if nonce is not None:
        # A known device spends its own budget; once that is spent it counts as unknown.
        device = _Budget(_key("device", nonce), policy.max_failures, forgiving=True)
        claim = await _claim(session, [device], since, now)
    if claim is None:
        nonce = None
        by_address = _Budget(
            _key("ip", client_address), policy.max_failures * ADDRESS_FACTOR, forgiving=False
        )
        claim = await _claim(session, [account, by_address], since, now)
        if claim is None:
            raise _too_many(policy)
    before, claim_ids = claim
    # The claim's commit expired what the session held; read the user again.
    user = await session.scalar(select(User).where(User.email == address))

    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        error = NotAuthenticated("Email or password is not correct.")
        if user is not None and before.get(account.key, -1) + 1 == policy.max_failures:
            # This failure spent the account's budget: the audit log says so now, and the
            # user hears of it at their next sign-in (failed_attempts).
            error.keeping(
                audit.event(
                    None,
                    "auth.sign_in_locked",
                    at=now,
                    object_type="user",
                    object_id=user.id,
                    detail={"failures": policy.max_failures},
                )
            )
        raise error
    # A reset code signs in once and only in time (refused like a wrong password).
    await resets.redeem_at_sign_in(session, user, now)

    failed = await _failures_since_last_success(
        session, account.key, now, below=claim_ids.get(account.key)
    )
    # The claims become successes: for the account and a device that forgives the failures
    # before them (the lock ends); the address's row simply stops counting as a failure.
    await session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.id.in_(list(claim_ids.values())))
        .values(succeeded=True)
    )
    if account.key not in claim_ids:  # signed in on a known device
        session.add(LoginAttempt(key=account.key, attempted_at=now, succeeded=True))
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    token, expires_at = tokens.issue(policy.secret, user.id, user.token_version, now, policy.ttl)
    return LoginResult(
        access_token=token,
        expires_at=expires_at,
        user=user,
        # A known device keeps its token (and its budget); anyone else gets a new one.
        device_token=device_token
        if nonce is not None and device_token
        else devices.issue(policy.secret, user.id, now),
        failed_attempts=failed,
    )


async def _failures_since_last_success(
    session: AsyncSession, key: str, now: datetime, below: int | None
) -> int:
    query = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.key == key,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > now - NOTICE_HORIZON,
            LoginAttempt.id > _last_success(key),
        )
    )
    if below is not None:
        query = query.where(LoginAttempt.id < below)
    return int(await session.scalar(query) or 0)


async def sign_out(session: AsyncSession, caller: Principal, now: datetime) -> None:
    """End the caller's token for good (the token check reads revoked_tokens every request)."""
    if caller.token_id is None or caller.token_expires_at is None:
        return
    await session.execute(
        insert(RevokedToken)
        .values(jti=caller.token_id, user_id=caller.user_id, expires_at=caller.token_expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
    )
    # Revocations of tokens that have expired anyway are no longer needed.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    audit.record(
        session, caller, "auth.signed_out", at=now, object_type="user", object_id=caller.user_id
    )


async def change_password(
    session: AsyncSession,
    policy: LoginPolicy,
    caller: Principal,
    *,
    current_password: str,
    new_password: str,
    now: datetime,
) -> LoginResult:
    """Change one's own password: ends every other token and any forced change; a fresh token.

    Wrong current passwords spend a budget of their own (a stolen token must not become a way
    to guess the password, nor a stranger's guesses at sign-in block the change).
    """
    problem = passwords.password_problem(new_password)
    if problem:
        raise InvalidInput.field("new_password", problem)
    if new_password == current_password:
        raise InvalidInput.field("new_password", "must differ from the current password")
    budget = _Budget(_key("change", caller.user_id.hex), policy.max_failures, forgiving=True)
    claim = await _claim(session, [budget], now - policy.window, now)
    if claim is None:
        raise _too_many(policy)
    user = await session.get(User, caller.user_id, populate_existing=True)
    if user is None or not user.active:
        raise NotAuthenticated("The access token is missing, invalid or expired.")
    if not passwords.verify_password(user.password_hash, current_password):
        raise InvalidInput.field("current_password", "is not correct")
    await session.execute(
        update(LoginAttempt).where(LoginAttempt.id == claim[1][budget.key]).values(succeeded=True)
    )
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    user.token_version += 1
    user.updated_at = now
    await resets.end_reset(session, user.id)
    audit.record(
        session, caller, "user.password_changed", at=now, object_type="user", object_id=user.id
    )
    await session.flush()
    token, expires_at = tokens.issue(policy.secret, user.id, user.token_version, now, policy.ttl)
    return LoginResult(
        access_token=token,
        expires_at=expires_at,
        user=user,
        device_token=devices.issue(policy.secret, user.id, now),
        failed_attempts=0,
    )
