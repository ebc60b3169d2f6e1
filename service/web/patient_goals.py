"""A patient's goals for ward staff: the list with an add form, and each goal's page (edit it,
change its status under the API's lifecycle rules, its status history). The same services the
goals API calls (`service.goals.service`)."""

from __future__ import annotations

import uuid
from typing import Any, get_args

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.agencies.service import list_agencies
from service.goals.schemas import GoalCreate, GoalDomain, GoalStatus, GoalUpdate
from service.goals.service import FINAL_STATUSES, create_goal, get_goal, list_goals, update_goal
from service.http.auth import WARD
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.patients.service import get_patient
from service.principal import Principal
from service.web.common import back_to, form_of, names_of, page, render
from service.web.forms import Form, attempt, blank_to_none, parse

# The API's field names, and how the pages label them.
GOAL_LABELS = {
    "domain": "Area of life",
    "description": "Goal",
    "target_date": "Target date",
    "owner_agency_id": "Agency responsible",
    "status": "Status",
}
EDIT_FIELDS = ("domain", "description", "target_date", "owner_agency_id")
DOMAINS = get_args(GoalDomain)
STATUSES = get_args(GoalStatus)
# A new goal is open: the API refuses a final status at creation.
OPEN_STATUSES = tuple(s for s in STATUSES if s not in FINAL_STATUSES)


def _goals_url(patient_id: uuid.UUID) -> str:
    return f"/board/patients/{patient_id}/goals"


class GoalPages(Controller):
    path = "/board/patients/{patient_id:uuid}/goals"
    include_in_schema = False

    @get("/", opt=page(WARD))
    async def goals(
        self, request: Request[Any, Any, Any], patient_id: IdPath, db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _list_view(request, res, db, caller, patient_id)

    @post("/", opt=page(WARD), status_code=303)
    async def add(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def save() -> None:
            data = parse(blank_to_none(fields, *EDIT_FIELDS, "status"), GoalCreate)
            await create_goal(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, save, GOAL_LABELS)
        if failed is not None:
            return await _list_view(request, res, db, caller, patient_id, add_form=failed)
        return back_to(f"{_goals_url(patient_id)}?done=added")

    @get("/{goal_id:uuid}", opt=page(WARD))
    async def goal(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        goal_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _goal_view(request, res, db, caller, patient_id, goal_id)

    @post("/{goal_id:uuid}", opt=page(WARD), status_code=303)
    async def edit(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        goal_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def save() -> None:
            # Every field is on the form, so each is sent: an emptied optional one is cleared.
            data = parse(blank_to_none(fields, *EDIT_FIELDS), GoalUpdate)
            await update_goal(db, caller, patient_id, goal_id, data, clock.now())

        _, failed = await attempt(db, fields, save, GOAL_LABELS)
        if failed is not None:
            return await _goal_view(request, res, db, caller, patient_id, goal_id, edit_form=failed)
        return back_to(f"{_goals_url(patient_id)}/{goal_id}?done=saved")

    @post("/{goal_id:uuid}/status", opt=page(WARD), status_code=303)
    async def status(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        goal_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def save() -> None:
            data = parse(blank_to_none(fields, "status"), GoalUpdate)
            await update_goal(db, caller, patient_id, goal_id, data, clock.now())

        _, failed = await attempt(db, fields, save, GOAL_LABELS)
        if failed is not None:
            return await _goal_view(
                request, res, db, caller, patient_id, goal_id, status_form=failed
            )
        return back_to(f"{_goals_url(patient_id)}/{goal_id}?done=status")


async def _agencies(db: AsyncSession, caller: Principal) -> list[Any]:
    agencies, _ = await list_agencies(db, caller, None, MAX_LIMIT)
    return agencies


async def _list_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    add_form: Form | None = None,
) -> Template:
    now = res.clock.now()
    patient = await get_patient(db, caller, patient_id, now)
    goals, _ = await list_goals(db, caller, patient_id, now, None, MAX_LIMIT)
    agencies = await _agencies(db, caller)
    add_form = add_form or Form.blank(status="proposed")
    return await render(
        request,
        res,
        db,
        caller,
        "patient_goals.html",
        status_code=add_form.status,
        patient=patient,
        goals=goals,
        agencies=agencies,
        agency_names={a.id: a.name for a in agencies},
        domains=DOMAINS,
        statuses=OPEN_STATUSES,
        add_form=add_form,
        done=request.query_params.get("done", ""),
    )


async def _goal_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    edit_form: Form | None = None,
    status_form: Form | None = None,
) -> Template:
    now = res.clock.now()
    patient = await get_patient(db, caller, patient_id, now)
    goal, history = await get_goal(db, caller, patient_id, goal_id, now)
    agencies = await _agencies(db, caller)
    edit_form = edit_form or Form.blank(
        domain=goal.domain,
        description=goal.description,
        target_date=goal.target_date.isoformat() if goal.target_date else "",
        owner_agency_id=goal.owner_agency_id,
    )
    status_form = status_form or Form.blank(status=goal.status)
    return await render(
        request,
        res,
        db,
        caller,
        "patient_goal.html",
        status_code=max(edit_form.status, status_form.status),
        patient=patient,
        goal=goal,
        history=history,
        closed=goal.status in FINAL_STATUSES,
        names=await names_of(db, [c.changed_by for c in history]),
        agencies=agencies,
        agency_names={a.id: a.name for a in agencies},
        domains=DOMAINS,
        statuses=STATUSES,
        final_statuses=FINAL_STATUSES,
        edit_form=edit_form,
        status_form=status_form,
        done=request.query_params.get("done", ""),
    )
