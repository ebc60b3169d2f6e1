from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from service.http.auth import ADMIN, WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, Cursor, Db, IdPath, Limit
from service.wards import service
from service.wards.schemas import WardCreate, WardList, WardOut


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
