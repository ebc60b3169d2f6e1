from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from service.follow_ups import service
from service.follow_ups.schemas import AttemptIn, AttemptOut, FollowUpList
from service.http.auth import WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit


class FollowUpController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/follow-ups"
    tags = ["follow-ups"]
    opt = roles(WARD)

    @get("/", summary="Post-discharge follow-ups with their contact attempts, newest first")
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> FollowUpList:
        items, next_cursor = await service.list_follow_ups(
            db, caller, patient_id, clock.now(), cursor, limit
        )
        return FollowUpList(items=items, next_cursor=next_cursor)

    @post(
        "/{follow_up_id:uuid}/attempts",
        status_code=201,
        summary="Record a human contact attempt (a successful one completes the follow-up)",
    )
    async def attempt(
        self,
        patient_id: IdPath,
        follow_up_id: IdPath,
        data: JSONBody[AttemptIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> AttemptOut:
        attempt = await service.record_attempt(
            db, caller, patient_id, follow_up_id, data, clock.now()
        )
        return service.attempt_out(attempt)
