"""Annotated types for handler signatures: explicit dependencies, path, query and body markers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

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
# A message template's purpose and language tag (checked by service.message_templates).
PurposePath = Annotated[
    str, PathParameter(description="e.g. checkin.prompt, crisis.reply.discreet")
]
LanguagePath = Annotated[
    str, PathParameter(description="BCP 47 language tag, e.g. en, cy, pl, pt-BR")
]
Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")
]
Cursor = Annotated[
    str | None, QueryParameter(min_length=1, max_length=200, description="from next_cursor")
]

# RFC 3339 with an offset, nothing looser (a bare number would otherwise pass as epoch seconds).
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"


def timestamp_query(description: str, name: str | None = None) -> Any:
    extra: dict[str, Any] = {"name": name} if name else {}
    return QueryParameter(
        pattern=TIMESTAMP_PATTERN, max_length=40, description=f"RFC 3339. {description}", **extra
    )


def parse_timestamp(value: str | None, field: str) -> datetime | None:
    """The aware datetime of a pattern-checked query value (422 if it is not a real instant)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInput.field(field, "is not an RFC 3339 timestamp") from None


__all__ = [
    "DEFAULT_LIMIT",
    "Caller",
    "ClockDep",
    "Cursor",
    "Db",
    "IdPath",
    "LanguagePath",
    "Limit",
    "PurposePath",
    "Res",
]
