from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody

from service.consents import service
from service.consents.schemas import ConsentCreate, ConsentList, ConsentOut
from service.http.auth import WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit


class ConsentController(Controller):
    path = "/api/v1/patients/{patient_id:uuid}/consents"
    tags = ["consents"]
    opt = roles(WARD)

    @post(
        "/",
        status_code=201,
        summary="Record a patient's consent to share with an agency",
        description=(
            "Scopes: `contact_details` (name, mobile, key worker), `plan` (+ goals owned by the "
            "agency and the plan's crisis contacts), `full` (+ relapse-prevention plan and "
            "check-in history). `given_at` defaults to now and may not be in the future; "
            "`expires_at` must be after `given_at` and in the future."
        ),
    )
    async def create(
        self,
        patient_id: IdPath,
        data: JSONBody[ConsentCreate],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> ConsentOut:
        now = clock.now()
        consent = await service.give_consent(db, caller, patient_id, data, now)
        return service.to_out(consent, now)

    @get("/", summary="List a patient's consents (withdrawn and expired ones too)")
    async def list_(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        agency_id: FromQuery[uuid.UUID | None] = None,
    ) -> ConsentList:
        now = clock.now()
        rows, next_cursor = await service.list_consents(
            db, caller, patient_id, now, cursor, limit, agency_id=agency_id
        )
        return ConsentList(items=[service.to_out(c, now) for c in rows], next_cursor=next_cursor)

    @post(
        "/{consent_id:uuid}/withdraw",
        status_code=200,
        summary="Withdraw a consent",
        description=(
            "Takes effect on the agency's next request. Withdrawing twice answers 409. When no "
            "other consent to share with that agency is in force, the agency's open referrals "
            "of the patient close in the same transaction: `withdrawn`, `closed_reason` "
            "`consent_ended`; the agency then sees no reason, goal or history."
        ),
    )
    async def withdraw(
        self,
        patient_id: IdPath,
        consent_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> ConsentOut:
        now = clock.now()
        consent = await service.withdraw_consent(db, caller, patient_id, consent_id, now)
        return service.to_out(consent, now)
