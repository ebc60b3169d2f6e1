"""What create_app puts on app.state, typed in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.clock import Clock
from service.identity.principal_cache import PrincipalCache
from service.settings import Settings


@dataclass
class AppResources:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Filled in lifespan (e.g. the SMS gateway); typed loosely so this module stays leaf-level.
    extras: dict[str, Any]
    # Serving only while its listener is connected (service.identity.principal_cache).
    principal_cache: PrincipalCache | None = None
    # For routes declared STANDALONE (db.engine.make_standalone_sessionmaker); None behind a
    # transaction pooler, where every request keeps its transaction.
    standalone_sessionmaker: async_sessionmaker[AsyncSession] | None = None


SESSION_KEY = "homeward.db_session"
# Route option: every statement the route's requests send stands alone, so they run without
# BEGIN/COMMIT. Declared per route after review (`roles(..., standalone=True)`), never assumed:
# a route that writes twice, locks, or uses SET LOCAL must not carry it.
STANDALONE_KEY = "standalone_statements"


def request_session(scope: Any, res: AppResources) -> AsyncSession:
    """The one session of this request, created on first use and closed by the session middleware."""
    state = scope.setdefault("state", {})
    session: AsyncSession | None = state.get(SESSION_KEY)
    if session is None:
        maker = res.sessionmaker
        handler = scope.get("route_handler")
        if (
            res.standalone_sessionmaker is not None
            and handler is not None
            and handler.opt.get(STANDALONE_KEY)
        ):
            maker = res.standalone_sessionmaker
        session = maker()
        state[SESSION_KEY] = session
    return session


def resources(app_state: Any) -> AppResources:
    res: AppResources = app_state.resources
    return res
