"""A ward's on-call rota: the shifts that decide who is paged at levels 1 and 2.

Admins and the ward's managers add and remove shifts; the ward's staff read them. Who is
paged from the rota is decided in one place, `service.paging.recipients`; this module keeps
the rota fit for that: every shift belongs to an active member of the ward's staff who can be
paged by SMS (a mobile number), so a shift never stands for somebody nobody can reach.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OnCallShift, User, Ward
from service import audit
from service.checks import check_aware, flush_or
from service.errors import Conflict, InvalidInput, NotFound
from service.pagination import decode_cursor, page_after, split_page
from service.principal import WARD, Principal
from service.wards.access import managed_ward, readable_wards
from service.wards.schemas import ShiftIn, ShiftOut

# A shift longer than a week is more likely a typing slip than a rota; planned no further
# ahead than a year.
MAX_SHIFT = timedelta(days=7)
MAX_AHEAD = timedelta(days=366)


def to_out(shift: OnCallShift, now: datetime) -> ShiftOut:
    return ShiftOut(
        id=shift.id,
        ward_id=shift.ward_id,
        user_id=shift.user_id,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        on_call_now=shift.starts_at <= now < shift.ends_at,
    )


async def list_shifts(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    now: datetime,
    *,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ShiftOut], str | None]:
    """Shifts that end after `since` (default now: the current and coming rota), by start."""
    if await session.scalar(readable_wards(caller).where(Ward.id == ward_id)) is None:
        raise NotFound("No such ward.")
    query = select(OnCallShift).where(
        OnCallShift.ward_id == ward_id, OnCallShift.ends_at > (since or now)
    )
    query = page_after(query, OnCallShift.starts_at, OnCallShift.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    kept, next_cursor = split_page(rows, limit, lambda s: (s.starts_at, s.id))
    return [to_out(s, now) for s in kept], next_cursor


async def _check_paged_person(
    session: AsyncSession, ward_id: uuid.UUID, user_id: uuid.UUID
) -> User:
    """The user a shift is for, locked (a concurrent shift for them waits for this one), when
    they are active staff of this ward with a mobile. Pages go by SMS: without a mobile a
    shift would name somebody the page cannot reach, so it is refused rather than accepted
    and silently skipped. Membership is checked first, so nothing is said about another
    ward's users beyond "not of this ward"."""
    user = await session.scalar(
        select(User).where(User.id == user_id).with_for_update(key_share=True)
    )
    if user is None or user.ward_id != ward_id or user.role not in WARD:
        raise InvalidInput.field("user_id", "is not a member of this ward's staff")
    if not user.active:
        raise InvalidInput.field("user_id", "is not an active user")
    if not user.mobile:
        raise InvalidInput.field("user_id", "has no mobile number to be paged on")
    return user


def _check_times(data: ShiftIn, now: datetime) -> tuple[datetime, datetime]:
    starts_at = check_aware(data.starts_at, "starts_at").astimezone(UTC)
    ends_at = check_aware(data.ends_at, "ends_at").astimezone(UTC)
    if ends_at <= starts_at:
        raise InvalidInput.field("ends_at", "must be after starts_at")
    if ends_at - starts_at > MAX_SHIFT:
        raise InvalidInput.field("ends_at", f"a shift lasts at most {MAX_SHIFT.days} days")
    if ends_at <= now:
        raise InvalidInput.field(
            "ends_at", "must be in the future (a shift that has ended pages nobody)"
        )
    if starts_at > now + MAX_AHEAD:
        raise InvalidInput.field("starts_at", f"must be within {MAX_AHEAD.days} days from now")
    return starts_at, ends_at


async def add_shift(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, data: ShiftIn, now: datetime
) -> OnCallShift:
    ward = await managed_ward(session, caller, ward_id, "ward.on_call.add", now)
    starts_at, ends_at = _check_times(data, now)
    await _check_paged_person(session, ward.id, data.user_id)
    # The user row is locked, so this check and the insert are one step per user.
    overlapping = await session.scalar(
        select(OnCallShift.id).where(
            OnCallShift.ward_id == ward.id,
            OnCallShift.user_id == data.user_id,
            OnCallShift.ends_at > starts_at,
            OnCallShift.starts_at < ends_at,
        )
    )
    if overlapping is not None:
        raise Conflict("This user already holds a shift overlapping this one.")
    shift = OnCallShift(
        ward_id=ward.id,
        user_id=data.user_id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=caller.user_id,
        created_at=now,
    )
    session.add(shift)
    await flush_or(session, lambda: Conflict("This shift is already on the rota."))
    audit.record(
        session,
        caller,
        "ward.on_call.add",
        at=now,
        ward_id=ward.id,
        object_type="on_call_shift",
        object_id=shift.id,
        detail={
            "user_id": str(shift.user_id),
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        },
    )
    return shift


async def remove_shift(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    shift_id: uuid.UUID,
    now: datetime,
) -> None:
    ward = await managed_ward(session, caller, ward_id, "ward.on_call.remove", now)
    removed = (
        await session.execute(
            delete(OnCallShift)
            .where(OnCallShift.id == shift_id, OnCallShift.ward_id == ward.id)
            .returning(OnCallShift.user_id, OnCallShift.starts_at, OnCallShift.ends_at)
        )
    ).first()
    if removed is None:
        # Absent, or another ward's: the same answer, and the attempt is kept.
        raise audit.denied(
            caller,
            "ward.on_call.remove",
            NotFound("No such shift on this ward's rota."),
            at=now,
            ward_id=ward.id,
            object_type="on_call_shift",
            object_id=shift_id,
        )
    # The audit row is the shift's record once it is gone.
    audit.record(
        session,
        caller,
        "ward.on_call.remove",
        at=now,
        ward_id=ward.id,
        object_type="on_call_shift",
        object_id=shift_id,
        detail={
            "user_id": str(removed.user_id),
            "starts_at": removed.starts_at.isoformat(),
            "ends_at": removed.ends_at.isoformat(),
        },
    )


async def rota_candidates(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, now: datetime
) -> list[User]:
    """The people a shift may be given to: the ward's active staff, by name (those without a
    mobile are listed too, and `add_shift` says why they cannot be paged). Same access as
    adding a shift."""
    ward = await managed_ward(session, caller, ward_id, "ward.on_call.add", now)
    rows = await session.scalars(
        select(User)
        .where(User.ward_id == ward.id, User.role.in_(WARD), User.active.is_(True))
        .order_by(User.full_name, User.id)
    )
    return list(rows.all())
