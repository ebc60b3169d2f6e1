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
- A second factor (TOTP or a recovery code) is part of the same attempt: a wrong one leaves the
  claim a failure (and is audited), so guesses at codes spend the same budgets as passwords. A
  right password without a code is neither: its claim is withdrawn and the answer says a code
  is needed (the board's second step then claims again, on the same budgets).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import LoginAttempt, RecoveryCode, RevokedToken, User, UserSession
from service import audit
from service.errors import InvalidInput, NotAuthenticated, SecondFactorRequired, TooManyRequests
from service.identity import devices, passwords, resets, tickets, tokens, totp
from service.principal import ADMIN, ANY_USER, MANAGER_AND_ADMIN, Principal, Role
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
    # Roles that must sign in with a second factor (HOMEWARD_REQUIRE_TOTP).
    totp_roles: frozenset[Role] = frozenset()


_TOTP_ROLES: dict[str, frozenset[Role]] = {
    "privileged": MANAGER_AND_ADMIN | ADMIN,
    "all": ANY_USER,
    "off": frozenset(),
}


def policy_of(settings: Settings) -> LoginPolicy:
    return LoginPolicy(
        secret=settings.jwt_secret,
        ttl=timedelta(minutes=settings.jwt_ttl_minutes),
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
        totp_roles=_TOTP_ROLES[settings.require_totp],
    )


def must_enrol(policy: LoginPolicy, user: User) -> bool:
    """Whether this user's sign-in must set up TOTP before anything else."""
    return user.role in policy.totp_roles and user.totp_confirmed_at is None


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
    totp_code: str | None = None,
    recovery_code: str | None = None,
    kind: str = "api",
    user_agent: str = "",
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
        claim = await _claim(
            session, [account, _address_budget(policy, client_address)], since, now
        )
        if claim is None:
            raise _too_many(policy)
    before, claim_ids = claim
    # The claim's commit expired what the session held; read the user again.
    user = await session.scalar(select(User).where(User.email == address))

    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        error = NotAuthenticated("Email or password is not correct.")
        if user is not None and before.get(account.key, -1) + 1 == policy.max_failures:
            error.keeping(_locked_event(user, policy, now))
        raise error
    # A reset code signs in once and only in time (refused like a wrong password).
    await resets.redeem_at_sign_in(session, user, now)

    if user.totp_confirmed_at is not None:
        if not totp_code and not recovery_code:
            # Neither a success nor a failure: the claim is withdrawn, and the caller is told
            # to send a code (the board gets a ticket for its second step).
            await session.execute(
                delete(LoginAttempt).where(LoginAttempt.id.in_(list(claim_ids.values())))
            )
            ticket = tickets.issue(policy.secret, user.id, user.token_version, nonce, now)
            await session.commit()
            raise SecondFactorRequired(
                "This account signs in with a code from its authenticator app: send "
                "totp_code (or a recovery_code) with the email and password.",
                ticket=ticket,
            )
        await _check_second_factor(
            session, policy, user, totp_code, recovery_code, now, before.get(account.key)
        )

    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return await _signed_in(
        session,
        policy,
        user,
        account.key,
        claim_ids,
        device_token if nonce else None,
        now=now,
        kind=kind,
        user_agent=user_agent,
    )


async def complete_login(
    session: AsyncSession,
    policy: LoginPolicy,
    *,
    ticket: str | None,
    totp_code: str | None,
    recovery_code: str | None,
    client_address: str,
    now: datetime,
    device_token: str | None = None,
    kind: str = "board",
    user_agent: str = "",
) -> LoginResult:
    """The second step of a sign-in whose password was right (the board's code page)."""
    expired = NotAuthenticated("The sign-in has expired; enter your email and password again.")
    note = tickets.read(policy.secret, ticket, now)
    if note is None:
        raise expired
    user = await session.get(User, note.user_id)
    if (
        user is None
        or not user.active
        or user.token_version != note.token_version
        or user.totp_confirmed_at is None
    ):
        raise expired
    since = now - policy.window
    account = _Budget(_key("email", user.email), policy.max_failures, forgiving=True)
    claim = None
    # The same budgets the first step spent: a known device keeps its own.
    if note.device_nonce is not None:
        device = _Budget(_key("device", note.device_nonce), policy.max_failures, forgiving=True)
        claim = await _claim(session, [device], since, now)
    if claim is None:
        note = tickets.Ticket(note.user_id, note.token_version, None)
        claim = await _claim(
            session, [account, _address_budget(policy, client_address)], since, now
        )
        if claim is None:
            raise _too_many(policy)
    before, claim_ids = claim
    user = await session.get(User, note.user_id, populate_existing=True)
    if user is None or not user.active:
        raise expired
    await _check_second_factor(
        session, policy, user, totp_code, recovery_code, now, before.get(account.key)
    )
    return await _signed_in(
        session,
        policy,
        user,
        account.key,
        claim_ids,
        device_token if note.device_nonce else None,
        now=now,
        kind=kind,
        user_agent=user_agent,
    )


def _address_budget(policy: LoginPolicy, client_address: str) -> _Budget:
    return _Budget(
        _key("ip", client_address), policy.max_failures * ADDRESS_FACTOR, forgiving=False
    )


def _locked_event(user: User, policy: LoginPolicy, now: datetime) -> object:
    # This failure spent the account's budget: the audit log says so now, and the user hears
    # of it at their next sign-in (failed_attempts).
    return audit.event(
        None,
        "auth.sign_in_locked",
        at=now,
        object_type="user",
        object_id=user.id,
        detail={"failures": policy.max_failures},
    )


async def _check_second_factor(
    session: AsyncSession,
    policy: LoginPolicy,
    user: User,
    totp_code: str | None,
    recovery_code: str | None,
    now: datetime,
    account_failures_before: int | None,
) -> None:
    """Accept a current TOTP code (once per time step) or an unused recovery code, or refuse:
    the claim stays a failure, and the refusal is audited (kept past the rollback)."""
    used = None
    if totp_code:
        used = await _accept_totp(session, user, totp_code, now)
    elif recovery_code:
        used = await _accept_recovery_code(session, user, recovery_code, now)
    if used is not None:
        if used[0]:  # a recovery code spent is worth knowing of; a TOTP code is routine
            audit.record(
                session,
                None,
                used[0],
                at=now,
                object_type="user",
                object_id=user.id,
                detail=used[1],
            )
        return
    error = NotAuthenticated("The code is not correct, or was used already.")
    error.keeping(
        audit.event(
            None,
            "auth.second_factor_refused",
            at=now,
            object_type="user",
            object_id=user.id,
            detail={"kind": "totp" if totp_code else "recovery_code"},
        )
    )
    if account_failures_before is not None and account_failures_before + 1 == policy.max_failures:
        error.keeping(_locked_event(user, policy, now))
    raise error


async def _accept_totp(
    session: AsyncSession, user: User, code: str, now: datetime
) -> tuple[str, dict[str, object]] | None:
    if user.totp_secret is None:
        return None
    step = totp.matching_step(user.totp_secret, code, now, user.totp_last_step)
    if step is None:
        return None
    # Conditional, so two requests racing with the same code cannot both win.
    taken = await session.execute(
        update(User)
        .where(
            User.id == user.id,
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return ("", {}) if taken.rowcount == 1 else None  # type: ignore[attr-defined]


async def _accept_recovery_code(
    session: AsyncSession, user: User, code: str, now: datetime
) -> tuple[str, dict[str, object]] | None:
    rows = (
        await session.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
    ).all()
    match = next((r for r in rows if totp.recovery_code_matches(code, r.salt, r.code_hash)), None)
    if match is None:
        return None
    taken = await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return "auth.recovery_code_used", {"remaining": len(rows) - 1}


async def _signed_in(
    session: AsyncSession,
    policy: LoginPolicy,
    user: User,
    account_key: str,
    claim_ids: dict[str, int],
    known_device_token: str | None,
    *,
    now: datetime,
    kind: str,
    user_agent: str,
) -> LoginResult:
    failed = await _failures_since_last_success(
        session, account_key, now, below=claim_ids.get(account_key)
    )
    # The claims become successes: for the account and a device that forgives the failures
    # before them (the lock ends); the address's row simply stops counting as a failure.
    await session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.id.in_(list(claim_ids.values())))
        .values(succeeded=True)
    )
    if account_key not in claim_ids:  # signed in on a known device
        session.add(LoginAttempt(key=account_key, attempted_at=now, succeeded=True))
    token, expires_at = await start_session(
        session, policy, user, now=now, kind=kind, user_agent=user_agent
    )
    return LoginResult(
        access_token=token,
        expires_at=expires_at,
        user=user,
        # A known device keeps its token (and its budget); anyone else gets a new one.
        device_token=known_device_token or devices.issue(policy.secret, user.id, now),
        failed_attempts=failed,
    )


async def start_session(
    session: AsyncSession,
    policy: LoginPolicy,
    user: User,
    *,
    now: datetime,
    kind: str,
    user_agent: str,
    created_at: datetime | None = None,
) -> tuple[str, datetime]:
    """Issue a token and record its server-side session (idle timeout, "your sessions")."""
    token, expires_at, jti = tokens.issue_with_id(
        policy.secret,
        user.id,
        user.token_version,
        now,
        policy.ttl,
        enrol_totp=must_enrol(policy, user),
    )
    session.add(
        UserSession(
            jti=jti,
            user_id=user.id,
            kind=kind,
            created_at=created_at or now,
            last_seen_at=now,
            expires_at=expires_at,
            user_agent=user_agent[:200],
        )
    )
    # Sessions whose tokens have expired anyway are no longer needed.
    await session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now)
    )
    return token, expires_at


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
    await revoke(session, caller.user_id, caller.token_id, caller.token_expires_at, now)
    audit.record(
        session, caller, "auth.signed_out", at=now, object_type="user", object_id=caller.user_id
    )


