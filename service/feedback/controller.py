from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.params import JSONBody

from service.feedback import service
from service.feedback.schemas import (
    CarerIn,
    CarerOut,
    FeedbackIn,
    FeedbackList,
    FeedbackOut,
)
from service.http.auth import WARD, roles
from service.http.params import (
    DEFAULT_LIMIT,
    Caller,
    ClockDep,
    Cursor,
    Db,
    IdPath,
    Limit,
)


class FeedbackController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/feedback"
    tags = ["feedback"]
    opt = roles(WARD)

    @post("/", status_code=201, summary="Record feedback a carer, family member or patient gave")
    async def create(
        self,
        patient_id: IdPath,
        data: JSONBody[FeedbackIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> FeedbackOut:
        row = await service.record_feedback(db, caller, patient_id, data, clock.now())
        return service.feedback_out(row)

    @get("/", summary="Feedback about a patient's care, newest first")
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> FeedbackList:
        rows, next_cursor = await service.list_feedback(
            db, caller, patient_id, clock.now(), cursor, limit
        )
        return FeedbackList(items=[service.feedback_out(r) for r in rows], next_cursor=next_cursor)


class CarerController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/carer"
    tags = ["carer"]
    opt = roles(WARD)

    @put("/", summary="Name (or replace) the patient's nominated carer and their consent")
    async def put_(
        self,
        patient_id: IdPath,
        data: JSONBody[CarerIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> CarerOut:
        now = clock.now()
        return service.carer_out(await service.put_carer(db, caller, patient_id, data, now), now)

    @get("/", summary="The patient's nominated carer (404 when none)")
    async def read(self, patient_id: IdPath, db: Db, caller: Caller, clock: ClockDep) -> CarerOut:
        now = clock.now()
        return service.carer_out(await service.get_carer(db, caller, patient_id, now), now)
