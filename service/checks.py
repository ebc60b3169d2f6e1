"""Small checks several domains share, so each rule is written once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import DomainError, InvalidInput

# Clock skew allowed between a ward PC and the server for "when did this happen" times.
FUTURE_TOLERANCE = timedelta(minutes=5)


def check_aware(at: datetime, field: str) -> datetime:
    """`at` unless it is naive (422 on `field`). Bodies and query strings refuse naive times
    while decoding (`service.timezones.AwareDatetime`, `service.http.params`); this guards
    services called from elsewhere (jobs, the CLI, pages)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput.field(field, "needs a time zone offset (RFC 3339)")
    return at


def check_not_future(at: datetime, now: datetime, field: str) -> datetime:
    """`at` in UTC, unless it lies beyond the allowed skew in the future (422 on `field`)."""
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput.field(field, "must not be in the future")
    return at.astimezone(UTC)


async def flush_or(session: AsyncSession, error: Callable[[], DomainError]) -> None:
    """Flush inside a savepoint; a unique-key clash becomes `error()`, the transaction lives on."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise error() from None
