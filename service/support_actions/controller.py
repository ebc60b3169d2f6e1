from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import JSONBody

from service.http.auth import AGENCY, WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit
from service.support_actions import service
from service.support_actions.schemas import (
    SupportActionCreate,
    SupportActionList,
    SupportActionOut,
)


class SupportActionController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/support-actions"
    tags = ["support actions"]

    @post(
        "/",
        opt=roles(AGENCY),
        status_code=201,
        summary="Log a support action (agency workers, for a patient visible to their agency)",
        description=(
            "The agency is the caller's own; a body naming `agency_id` or any other unknown "
            "field answers 422 and changes nothing. A patient not visible to the caller's "
            "agency answers 404."
        ),
    )
    async def create(
        self,
        patient_id: IdPath,
        data: JSONBody[SupportActionCreate],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> SupportActionOut:
        row = await service.log_support_action(db, caller, patient_id, data, clock.now())
        return service.to_out(row)

    @get(
        "/",
        opt=roles(WARD, AGENCY),
        summary="List support actions (ward staff: all; agency workers: their agency's)",
    )
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> SupportActionList:
        rows, next_cursor = await service.list_support_actions(
            db, caller, patient_id, clock.now(), cursor, limit
        )
        return SupportActionList(items=[service.to_out(a) for a in rows], next_cursor=next_cursor)
