"""Request-scoped dependencies: the database session (one transaction per request) and the caller."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.errors import DomainError
from service.http.params import ClockDep, Db
from service.http.state import SESSION_KEY, AppResources, request_session, resources
from service.principal import Principal

# The providers form a chain on purpose: clock <- db <- caller. Litestar resolves the
# dependencies of one depth concurrently, in an anyio task group per request, which costs
# more than the providers themselves; a chain resolves them one after another instead.
# (The session does not use the clock, and the caller was already read in that session by
# the authentication middleware.)


async def provide_session(
    request: Request[Any, Any, Any], clock: ClockDep
) -> AsyncGenerator[AsyncSession, None]:
    """Commit when the handler succeeds; on failure roll back, then keep what must be kept.

    The commit happens before the response leaves, so data whose audit row cannot be written
    is never returned. On a route declared standalone each statement has already committed as
    it ran, so a failure undoes nothing (an allowed read's audit row stays, which only ever adds
    a row). The session itself is closed by `close_request_session` at the very end.
    """
    del clock  # only orders the dependencies (see above)
    session = request_session(request.scope, resources(request.app.state))
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


def close_request_session(app: ASGIApp) -> ASGIApp:
    """Middleware just inside the observability one: whatever happened, the connection goes back."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            session = scope.get("state", {}).get(SESSION_KEY)
            if session is not None:
                await session.close()

    return middleware


def provide_principal(request: Request[Any, Any, Any], db: Db) -> Principal:
    del db  # only orders the dependencies (see above)
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException()
    return user


def provide_clock(state: State) -> Clock:
    return resources(state).clock


def provide_resources(state: State) -> AppResources:
    return resources(state)
