"""Annotated types for handler signatures: explicit dependencies, path, query and body markers."""

from __future__ import annotations

import uuid
from typing import Annotated, TypeVar

from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter, SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
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

__all__ = ["DEFAULT_LIMIT", "Caller", "ClockDep", "Cursor", "Db", "IdPath", "Limit", "Res"]
