"""Authentication middleware and the guards that deny by default.

Every route handler must declare its access in `opt`: either `public=True` or
`roles=frozenset(...)`. A handler that declares neither is refused for everyone.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from service.errors import (
    InvalidInput,
    NotAuthenticated,
    PasswordChangeRequired,
    TotpEnrolmentRequired,
)
from service.http.context import request_id_var
from service.http.state import STANDALONE_KEY, request_session, resources
from service.identity.callers import TOUCH_EVERY, authenticate, touch

# The role sets live with the Principal; controllers name them from here, beside `roles`.
from service.principal import ADMIN as ADMIN
from service.principal import AGENCY as AGENCY
from service.principal import ANY_USER as ANY_USER
from service.principal import MANAGER_AND_ADMIN as MANAGER_AND_ADMIN
from service.principal import WARD as WARD
from service.principal import WARD_AND_ADMIN as WARD_AND_ADMIN
from service.principal import Principal, Role

_PATH_PARAM_TYPE = re.compile(r":[a-z]+}")

PUBLIC_KEY = "public"
ROLES_KEY = "roles"
# Web pages (service.web) carry this: they authenticate from the session cookie, never a header.
PAGE_KEY = "page"
SESSION_COOKIE = "homeward_session"
# Routes that still answer while the caller must change their password (reading oneself,
# changing it, signing out); every other route refuses them with a problem saying so.
PASSWORD_CHANGE_KEY = "open_during_password_change"
# Likewise while a sign-in that requires TOTP has not set it up yet.
TOTP_ENROLMENT_KEY = "open_during_totp_enrolment"
# The live-refresh script marks its fragment requests with this header: polling is not use,
# so it neither keeps a board session alive nor counts as activity.
FRAGMENT_HEADER = "x-homeward-fragment"
# Set in the request's state when a page session ended for being idle (the sign-in page says so).
IDLE_STATE_KEY = "homeward.session_idle"
ENROLMENT_PATH = "/board/account/totp"


def public() -> dict[str, Any]:
    return {PUBLIC_KEY: True}


def roles(
    *allowed: frozenset[Role],
    during_password_change: bool = False,
    during_enrolment: bool = False,
    standalone: bool = False,
) -> dict[str, Any]:
    """`standalone`: every statement the route sends stands alone (service.http.state)."""
    merged: frozenset[Role] = frozenset().union(*allowed)
    opt: dict[str, Any] = {ROLES_KEY: merged}
    if during_password_change:
        opt[PASSWORD_CHANGE_KEY] = True
    if during_enrolment:
        opt[TOTP_ENROLMENT_KEY] = True
    if standalone:
        opt[STANDALONE_KEY] = True
    return opt


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        page = bool(connection.route_handler.opt.get(PAGE_KEY))
        if page:
            token = connection.cookies.get(SESSION_COOKIE, "")
        else:
            # The API is bearer-only: a session cookie never authenticates an API call.
            header = connection.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                token = ""
        if not token.strip():
            if page:
                # No user: the access guard refuses inside the page's own error handling,
                # which sends a browser to the sign-in form instead of a JSON 401.
                return AuthenticationResult(user=None, auth=None)
            raise NotAuthorizedException()
        res = resources(connection.app.state)
        # The request's own session: the handler reuses it (and its connection), so a request
        # costs one pool checkout and one transaction, not two.
        session = request_session(connection.scope, res)
        now = res.clock.now()
        try:
            found = await authenticate(
                session,
                res.settings.jwt_secret,
                token.strip(),
                now,
                request_id_var.get(),
                res.principal_cache,
            )
        except NotAuthenticated:
            if page:
                return AuthenticationResult(user=None, auth=None)
            raise
        principal, last_seen = found.principal, found.last_seen
        if last_seen is not None and principal.token_id is not None:
            fragment = bool(connection.headers.get(FRAGMENT_HEADER))
            idle = timedelta(minutes=res.settings.board_idle_minutes)
            if page and now - last_seen > idle:
                # The idle limit is a page rule: a board left unused (polling does not count)
                # lands on the sign-in form. Bearer API clients have only the token's lifetime.
                connection.scope.setdefault("state", {})[IDLE_STATE_KEY] = True
                return AuthenticationResult(user=None, auth=None)
            if not fragment and now - last_seen >= TOUCH_EVERY:
                await touch(session, principal.token_id, now)
        return AuthenticationResult(user=principal, auth=None)


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-wide guard: declared access first, then known query parameters.

    One async guard rather than two sync ones: Litestar runs a sync guard in a worker thread
    and copies the handler for each guard, which cost more than the checks themselves.
    """
    declared_access_guard(connection, handler)
    known_query_guard(connection, handler)


def known_query_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse query parameters the route does not declare (no ids smuggled past the schema)."""
    if not connection.query_params:
        return
    allowed: dict[tuple[str, str], frozenset[str]] = resources(connection.app.state).extras.get(
        "query_params", {}
    )
    template = _PATH_PARAM_TYPE.sub("}", connection.scope.get("path_template", ""))
    method = str(connection.scope.get("method", "")).lower()
    known = allowed.get((template, method))
    if known is None:
        return  # routes outside the documented API (e.g. /docs)
    unknown = sorted(set(connection.query_params) - known)
    if unknown:
        raise InvalidInput(
            "Unknown query parameters.",
            errors=[
                {"field": name[:50] or "(empty)", "message": "unknown query parameter"}
                for name in unknown[:10]
            ],
        )


def declared_access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Public routes pass, others need a declared role the caller holds."""
    if handler.opt.get(PUBLIC_KEY):
        return
    allowed = handler.opt.get(ROLES_KEY)
    if not allowed:
        # A route nobody declared access for is a bug; refuse rather than leak.
        raise PermissionDeniedException()
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException()
    if user.role not in allowed:
        raise PermissionDeniedException()
    if user.must_change_password:
        if not handler.opt.get(PASSWORD_CHANGE_KEY):
            raise PasswordChangeRequired(
                "This account's password was set for it and must be changed first: "
                "POST /api/v1/me/password with current_password and new_password."
            )
        return  # the password first; setting up TOTP comes after
    if user.must_enrol_totp and not handler.opt.get(TOTP_ENROLMENT_KEY):
        raise TotpEnrolmentRequired(
            "This account must set up two-step sign-in (an authenticator app) first: "
            f"sign in on the board, which leads to {ENROLMENT_PATH}."
        )
