"""Who is told at each level: 1 the patient's key worker, 2 the ward's managers and on-call
number, 3 the crisis contact. A level with nobody reachable passes its notice up to the next
level that has someone, or, at the top, back to the nearest level below, so a notice never
goes to no one while the ward has anyone to text."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient, User, Ward
from service.paging.channels import staff_channels

TOP_LEVEL = 3


@dataclass(frozen=True)
class Recipient:
    number: str | None  # None: a staff member without a mobile, told by email only
    user_id: uuid.UUID | None  # None for the ward's on-call or crisis line
    email: str | None = None


def reachable() -> ColumnElement[bool]:
    """SQL: a user can be told something: by text, or by email while staff email is on."""
    return true() if staff_channels().email else User.mobile.is_not(None)


async def _key_worker(session: AsyncSession, patient_id: uuid.UUID) -> list[Recipient]:
    row = (
        await session.execute(
            select(User.id, User.mobile, User.email)
            .join(Patient, Patient.key_worker_id == User.id)
            .where(Patient.id == patient_id, User.active, reachable())
        )
    ).first()
    return [Recipient(row.mobile, row.id, row.email)] if row is not None else []


async def _managers_and_on_call(session: AsyncSession, ward: Ward) -> list[Recipient]:
    rows = await session.execute(
        select(User.id, User.mobile, User.email)
        .where(User.ward_id == ward.id, User.role == "ward_manager", User.active, reachable())
        .order_by(User.id)
    )
    found = [Recipient(r.mobile, r.id, r.email) for r in rows]
    on_call = (ward.escalation_policy or {}).get("on_call_phone")
    if on_call and on_call not in {r.number for r in found}:
        found.append(Recipient(on_call, None))
    return found


def _crisis_line(ward: Ward) -> list[Recipient]:
    crisis = (ward.escalation_policy or {}).get("crisis_phone")
    return [Recipient(crisis, None)] if crisis else []


async def _at_level(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID | None, level: int
) -> list[Recipient]:
    if level == 1:
        # The key worker belongs to a patient; ward-wide alerts have none.
        return await _key_worker(session, patient_id) if patient_id else []
    if level == 2:
        return await _managers_and_on_call(session, ward)
    return _crisis_line(ward)


async def recipients_at(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID | None, level: int
) -> tuple[int, list[Recipient]]:
    """Who to text for `level`, and the level they stand at: the first level from `level` up
    with someone, else the nearest level below (told again rather than nobody); (level, [])
    only when the ward has nobody at all."""
    for at in [*range(level, TOP_LEVEL + 1), *range(level - 1, 0, -1)]:
        found = await _at_level(session, ward, patient_id, at)
        if found:
            return at, found
    return level, []
