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
from service.http.auth import WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit


class GoalController(Controller):
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

    @get("/", summary="A patient's goals, oldest first")
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

    @get("/{goal_id:uuid}", summary="Read a goal with its status history")
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
