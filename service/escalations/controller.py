from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody

from service.escalations import concerns, service
from service.escalations.schemas import (
    AcknowledgeIn,
    ConcernIn,
    ConcernOut,
    EscalationDetail,
    EscalationList,
    EscalationOut,
    Reason,
    ResolveIn,
    Status,
)
from service.http.auth import AGENCY, WARD, roles
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
        ref: FromQuery[str | None] = None,
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
            ref=ref,
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
        description=(
            "Only staff of the patient's ward (others get 404); records who. Sets `resolve_due_at` "
            "from the ward's `escalation_policy.resolve_minutes`: still unresolved then, the "
            "escalation re-opens one level up and is paged again."
        ),
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
        summary="Resolve an escalation (resolution_outcome and resolution_note required)",
        description=(
            "Only staff of the patient's ward (others get 404). The outcome is one of "
            "`contacted_patient_safe`, `contacted_patient_needs_support`, `could_not_contact`, "
            "`duplicate`, `other`; a non-blank note is required with each. `could_not_contact` "
            "on an urgent escalation opens a follow-on urgent escalation one level up (its "
            "`follow_on_of` names this one), paged at once."
        ),
    )
    async def resolve(
        self,
        escalation_id: IdPath,
        data: JSONBody[ResolveIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> EscalationOut:
        row = await service.resolve(
            db, caller, escalation_id, clock.now(), data.resolution_outcome, data.resolution_note
        )
        return service.to_out(row)


class ConcernController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/concerns"
    tags = ["escalations"]

    @post(
        "/",
        opt=roles(WARD, AGENCY),
        status_code=201,
        summary="Raise a concern about a patient (an `agency_concern` escalation to the ward)",
        description=(
            "Agency workers may raise one for a patient visible to their agency, ward staff for "
            "a patient of their ward; anyone else gets 404. `urgent` makes it an urgent "
            "escalation (shorter acknowledge deadlines). The ward's level-1 contact is texted "
            "at once, without the patient's name."
        ),
    )
    async def create(
        self,
        patient_id: IdPath,
        data: JSONBody[ConcernIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> ConcernOut:
        row = await concerns.raise_concern(
            db, caller, patient_id, note=data.note, urgent=data.urgent, now=clock.now()
        )
        return ConcernOut(
            escalation_id=row.id,
            patient_id=row.patient_id,
            severity=row.severity,  # type: ignore[arg-type]
            status=row.status,  # type: ignore[arg-type]
            opened_at=row.opened_at,
        )
