"""Wards: admins create them; staff read their own; admins and the ward's managers change
their settings."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import msgspec
import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Ward
from service import audit
from service.checks import flush_or
from service.discreet import is_discreet_safe
from service.errors import Conflict, InvalidInput, NotFound
from service.pagination import decode_cursor, page_after, split_page
from service.phones import DEFAULT_REGION, for_reading, normalise_phone
from service.principal import Principal
from service.standards import DISCREET_CRISIS_ROUTES
from service.timezones import check_timezone
from service.wards.access import managed_ward, readable_wards
from service.wards.schemas import EscalationPolicy, WardCreate, WardOut, WardUpdate


def to_out(ward: Ward) -> WardOut:
    return WardOut(
        id=ward.id,
        name=ward.name,
        timezone=ward.timezone,
        crisis_message=ward.crisis_message,
        escalation_policy=msgspec.convert(ward.escalation_policy, EscalationPolicy),
    )


def ward_phone(ward: Ward) -> str | None:
    """The number a patient can ring at the ward: its on-call phone, else its crisis line."""
    policy = ward.escalation_policy or {}
    number: str | None = policy.get("on_call_phone") or policy.get("crisis_phone")
    return number


def crisis_reply(ward: Ward, *, discreet: bool = False) -> str:
    """The text a patient in crisis is sent: the ward's crisis message, with the ward's own
    number after it when the ward has one and the message does not already give it.

    For a patient with discreet messages on: the ward's message if it names no service and
    no clinical word (service.discreet); otherwise the national routes in discreet words,
    keeping every phone number the ward's message gave. The ward's numbers are "us", never
    named as the ward's. Words go; no number a person in crisis could ring is dropped."""
    message = ward.crisis_message
    numbers: list[str] = []
    if discreet and not is_discreet_safe(message):
        numbers = [
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in phonenumbers.PhoneNumberMatcher(message, DEFAULT_REGION)
        ]
        message = DISCREET_CRISIS_ROUTES
    number = ward_phone(ward)
    if number:
        numbers.append(number)
    extra: list[str] = []
    for each in numbers:
        readable = for_reading(each)
        squeezed = re.sub(r"[\s().-]", "", " ".join([message, *extra]))
        if re.sub(r"\D", "", readable) not in squeezed and each not in squeezed:
            extra.append(readable)
    if not extra:
        return message
    if discreet:
        return f"{message} Or call us on {' or '.join(extra)}."
    return f"{message} Ward: {extra[0]}."


def _policy_json(policy: EscalationPolicy) -> dict[str, Any]:
    # An empty number means none (a blank form field), never a number to text.
    policy.on_call_phone = (
        normalise_phone(policy.on_call_phone, "escalation_policy.on_call_phone")
        if policy.on_call_phone
        else None
    )
    policy.crisis_phone = (
        normalise_phone(policy.crisis_phone, "escalation_policy.crisis_phone")
        if policy.crisis_phone
        else None
    )
    result: dict[str, Any] = msgspec.to_builtins(policy)
    return result


async def create_ward(session: AsyncSession, data: WardCreate) -> Ward:
    ward = Ward(
        name=data.name.strip(),
        timezone=check_timezone(data.timezone),
        crisis_message=data.crisis_message.strip(),
        escalation_policy=_policy_json(data.escalation_policy),
    )
    session.add(ward)
    await flush_or(session, lambda: Conflict("A ward with this name already exists."))
    return ward


async def get_ward(session: AsyncSession, caller: Principal, ward_id: uuid.UUID) -> Ward:
    ward = await session.scalar(readable_wards(caller).where(Ward.id == ward_id))
    if ward is None:
        raise NotFound("No such ward.")
    return ward


async def list_wards(
    session: AsyncSession, caller: Principal, cursor: str | None, limit: int
) -> tuple[list[Ward], str | None]:
    query = readable_wards(caller)
    query = page_after(query, Ward.created_at, Ward.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda w: (w.created_at, w.id))


def _merged(stored: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`stored` with `change` laid over it: nested objects merge, anything else replaces."""
    result = dict(stored)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


def _changed_paths(before: Any, after: Any, prefix: str) -> list[str]:
    """Dotted names of the leaves that differ (names only: the audit keeps no values)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in sorted(before.keys() | after.keys()):
            found += _changed_paths(before.get(key), after.get(key), f"{prefix}.{key}")
        return found
    return [] if before == after else [prefix]


def _policy(raw: dict[str, Any] | None, field: str) -> EscalationPolicy:
    try:
        return msgspec.convert(raw or {}, EscalationPolicy)
    except msgspec.ValidationError as exc:
        # The message names the path, never a value.
        raise InvalidInput(
            f"{field}: {exc}", errors=[{"field": field, "message": str(exc)}]
        ) from None


async def update_ward(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    data: WardUpdate,
    now: datetime,
) -> Ward:
    """Change the fields given (a partial `escalation_policy` merges into the stored one).

    Everything is checked before anything is written, so a 422 changes nothing. Deadlines
    already set on open escalations stand; the next climb, reply and page read the new
    settings (the ladder reads the ward's policy each time it acts)."""
    ward = await managed_ward(session, caller, ward_id, "ward.update", now, lock=True)
    values: dict[str, Any] = {}
    if data.name is not msgspec.UNSET:
        values["name"] = data.name.strip()
        if not values["name"]:
            raise InvalidInput.field("name", "must not be blank")
    if data.timezone is not msgspec.UNSET:
        values["timezone"] = check_timezone(data.timezone)
    if data.crisis_message is not msgspec.UNSET:
        values["crisis_message"] = data.crisis_message.strip()
        if not values["crisis_message"]:
            raise InvalidInput.field("crisis_message", "must not be blank")
    before_policy = _policy_json(_policy(ward.escalation_policy, "escalation_policy"))
    if data.escalation_policy is not msgspec.UNSET:
        change: dict[str, Any] = msgspec.to_builtins(data.escalation_policy)
        merged = _merged(before_policy, change)
        values["escalation_policy"] = _policy_json(_policy(merged, "escalation_policy"))

    changed: list[str] = [
        name
        for name in ("name", "timezone", "crisis_message")
        if name in values and values[name] != getattr(ward, name)
    ]
    if "escalation_policy" in values:
        changed += _changed_paths(before_policy, values["escalation_policy"], "escalation_policy")
    if not changed:
        return ward
    for name, value in values.items():
        setattr(ward, name, value)
    ward.updated_at = now
    await flush_or(session, lambda: Conflict("A ward with this name already exists."))
    audit.record(
        session,
        caller,
        "ward.update",
        at=now,
        ward_id=ward.id,
        object_type="ward",
        object_id=ward.id,
        detail={"fields": changed},
    )
    return ward
