"""Who is told at each level:

1. the patient's key worker while they are on shift (they hold a rota shift covering now, or
   the ward keeps no rota), else whoever is on call now;
2. whoever is on call now and the ward's managers, with the ward's on-call number when the
   rota names nobody for now;
3. the crisis contact.

A level with nobody reachable passes its notice up to the next level that has someone, or, at
the top, back to the nearest level below, so a notice never goes to no one while the ward has
anyone to text. Everything is read at the moment of the page, so a shift added or a number
changed applies from the next page on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OnCallShift, Patient, User, Ward
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


def _pageable(ward: Ward) -> ColumnElement[bool]:
    """A user who may be paged for `ward` now: its active staff who can be reached (a mobile,
    or an email address while staff email is on). Checked at the page as well as when a
    shift is added: people move ward, leave, or lose a number."""
    return and_(User.ward_id == ward.id, User.active, reachable())


def _covering(ward: Ward, now: datetime) -> ColumnElement[bool]:
    # Through ix_on_call_shifts_ward_id_ends_at: ended shifts lie outside the range read.
    return and_(
        OnCallShift.ward_id == ward.id, OnCallShift.ends_at > now, OnCallShift.starts_at <= now
    )


async def on_call_now(session: AsyncSession, ward: Ward, now: datetime) -> list[Recipient]:
    """Everyone holding a shift covering `now` (overlapping shifts: all of them), once each."""
    rows = await session.execute(
        select(User.id, User.mobile, User.email)
        .where(
            _pageable(ward),
            exists().where(_covering(ward, now), OnCallShift.user_id == User.id),
        )
        .order_by(User.id)
    )
    return [Recipient(r.mobile, r.id, r.email) for r in rows]


async def _key_worker_on_shift(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID, now: datetime
) -> list[Recipient]:
    # A ward "keeps a rota" while any shift of it has not ended; with none, everyone counts
    # as on shift (the rule before rotas existed, and the safe one when a rota runs out).
    has_rota = exists().where(OnCallShift.ward_id == ward.id, OnCallShift.ends_at > now)
    on_shift = exists().where(_covering(ward, now), OnCallShift.user_id == User.id)
    row = (
        await session.execute(
            select(User.id, User.mobile, User.email)
            .join(Patient, Patient.key_worker_id == User.id)
            .where(Patient.id == patient_id, _pageable(ward), ~has_rota | on_shift)
        )
    ).first()
    return [Recipient(row.mobile, row.id, row.email)] if row is not None else []


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    """Each person once, and each number once (the ward's line may be a manager's mobile);
    email-only staff have no number, so they are told apart by who they are."""
    people: set[uuid.UUID] = set()
    numbers: set[str] = set()
    kept = []
    for r in recipients:
        if (r.user_id is not None and r.user_id in people) or (r.number and r.number in numbers):
            continue
        if r.user_id is not None:
            people.add(r.user_id)
        if r.number:
            numbers.add(r.number)
        kept.append(r)
    return kept


async def _level_one(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID | None, now: datetime
) -> list[Recipient]:
    # The key worker belongs to a patient; ward-wide alerts have none and go to the on-call.
    if patient_id is not None:
        found = await _key_worker_on_shift(session, ward, patient_id, now)
        if found:
            return found
    return await on_call_now(session, ward, now)


async def _level_two(session: AsyncSession, ward: Ward, now: datetime) -> list[Recipient]:
    on_call = await on_call_now(session, ward, now)
    rows = await session.execute(
        select(User.id, User.mobile, User.email)
        .where(_pageable(ward), User.role == "ward_manager")
        .order_by(User.id)
    )
    found = on_call + [Recipient(r.mobile, r.id, r.email) for r in rows]
    number = (ward.escalation_policy or {}).get("on_call_phone")
    if not on_call and number:
        found.append(Recipient(number, None))
    return _unique(found)


def _crisis_line(ward: Ward) -> list[Recipient]:
    crisis = (ward.escalation_policy or {}).get("crisis_phone")
    return [Recipient(crisis, None)] if crisis else []


async def _at_level(
    session: AsyncSession, ward: Ward, patient_id: uuid.UUID | None, level: int, now: datetime
) -> list[Recipient]:
    if level == 1:
        return await _level_one(session, ward, patient_id, now)
    if level == 2:
        return await _level_two(session, ward, now)
    return _crisis_line(ward)


async def recipients_at(
    session: AsyncSession,
    ward: Ward,
    patient_id: uuid.UUID | None,
    level: int,
    now: datetime,
) -> tuple[int, list[Recipient]]:
    """Who to text for `level` at `now`, and the level they stand at: the first level from
    `level` up with someone, else the nearest level below (told again rather than nobody);
    (level, []) only when the ward has nobody at all."""
    for at in [*range(level, TOP_LEVEL + 1), *range(level - 1, 0, -1)]:
        found = await _at_level(session, ward, patient_id, at, now)
        if found:
            return at, found
    return level, []
