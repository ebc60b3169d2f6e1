from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody

from service.escalations import service
from service.escalations.schemas import (
    AcknowledgeIn,
    EscalationDetail,
    EscalationList,
    EscalationOut,
    Reason,
    ResolveIn,
    Status,
)
from service.http.auth import WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit


class EscalationController(Controller):
    path = "/api/v1/escalations"
    tags = ["escalations"]
    opt = roles(WARD)

    @get("/", summary="List the ward's escalations, newest first")
    async def list_(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[Status | None] = None,
        reason: FromQuery[Reason | None] = None,
        patient_id: FromQuery[uuid.UUID | None] = None,
    ) -> EscalationList:
        rows, next_cursor = await service.list_escalations(
            db,
            caller,
            now=clock.now(),
            cursor=cursor,
            limit=limit,
            status=status,
            reason=reason,
            patient_id=patient_id,
        )
        return EscalationList(items=[service.to_out(r) for r in rows], next_cursor=next_cursor)

    @get("/{escalation_id:uuid}", summary="Read an escalation with its history")
    async def read(
        self, escalation_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> EscalationDetail:
        row = await service.get_escalation(db, caller, escalation_id, clock.now())
        return await service.to_detail(db, row)

    @post(
        "/{escalation_id:uuid}/acknowledge",
        status_code=200,
        summary="Acknowledge an open escalation",
    )
    async def acknowledge(
        self,
        escalation_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        data: JSONBody[AcknowledgeIn | None] = None,
    ) -> EscalationOut:
        note = data.note if data is not None else None
        row = await service.acknowledge(db, caller, escalation_id, clock.now(), note)
        return service.to_out(row)

    @post(
        "/{escalation_id:uuid}/resolve",
        status_code=200,
        summary="Resolve an escalation (resolution_note required)",
    )
    async def resolve(
        self,
        escalation_id: IdPath,
        data: JSONBody[ResolveIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> EscalationOut:
        row = await service.resolve(db, caller, escalation_id, clock.now(), data.resolution_note)
        return service.to_out(row)
