from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.params import FromQuery, JSONBody

from service.agencies import service
from service.agencies.schemas import (
    AgencyCreate,
    AgencyKind,
    AgencyList,
    AgencyOut,
    AgencyPatientList,
    AgencyUpdate,
)
from service.http.auth import ADMIN, AGENCY, WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit


class AgencyController(Controller):
    path = "/api/v1/agencies"
    tags = ["agencies"]

    @post("/", opt=roles(ADMIN), status_code=201, summary="Create an agency")
    async def create(self, data: JSONBody[AgencyCreate], db: Db) -> AgencyOut:
        return service.to_out(await service.create_agency(db, data))

    @get(
        "/",
        opt=roles(ADMIN, WARD, AGENCY),
        summary="List agencies",
        description="Admins and ward staff see every agency; an agency worker sees only their own.",
    )
    async def list_(
        self,
        db: Db,
        caller: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        active: FromQuery[bool | None] = None,
        kind: FromQuery[AgencyKind | None] = None,
    ) -> AgencyList:
        rows, next_cursor = await service.list_agencies(
            db, caller, cursor, limit, active=active, kind=kind
        )
        return AgencyList(items=[service.to_out(a) for a in rows], next_cursor=next_cursor)

    @get(
        "/{agency_id:uuid}",
        opt=roles(ADMIN, WARD, AGENCY),
        summary="Read an agency",
        description="An agency worker may read only their own agency; any other answers 404.",
    )
    async def read(self, agency_id: IdPath, db: Db, caller: Caller) -> AgencyOut:
        return service.to_out(await service.get_agency(db, caller, agency_id))

    @patch(
        "/{agency_id:uuid}",
        opt=roles(ADMIN),
        summary="Change an agency",
        description="Deactivating an agency ends its workers' view of every patient at once.",
    )
    async def update(
        self, agency_id: IdPath, data: JSONBody[AgencyUpdate], db: Db, clock: ClockDep
    ) -> AgencyOut:
        return service.to_out(await service.update_agency(db, agency_id, data, clock.now()))


class AgencyPatientsController(Controller):
    path = "/api/v1/agency/patients"
    tags = ["agencies"]

    @get(
        "/",
        opt=roles(AGENCY),
        summary="Patients visible to the caller's agency",
        description=(
            "The agency worker's own list, and the only way to enumerate patients: those with a "
            "`pending` or `accepted` referral to the caller's agency AND a consent to share with "
            "it in force now (given, not withdrawn, not expired). Each item carries only the "
            "fields of the widest scope in force, named in its `scope`: `contact_details` "
            "(name, mobile, key worker), `plan` (+ `goals` owned by the caller's agency and the "
            "current plan's `crisis_contacts`), `full` (+ `relapse_prevention_plan`). "
            "Withdrawal or expiry takes effect on the next request. Every patient listed is "
            "written to the audit log."
        ),
    )
    async def list_(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AgencyPatientList:
        items, next_cursor = await service.list_visible_patients(
            db, caller, clock.now(), cursor, limit
        )
        return AgencyPatientList(items=items, next_cursor=next_cursor)