async def revoke(
    session: AsyncSession, user_id: object, jti: str, expires_at: datetime, now: datetime
) -> None:
    await session.execute(
        insert(RevokedToken)
        .values(jti=jti, user_id=user_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
    )
    await session.execute(delete(UserSession).where(UserSession.jti == jti))
    # Revocations of tokens that have expired anyway are no longer needed.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))


async def reissue(
    session: AsyncSession, policy: LoginPolicy, caller: Principal, user: User, now: datetime
) -> tuple[str, datetime]:
    """End every token of this user (this one too) and answer a fresh one for this session.

    The token version moves, so tokens with no session row end as well; the caller's session
    keeps its place in "your sessions" (its start and device) under the new token.
    """
    current = (
        await session.get(UserSession, caller.token_id) if caller.token_id is not None else None
    )
    user.token_version += 1
    user.updated_at = now
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    await session.flush()
    return await start_session(
        session,
        policy,
        user,
        now=now,
        kind=current.kind if current else "api",
        user_agent=current.user_agent if current else "",
        created_at=current.created_at if current else None,
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
    """Change one's own password: ends every other session and any forced change; a fresh token.

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
    # A pending reset code ends with the change (reissue below ends every other session).
    await resets.end_reset(session, user.id)
    audit.record(
        session, caller, "user.password_changed", at=now, object_type="user", object_id=user.id
    )
    token, expires_at = await reissue(session, policy, caller, user, now)
    return LoginResult(
        access_token=token,
        expires_at=expires_at,
        user=user,
        device_token=devices.issue(policy.secret, user.id, now),
        failed_attempts=0,
    )
