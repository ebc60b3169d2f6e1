"""The page session: an HttpOnly cookie holding the same signed token the API issues, and CSRF
tokens bound to it (a synchronizer token derived by HMAC, so nothing extra is stored).

Before sign-in there is no session to bind to, so the sign-in form's token is a per-form nonce
with its HMAC under the app's secret, sent both as a cookie and as a field: a cookie planted
by another site (or a sibling subdomain) cannot carry a valid HMAC."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.datastructures import Cookie

from service.errors import Forbidden
from service.http.auth import SESSION_COOKIE
from service.http.state import resources

LOGIN_CSRF_COOKIE = "homeward_login_csrf"
# The known-device token (service.identity.devices), only ever sent to the sign-in form.
DEVICE_COOKIE = "homeward_device"
# The second sign-in step's ticket (service.identity.tickets): the password was right.
SECOND_STEP_COOKIE = "homeward_second_step"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/board/login"
PASSWORD_PATH = "/board/password"
CODE_PATH = "/board/login/code"


def _secure(request: Request[Any, Any, Any]) -> bool:
    """Secure over https, and whenever the browser reached us by the https PUBLIC_BASE_URL
    (a TLS proxy that does not forward the scheme still gets Secure cookies)."""
    if request.url.scheme == "https":
        return True
    public = urlsplit(resources(request.app.state).settings.public_base_url or "")
    return public.scheme == "https" and public.hostname == request.url.hostname


# Each cookie's path, in one place: a browser removes a cookie only at the path it was set on.
_PATHS = {
    SESSION_COOKIE: "/board",
    LOGIN_CSRF_COOKIE: LOGIN_PATH,
    DEVICE_COOKIE: LOGIN_PATH,
    SECOND_STEP_COOKIE: LOGIN_PATH,
}


def _cookie(request: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
    """Every cookie the pages set: HttpOnly, SameSite=Strict, Secure where the site is https."""
    return Cookie(
        key=key,
        value=value,
        path=_PATHS[key],
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=max_age,
        # A removal also carries a past expiry, for browsers that ignore Max-Age=0.
        expires=0 if max_age == 0 else None,
    )


def session_cookie(request: Request[Any, Any, Any], token: str, max_age: int) -> Cookie:
    return _cookie(request, SESSION_COOKIE, token, max_age)


def cleared_cookie(request: Request[Any, Any, Any], key: str = SESSION_COOKIE) -> Cookie:
    return _cookie(request, key, "", 0)


def login_csrf_cookie(request: Request[Any, Any, Any], value: str) -> Cookie:
    return _cookie(request, LOGIN_CSRF_COOKIE, value, 3600)


def device_cookie(request: Request[Any, Any, Any], token: str, max_age: int) -> Cookie:
    return _cookie(request, DEVICE_COOKIE, token, max_age)


def second_step_cookie(request: Request[Any, Any, Any], ticket: str, max_age: int) -> Cookie:
    return _cookie(request, SECOND_STEP_COOKIE, ticket, max_age)


def _login_mac(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), b"login-csrf|" + nonce.encode(), hashlib.sha256).hexdigest()


def new_login_csrf(secret: str) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_login_mac(secret, nonce)}"


def login_csrf_valid(secret: str, value: str | None) -> bool:
    nonce, _, mac = (value or "").partition(".")
    return bool(nonce) and hmac.compare_digest(_login_mac(secret, nonce), mac)


def csrf_for(secret: str, session_token: str) -> str:
    """The form token for this session: anyone who can read the page has it, nobody else."""
    mac = hmac.new(secret.encode(), b"csrf|" + session_token.encode(), hashlib.sha256)
    return mac.hexdigest()


def request_csrf(request: Request[Any, Any, Any], secret: str) -> str:
    return csrf_for(secret, request.cookies.get(SESSION_COOKIE, ""))


def check_csrf(request: Request[Any, Any, Any], secret: str, submitted: str | None) -> None:
    expected = request_csrf(request, secret)
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden("The form has expired or did not come from this site; reload the page.")


def check_login_csrf(request: Request[Any, Any, Any], secret: str, submitted: str | None) -> None:
    """The field matches the cookie (this browser) and carries our HMAC (this server)."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if (
        not expected
        or not submitted
        or not hmac.compare_digest(expected, submitted)
        or not login_csrf_valid(secret, submitted)
    ):
        raise Forbidden("The sign-in form has expired; reload the page and try again.")
