"""Engine and session factories. One engine per process; one session per request or sweep run."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg driver SQLAlchemy expects."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The plain libpq-style DSN asyncpg.connect() accepts (for bare-SQL tools and benchmarks)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip per checkout): a connection found dead raises a disconnect
        # error, which invalidates the whole pool, and the request answers 503 once.
        pool_pre_ping=False,
        pool_recycle=1800,
        # Fail fast instead of hanging when the database is away; callers turn this into 503.
        connect_args={"timeout": 5, "command_timeout": 30, "server_settings": {"timezone": "UTC"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


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
