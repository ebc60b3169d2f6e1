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


SESSION_KEY = "homeward.db_session"


def request_session(scope: Any, res: AppResources) -> AsyncSession:
    """The one session of this request, created on first use and closed by the session middleware."""
    state = scope.setdefault("state", {})
    session: AsyncSession | None = state.get(SESSION_KEY)
    if session is None:
        session = res.sessionmaker()
        state[SESSION_KEY] = session
    return session


def resources(app_state: Any) -> AppResources:
    res: AppResources = app_state.resources
    return res
