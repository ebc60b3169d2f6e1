"""The one way a page form is read, checked and shown again with its errors.

A handler reads the submitted fields (`form_of`, after the CSRF check), turns them into the
API's own input struct with `parse` (so the page and the API share one set of rules), calls
the same service the API calls, and on a refusal renders its template again with
`Form.failed(...)`: what was typed stays in the fields and each message sits beside its field,
with a summary at the top linking to them. Success answers 303 to the page (`back_to`)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict, DomainError, InvalidInput
from service.timezones import local_instant

T = TypeVar("T")

# msgspec names the failing field as a path: "... - at `$.contact_window_start`",
# "$.goals[0]" or "$.crisis_contacts[1].phone" (kept whole: a form may have a field per row).
_PATH = re.compile(r"`\$\.([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*)")
# The list a path like "triggers[2]" starts with: a textarea of one item per line is one field.
_HEAD = re.compile(r"[\[.]")


@dataclass
class Form:
    """What a form template needs: the values to show, and messages per field."""

    values: Mapping[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # A refusal that belongs to no one field (a conflict, a rule across fields).
    problem: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, **values: Any) -> Form:
        """A form shown for the first time, optionally with starting values."""
        return cls(values={k: "" if v is None else str(v) for k, v in values.items()})

    @classmethod
    def failed(
        cls,
        values: Mapping[str, str],
        exc: DomainError,
        labels: Mapping[str, str] | None = None,
    ) -> Form:
        """The form again after `exc`: field errors by field, the rest as the form's problem.

        A field error names a field the form does not show (an API name with no input here)
        only when the page and the service disagree; it is shown as the form's problem rather
        than lost."""
        errors: dict[str, str] = {}
        loose: list[str] = []
        for item in getattr(exc, "errors", None) or []:
            name = str(item.get("field", ""))
            message = str(item.get("message", "is not valid"))
            head = _HEAD.split(name, 1)[0]
            if name not in values and head in values:
                name = head
            if name and name in values:
                errors.setdefault(name, message)
            else:
                loose.append(f"{_label(labels or {}, name)} {message}".strip() if name else message)
        problem = "; ".join(loose) if loose else ("" if errors else exc.detail)
        return cls(values=values, errors=errors, problem=problem, labels=labels or {})

    @property
    def status(self) -> int:
        return 422 if self.errors or self.problem else 200

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def label(self, name: str) -> str:
        return _label(self.labels, name)

    def summary(self) -> list[tuple[str, str]]:
        """(field, "Label message") for the error summary, in field order."""
        return [(name, f"{self.label(name)} {msg}") for name, msg in self.errors.items()]


def _label(labels: Mapping[str, str], name: str) -> str:
    return labels.get(name) or name.replace("_", " ").capitalize()


def blank_to_none(fields: Mapping[str, str], *names: str) -> dict[str, Any]:
    """The named fields, stripped, with an empty field as "not given" (None)."""
    return {name: (fields.get(name, "").strip() or None) for name in names}


def lines(value: str | None) -> list[str]:
    """A textarea with one item per line (early warning signs, triggers...)."""
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def checkbox(fields: Mapping[str, str], name: str) -> bool:
    """An HTML checkbox is sent only when ticked."""
    return fields.get(name) in {"on", "yes", "true", "1"}


def local_datetime(fields: Mapping[str, str], name: str, tz: ZoneInfo) -> datetime | None:
    """A `datetime-local` field (the ward's wall clock) as an aware instant; empty is None."""
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput.field(name, "is not a date and time") from None
    if naive.tzinfo is not None:
        return naive
    return local_instant(naive.date(), naive.time(), tz)


def parse(data: Mapping[str, Any], into: type[T], *, renames: Mapping[str, str] | None = None) -> T:
    """Form data into the API's input struct, with the API's own validation.

    Form fields are strings, so conversion is lax ("5" is 5, "2026-12-01" a date); a
    failure becomes `InvalidInput` naming the form field (`renames` maps an API field to the
    form field that feeds it)."""
    try:
        return msgspec.convert(dict(data), into, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        name = match.group(1) if match else ""
        # The whole path first ("escalation_policy.ack_minutes.routine[0]"), as renames name it.
        name = (renames or {}).get(name, name)
        message = text.split(" - at ", 1)[0]
        # msgspec's words name the type ("Expected `int`, got `str`"); say it as a person would.
        if message.startswith("Expected") and message.endswith("got `null`"):
            message = "is required"  # an empty field, sent as "not given"
        elif message.startswith("Expected") or message.startswith("Invalid"):
            message = "is not valid"
        elif message.startswith("Object missing required field"):
            missing = re.search(r"`([^`]+)`", message)
            if missing:
                # At the top level the missing field is the name; inside a row, its path.
                inner = missing.group(1)
                name = f"{name}.{inner}" if match else (renames or {}).get(inner, inner)
            message = "is required"
        else:
            message = message[:1].lower() + message[1:]
        if not name:
            raise InvalidInput(message) from None
        raise InvalidInput.field(name, message) from None


# Refusals a person can put right on the form. Not found, forbidden and faults are not the
# form's business: they go to the error page (a 404 stays a 404, audited as the API does).
CORRECTABLE: tuple[type[DomainError], ...] = (InvalidInput, Conflict)


async def attempt(
    session: AsyncSession,
    values: Mapping[str, str],
    action: Callable[[], Awaitable[T]],
    labels: Mapping[str, str] | None = None,
) -> tuple[T | None, Form | None]:
    """Run `action`; a correctable refusal becomes the form to show again.

    The refusal is handled as the request session handles any domain error: what the action
    wrote is rolled back, and the rows it asked to keep (its audit of the attempt) are kept."""
    try:
        return await action(), None
    except CORRECTABLE as exc:
        await session.rollback()
        session.add_all(exc.keep_rows)
        return None, Form.failed(values, exc, labels)
