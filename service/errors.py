"""Domain errors carry their HTTP status; one handler turns them into RFC 9457 problems."""

from __future__ import annotations

from typing import Any, Self


class DomainError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        # Rows that must outlive the rolled-back transaction (audit of a denial, a failed login).
        self.keep_rows: list[object] = []

    def keeping(self, *rows: object) -> Self:
        self.keep_rows.extend(rows)
        return self


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    type_slug = "validation"

    @classmethod
    def field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


class NotAuthenticated(DomainError):
    status = 401
    title = "Not authenticated"
    type_slug = "not-authenticated"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class PasswordChangeRequired(Forbidden):
    title = "Password change required"
    type_slug = "password-change-required"


class SecondFactorRequired(NotAuthenticated):
    """The password was right; this account also needs a TOTP or recovery code."""

    title = "Second factor required"
    type_slug = "totp-required"

    def __init__(self, detail: str, *, ticket: str = "") -> None:
        super().__init__(detail)
        # For the board's second step: a short-lived signed note that the password was right.
        self.ticket = ticket


class TotpEnrolmentRequired(Forbidden):
    title = "Two-step sign-in must be set up first"
    type_slug = "totp-enrolment-required"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"
    type_slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(DomainError):
    status = 503
    title = "Service unavailable"
    type_slug = "unavailable"
