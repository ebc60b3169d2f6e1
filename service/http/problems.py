"""Every error leaves as RFC 9457 application/problem+json, mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from db.engine import connection_failure
from service.errors import DomainError, TooManyRequests
from service.http.context import request_id_var

log = logging.getLogger("homeward.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://homeward.example/problems/"

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or str(status)),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    return Response(
        content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers or {}
    )


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    headers = None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return problem(
        exc.status,
        exc.detail,
        slug=exc.type_slug,
        title=exc.title,
        errors=exc.errors,
        headers=headers,
    )


def _validation_errors(extra: Any) -> list[dict[str, Any]]:
    """Field and message only: never the submitted value (it may be patient data)."""
    errors: list[dict[str, Any]] = []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                field = str(item.get("key") or item.get("source") or "body")
                message = str(item.get("message") or "invalid value")
                errors.append({"field": field, "message": message})
    return errors or [{"field": "body", "message": "invalid request"}]


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = _validation_errors(exc.extra)
    return problem(422, "The request did not pass validation.", slug="validation", errors=errors)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        detail = "The access token is missing, invalid or expired."
    elif isinstance(exc, PermissionDeniedException):
        detail = "Your role may not do this."
    elif isinstance(exc, NotFoundException):
        detail = "Nothing here."
    else:
        detail = exc.detail if status < 500 else _TITLES.get(status, "Error")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if exc.headers:
        headers = {**(headers or {}), **exc.headers}
    return problem(status, detail, headers=headers)


def _database_unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database unavailable", extra={"exc_class": type(exc).__name__})
    return problem(
        503,
        "The database is not answering; try again shortly.",
        slug="unavailable",
        headers={"Retry-After": "5"},
    )


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def _dbapi(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """Safety net for database refusals the domain code did not anticipate.

    Input PostgreSQL cannot store (a NUL character, a number out of range) is the client's
    problem, not a server error; the transaction has already been rolled back.
    """
    code = _sqlstate(exc)
    if code.startswith("22"):
        return problem(
            422,
            "A value could not be stored (unsupported characters or out of range).",
            slug="validation",
            errors=[{"field": "body", "message": "value not storable"}],
        )
    if code in ("23503", "23514", "23502"):
        return problem(
            422,
            "The request refers to something that does not exist or breaks a rule.",
            slug="validation",
            errors=[{"field": "body", "message": "constraint violated"}],
        )
    if code == "23505":
        return problem(409, "This conflicts with an existing record.", slug="conflict")
    if code in ("40001", "40P01") or code.startswith("08") or code.startswith("57P"):
        return _database_unavailable(request, exc)
    if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
        return _database_unavailable(request, exc)
    return _unexpected(request, exc)


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if connection_failure(exc):
        return _database_unavailable(_, exc)
    log.error("unhandled error", exc_info=exc)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: _domain_error,
    ValidationException: _validation,
    HTTPException: _http,
    DBAPIError: _dbapi,
    PoolTimeout: _database_unavailable,
    Exception: _unexpected,
}
