from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.params import JSONBody

from service.http.auth import WARD, roles
from service.http.params import (
    DEFAULT_LIMIT,
    Caller,
    ClockDep,
    Cursor,
    Db,
    IdPath,
    Limit,
    parse_time_query,
    time_query,
)
from service.plans import service
from service.plans.schemas import PlanIn, PlanOut, PlanVersionList

AsOf = Annotated[str | None, time_query("RFC 3339 time: return the version in force then")]


class PlanController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/relapse-prevention-plan"
    tags = ["relapse-prevention plans"]
    opt = roles(WARD)

    @get("/", summary="The current plan, or the version in force at `as_of` (404 if none)")
    async def read(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        as_of: AsOf = None,
    ) -> PlanOut:
        at = parse_time_query(as_of, "as_of")
        return service.to_out(await service.get_plan(db, caller, patient_id, clock.now(), at))

    @put("/", summary="Replace the plan (stored as a new version)")
    async def replace(
        self,
        patient_id: IdPath,
        data: JSONBody[PlanIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> PlanOut:
        return service.to_out(await service.put_plan(db, caller, patient_id, data, clock.now()))

    @get("/versions", summary="Every version of the plan, newest first")
    async def versions(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> PlanVersionList:
        rows, next_cursor = await service.list_versions(
            db, caller, patient_id, clock.now(), cursor, limit
        )
        return PlanVersionList(items=[service.to_out(r) for r in rows], next_cursor=next_cursor)
