from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.params import FromQuery, JSONBody

from service.goals import service
from service.goals.schemas import (
    GoalCreate,
    GoalDetail,
    GoalDomain,
    GoalList,
    GoalStatus,
    GoalUpdate,
)
from service.http.auth import AGENCY, WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit

_AGENCY_READS = (
    " Agency workers see only the goals their agency owns, while the patient is visible to "
    "them (open referral and consent in force) under a `plan` or `full` scope; under "
    "`contact_details`, or for another agency's goal, the answer is 404 and the attempt is "
    "audited. Agency workers never create or change goals (403)."
)


class GoalController(Controller):
    """Ward staff of the patient's ward: everything. Agency workers: read their own goals."""

    path = "/api/v1/patients/{patient_id:uuid}/goals"
    tags = ["goals"]
    opt = roles(WARD)

    @post("/", status_code=201, summary="Add a goal to a patient's plan")
    async def create(
        self,
        patient_id: IdPath,
        data: JSONBody[GoalCreate],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> GoalDetail:
        goal, history = await service.create_goal(db, caller, patient_id, data, clock.now())
        return service.to_detail(goal, history)

    @get(
        "/",
        opt=roles(WARD, AGENCY),
        summary="A patient's goals, oldest first",
        description="Ward staff of the patient's ward see every goal." + _AGENCY_READS,
    )
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[GoalStatus | None] = None,
        domain: FromQuery[GoalDomain | None] = None,
    ) -> GoalList:
        rows, next_cursor = await service.list_goals(
            db, caller, patient_id, clock.now(), cursor, limit, status=status, domain=domain
        )
        return GoalList(items=[service.to_out(g) for g in rows], next_cursor=next_cursor)

    @get(
        "/{goal_id:uuid}",
        opt=roles(WARD, AGENCY),
        summary="Read a goal with its status history",
        description="Ward staff of the patient's ward read any of its goals." + _AGENCY_READS,
    )
    async def read(
        self, patient_id: IdPath, goal_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> GoalDetail:
        goal, history = await service.get_goal(db, caller, patient_id, goal_id, clock.now())
        return service.to_detail(goal, history)

    @patch("/{goal_id:uuid}", summary="Change a goal (final statuses cannot be left: 409)")
    async def update(
        self,
        patient_id: IdPath,
        goal_id: IdPath,
        data: JSONBody[GoalUpdate],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> GoalDetail:
        goal, history = await service.update_goal(
            db, caller, patient_id, goal_id, data, clock.now()
        )
        return service.to_detail(goal, history)
