"""Request-scoped dependencies: the database session (one transaction per request) and the caller."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.errors import DomainError
from service.http.state import AppResources, resources
from service.principal import Principal


async def provide_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """Commit when the handler succeeds; on failure roll back, then keep what must be kept.

    The commit happens before the response leaves, so data whose audit row cannot be written
    is never returned.
    """
    res = resources(state)
    async with res.sessionmaker() as session:
        try:
            yield session
        except DomainError as exc:
            await session.rollback()
            if exc.keep_rows:
                session.add_all(exc.keep_rows)
                await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException()
    return user


def provide_clock(state: State) -> Clock:
    return resources(state).clock


def provide_resources(state: State) -> AppResources:
    return resources(state)
