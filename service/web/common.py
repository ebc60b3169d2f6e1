"""What every page handler shares: the page opt, form reading, and the context every template gets."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User, Ward
from service.errors import InvalidInput
from service.health.sweeps import stale_sweeps
from service.http.auth import PAGE_KEY, roles
from service.http.state import AppResources
from service.principal import Principal, Role
from service.timezones import DEFAULT_TIMEZONE
from service.web.session import CSRF_FIELD, check_csrf, request_csrf

MAX_FIELD = 4000

# Pages hold patient data: never cached, never framed, and only our own script and styles run
# (the templates have no inline script or style, so the policy costs nothing).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page(
    *allowed: frozenset[Role],
    during_password_change: bool = False,
    during_enrolment: bool = False,
) -> dict[str, Any]:
    """Route opt for a page: cookie authentication and the roles that may open it."""
    opt = roles(
        *allowed, during_password_change=during_password_change, during_enrolment=during_enrolment
    )
    return {**opt, PAGE_KEY: True}


async def form_of(
    request: Request[Any, Any, Any], res: AppResources, *, csrf: bool = True
) -> dict[str, str]:
    """The submitted form as plain strings, after the CSRF check."""
    raw = await request.form()
    fields = {k: str(v)[:MAX_FIELD] for k, v in raw.items() if isinstance(v, str)}
    if csrf:
        check_csrf(request, res.settings.jwt_secret, fields.get(CSRF_FIELD))
    return fields


def uuid_field(fields: dict[str, str], name: str, *, required: bool = True) -> uuid.UUID | None:
    value = fields.get(name, "").strip()
    if not value:
        if required:
            raise InvalidInput.field(name, "is required")
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput.field(name, "is not a valid choice") from None


async def ward_zone(session: AsyncSession, caller: Principal) -> ZoneInfo:
    """The caller's ward's time zone; agency workers and admins see UK time."""
    if caller.ward_id is not None:
        name = await session.scalar(select(Ward.timezone).where(Ward.id == caller.ward_id))
        if name:
            return ZoneInfo(name)
    return ZoneInfo(DEFAULT_TIMEZONE)


async def render(
    request: Request[Any, Any, Any],
    res: AppResources,
    session: AsyncSession,
    caller: Principal,
    name: str,
    *,
    status_code: int = 200,
    tz: ZoneInfo | None = None,
    **context: Any,
) -> Template:
    me = await session.scalar(select(User.full_name).where(User.id == caller.user_id))
    return Template(
        template_name=name,
        context={
            "caller": caller,
            "me": me or "",
            "csrf": request_csrf(request, res.settings.jwt_secret),
            "tz": tz or await ward_zone(session, caller),
            "now": res.clock.now(),
            # Everyone is told when the worker is late: alerts may not be going out.
            "sweeps_stale": bool(
                await stale_sweeps(session, res.clock.now(), res.settings.jobs_interval_seconds)
            ),
            **context,
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


def back_to(path: str) -> Redirect:
    # 303: after a POST the browser fetches the page again with GET (no resubmission on reload).
    return Redirect(path, status_code=303)


async def names_of(
    session: AsyncSession, user_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Staff names for "who did this" columns (goal history, plan versions, consents)."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
    return {row.id: row.full_name for row in rows}
