from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from service.http.auth import ADMIN, WARD, roles
from service.http.params import (
    DEFAULT_LIMIT,
    Caller,
    ClockDep,
    Cursor,
    Db,
    IdPath,
    Limit,
    parse_timestamp,
    timestamp_query,
)
from service.wards import practice, rota, service
from service.wards.schemas import (
    ShiftIn,
    ShiftList,
    ShiftOut,
    WardCreate,
    WardList,
    WardOut,
    WardUpdate,
)

From = Annotated[str | None, timestamp_query("Shifts ending after this instant.", name="from")]


class WardController(Controller):
    path = "/api/v1/wards"
    tags = ["wards"]

    @post("/", opt=roles(ADMIN), status_code=201, summary="Create a ward")
    async def create(self, data: JSONBody[WardCreate], db: Db) -> WardOut:
        ward = await service.create_ward(db, data)
        return service.to_out(ward)

    @get("/", opt=roles(ADMIN, WARD), summary="List wards (staff see their own)")
    async def list_(
        self,
        db: Db,
        caller: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> WardList:
        rows, next_cursor = await service.list_wards(db, caller, cursor, limit)
        return WardList(items=[service.to_out(w) for w in rows], next_cursor=next_cursor)

    @get("/{ward_id:uuid}", opt=roles(ADMIN, WARD), summary="Read a ward")
    async def read(self, ward_id: IdPath, db: Db, caller: Caller) -> WardOut:
        return service.to_out(await service.get_ward(db, caller, ward_id))

    @patch(
        "/{ward_id:uuid}",
        opt=roles(ADMIN, WARD),
        summary="Change a ward's settings (admins, the ward's managers)",
        description=(
            "Partial: only the fields given change, and a partial `escalation_policy` is "
            "merged into the stored one. Deadlines already set stand; the next climb, page "
            "or reply reads the new settings. Audited with the names of the fields changed."
        ),
    )
    async def update(
        self, ward_id: IdPath, data: JSONBody[WardUpdate], db: Db, caller: Caller, clock: ClockDep
    ) -> WardOut:
        ward = await service.update_ward(db, caller, ward_id, data, clock.now())
        return service.to_out(ward)

    @post(
        "/{ward_id:uuid}/adopt-setting",
        opt=roles(ADMIN, WARD),
        status_code=200,
        summary="Preview or copy one setting of another ward to this one (admins, the ward's "
        "managers)",
        description=(
            "`confirm: false` previews (current, proposed, the fields that would change) and "
            "changes nothing; `confirm: true` copies that one setting through the ward "
            "settings PATCH rules. Both are audited with the source ward and the fields."
        ),
    )
    async def adopt_setting(
        self,
        ward_id: IdPath,
        data: JSONBody[practice.AdoptIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> practice.AdoptOut:
        return await practice.adopt_setting(db, caller, ward_id, data, clock.now())


class OnCallController(Controller):
    path = "/api/v1/wards/{ward_id:uuid}/on-call"
    tags = ["wards"]

    @get(
        "/",
        opt=roles(ADMIN, WARD),
        summary="The ward's on-call rota: shifts ending after `from` (default now), by start",
    )
    async def list_(
        self,
        ward_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        from_: From = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ShiftList:
        items, next_cursor = await rota.list_shifts(
            db,
            caller,
            ward_id,
            clock.now(),
            since=parse_timestamp(from_, "from"),
            cursor=cursor,
            limit=limit,
        )
        return ShiftList(items=items, next_cursor=next_cursor)

    @post(
        "/",
        opt=roles(ADMIN, WARD),
        status_code=201,
        summary="Put someone on call (admins, the ward's managers)",
        description=(
            "The user must be active staff of this ward with a mobile number (pages go by "
            "SMS); at most 7 days long, ending in the future. Overlapping shifts of different "
            "people are all paged; the same person twice at once is refused (409)."
        ),
    )
    async def add(
        self, ward_id: IdPath, data: JSONBody[ShiftIn], db: Db, caller: Caller, clock: ClockDep
    ) -> ShiftOut:
        now = clock.now()
        return rota.to_out(await rota.add_shift(db, caller, ward_id, data, now), now)

    @delete(
        "/{shift_id:uuid}",
        opt=roles(ADMIN, WARD),
        status_code=204,
        summary="Take a shift off the rota (admins, the ward's managers)",
    )
    async def remove(
        self, ward_id: IdPath, shift_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> None:
        await rota.remove_shift(db, caller, ward_id, shift_id, clock.now())
