"""Annotated types for handler signatures: explicit dependencies, path, query and body markers."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, TypeVar

from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter, SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.errors import InvalidInput
from service.http.state import AppResources
from service.pagination import DEFAULT_LIMIT, MAX_LIMIT
from service.principal import Principal

T = TypeVar("T")

# Injected objects are ours; validating them per request would only cost time.
Db = NamedDependency[SkipValidation[AsyncSession]]
Caller = NamedDependency[SkipValidation[Principal]]
ClockDep = NamedDependency[SkipValidation[Clock]]
Res = NamedDependency[SkipValidation[AppResources]]

IdPath = Annotated[uuid.UUID, PathParameter()]
Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")
]
Cursor = Annotated[
    str | None, QueryParameter(min_length=1, max_length=200, description="from next_cursor")
]

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def time_query(description: str, *, name: str | None = None) -> QueryParameter:
    """A query parameter holding an RFC 3339 time, declared as a string: a `datetime` query
    parameter would also take numbers as Unix timestamps (`?to=0.5`). Parse it with
    `parse_time_query`."""
    return QueryParameter(
        name=name, format="date-time", min_length=1, max_length=64, description=description
    )


def parse_time_query(value: str | None, field: str) -> datetime | None:
    """RFC 3339 with a date, a time and an offset, else a 422 naming `field`."""
    if value is None:
        return None
    if not _RFC3339.match(value):
        raise InvalidInput.field(field, "must be an RFC 3339 time with an offset")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise InvalidInput.field(field, "must be an RFC 3339 time with an offset") from None


__all__ = ["DEFAULT_LIMIT", "Caller", "ClockDep", "Cursor", "Db", "IdPath", "Limit", "Res"]
