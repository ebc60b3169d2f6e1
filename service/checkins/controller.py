from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.params import FromQuery, JSONBody

from service.checkins import service
from service.checkins.schemas import (
    CheckInCreate,
    CheckInList,
    CheckInOut,
    CheckInStatus,
    ScheduleIn,
    ScheduleOut,
)
from service.http.auth import WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit


class CheckInController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}"
    tags = ["check-ins"]
    opt = roles(WARD)

    @get("/check-in-schedule", summary="Read the patient's check-in schedule")
    async def read_schedule(
        self, patient_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> ScheduleOut:
        return await service.get_schedule(db, caller, patient_id, clock.now())

    @put("/check-in-schedule", summary="Replace the patient's check-in schedule")
    async def put_schedule(
        self,
        patient_id: IdPath,
        data: JSONBody[ScheduleIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> ScheduleOut:
        return await service.put_schedule(db, caller, patient_id, data, clock.now())

    @post("/check-ins", status_code=201, summary="Schedule one extra check-in")
    async def create(
        self,
        patient_id: IdPath,
        data: JSONBody[CheckInCreate],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> CheckInOut:
        row = await service.create_check_in(db, caller, patient_id, data, clock.now())
        return service.check_in_out(row)

    @post(
        "/check-ins/{check_in_id:uuid}/cancel",
        status_code=200,
        summary="Cancel one check-in not yet sent",
        description=(
            "Only a `scheduled` check-in (its prompt not yet sent) can be cancelled; any "
            "other answers 409. Its text, if queued, is withdrawn. The check-in stays in the "
            "list as `cancelled` with `status_reason` `staff_cancelled`."
        ),
    )
    async def cancel(
        self,
        patient_id: IdPath,
        check_in_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> CheckInOut:
        row = await service.cancel_check_in(db, caller, patient_id, check_in_id, clock.now())
        return service.check_in_out(row)

    @get("/check-ins", summary="List the patient's check-ins in due order")
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[CheckInStatus | None] = None,
    ) -> CheckInList:
        rows, next_cursor = await service.list_check_ins(
            db, caller, patient_id, clock.now(), cursor=cursor, limit=limit, status=status
        )
        return CheckInList(items=[service.check_in_out(r) for r in rows], next_cursor=next_cursor)
