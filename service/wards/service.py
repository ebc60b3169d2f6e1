"""Wards: admins create them; staff read their own."""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Ward
from service.checks import flush_or
from service.errors import Conflict, NotFound
from service.pagination import decode_cursor, page_after, split_page
from service.phones import for_reading, normalise_phone
from service.principal import Principal
from service.timezones import check_timezone
from service.wards.access import readable_wards
from service.wards.schemas import EscalationPolicy, WardCreate, WardOut


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


def crisis_reply(ward: Ward) -> str:
    """The text a patient in crisis is sent: the ward's crisis message, with the ward's own
    number after it when the ward has one and the message does not already give it."""
    message = ward.crisis_message
    number = ward_phone(ward)
    if not number:
        return message
    readable = for_reading(number)
    squeezed = re.sub(r"[\s().-]", "", message)
    if re.sub(r"\D", "", readable) in squeezed or number in squeezed:
        return message
    return f"{message} Ward: {readable}."


def _policy_json(policy: EscalationPolicy) -> dict[str, Any]:
    if policy.on_call_phone:
        policy.on_call_phone = normalise_phone(
            policy.on_call_phone, "escalation_policy.on_call_phone"
        )
    if policy.crisis_phone:
        policy.crisis_phone = normalise_phone(policy.crisis_phone, "escalation_policy.crisis_phone")
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
