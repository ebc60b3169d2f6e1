"""Engine and session factories. One engine per process; one session per request or sweep run."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# `DATABASE_URL=postgresql://user@pgbouncer:6432/homeward?pgbouncer=transaction` says the
# server is reached through PgBouncer in transaction pooling mode. The flag is ours, not
# libpq's: it is taken out of the URL here and turned into connection settings, so every
# engine (API, worker, CLI, migrations) is configured from the one URL the same way.
POOLER_PARAM = "pgbouncer"
POOLER_MODES = {"transaction", "session"}


def _parse(url: str) -> tuple[URL, str | None]:
    """The URL without our pooler flag, and the flag's value (None when absent)."""
    parsed = make_url(url)
    mode = parsed.query.get(POOLER_PARAM)
    if isinstance(mode, tuple):
        mode = mode[-1]
    if mode is not None and mode not in POOLER_MODES:
        raise ValueError(f"{POOLER_PARAM}= must be one of {sorted(POOLER_MODES)}")
    return parsed.difference_update_query([POOLER_PARAM]), mode


def behind_transaction_pooler(url: str) -> bool:
    return _parse(url)[1] == "transaction"


def async_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg driver SQLAlchemy expects."""
    parsed, _ = _parse(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The plain libpq-style DSN asyncpg.connect() accepts (for bare-SQL tools and benchmarks)."""
    parsed, _ = _parse(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _unique_statement_name() -> str:
    return f"__homeward_{uuid.uuid4().hex}__"


def connect_args(url: str, *, command_timeout: float = 30) -> dict[str, Any]:
    """asyncpg's connection settings for `url`.

    Through a transaction pooler, consecutive transactions of one client may run on different
    server connections, and a server connection serves many clients. So no prepared statement
    may outlive its transaction or collide with another client's: asyncpg's statement cache is
    off (it then re-parses inside the transaction rather than trust a statement across a
    Flush), SQLAlchemy's own cache of them is off too,
    and the statements SQLAlchemy still prepares get names no other client can pick."""
    args: dict[str, Any] = {
        # Fail fast instead of hanging when the database is away; callers turn this into 503.
        "timeout": 5,
        "command_timeout": command_timeout,
        # PgBouncer passes TimeZone on to whichever server connection it assigns.
        "server_settings": {"timezone": "UTC"},
    }
    if behind_transaction_pooler(url):
        args["statement_cache_size"] = 0
        args["prepared_statement_cache_size"] = 0
        args["prepared_statement_name_func"] = _unique_statement_name
    return args


def create_engine_for(url: str, **kwargs: Any) -> AsyncEngine:
    """The one way an engine is made from a DATABASE_URL (pooler flag included)."""
    command_timeout = kwargs.pop("command_timeout", 30)
    return create_async_engine(
        async_url(url), connect_args=connect_args(url, command_timeout=command_timeout), **kwargs
    )


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_engine_for(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip per checkout): a connection found dead raises a disconnect
        # error, which invalidates the whole pool, and the request answers 503 once.
        pool_pre_ping=False,
        pool_recycle=1800,
    )


# In the `info` of every session whose statements commit as they run: a rollback there undoes
# nothing, so whatever watches commits (the principal cache) must treat it as one.
AUTOCOMMIT_INFO_KEY = "homeward.autocommit"


def make_sessionmaker(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


def make_standalone_sessionmaker(
    engine: AsyncEngine, url: str
) -> async_sessionmaker[AsyncSession] | None:
    """Sessions on the same pool whose statements each commit on their own: no BEGIN and no
    COMMIT round trip, for work whose every statement stands alone (a read, or a read that
    writes its audit row in the same statement). Every other session begins READ COMMITTED
    (asyncpg names it in its BEGIN), where each statement takes its own snapshot anyway, so such
    work reads the same; this assumes the server's default isolation is READ COMMITTED too (it
    is PostgreSQL's). What it gives up is rolling several writes back together, undoing a write
    when a later step fails, and holding a lock past its statement.

    None behind a transaction pooler: there the server connection may change between the
    statement SQLAlchemy prepares and its execution, so every statement needs a transaction."""
    if behind_transaction_pooler(url):
        return None
    return make_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), info={AUTOCOMMIT_INFO_KEY: True}
    )


async def plan_for_these_values(session: AsyncSession) -> None:
    """Until the session's transaction ends, plan every statement for the values it runs with.

    asyncpg prepares each statement once per connection. After five runs PostgreSQL may keep a
    generic plan, made without the parameters: a period's size and the wards asked for are then
    guessed blind (rows estimated 60 times too few for two years of check-ins), and the plan
    kept is whatever suits that guess. Reports that take a period as a parameter call this
    first; planning afresh costs a fraction of a millisecond a statement. SET LOCAL: undone at
    commit or rollback, so it never outlives the request, also through a transaction pooler.
    Without a transaction (a standalone session) it would last one statement: refused there.
    """
    if session.info.get(AUTOCOMMIT_INFO_KEY):
        raise RuntimeError("plan_for_these_values needs a transaction; this session has none")
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def connection_failure(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, is a lost or refused connection
    (or no connection free in the pool)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, OSError, PoolTimeout)):
            return True
        name = type(current).__name__
        if name in {
            "ConnectionDoesNotExistError",
            "CannotConnectNowError",
            "TooManyConnectionsError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached (down, restarting, the pool
    exhausted), as against a statement it refused: what the inbound webhook spools for."""
    if isinstance(exc, DBAPIError):
        code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if code.startswith(("08", "57P")) or exc.connection_invalidated:
            return True
    return connection_failure(exc)
