from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from service.http.auth import AGENCY, WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit
from service.principal import Principal
from service.referrals import service
from service.referrals.schemas import (
    ReferralCreate,
    ReferralDecline,
    ReferralDetail,
    ReferralList,
    ReferralNote,
    ReferralStatus,
)


class ReferralController(Controller):
    path = "/api/v1/referrals"
    tags = ["referrals"]

    @post(
        "/",
        opt=roles(WARD),
        status_code=201,
        summary="Refer a patient of your ward to an agency",
        description=(
            "`respond_by` defaults to 2 working days (Monday to Friday in the ward's time zone; "
            "bank holidays are not skipped) after now. The patient must be in the caller's ward "
            "(else 404) and the agency must exist and be active (else 422); `goal_id`, when "
            "given, must name a goal of that patient (else 422). An open referral of "
            "the same patient to the same agency for the same goal answers 409. A readmission "
            "of the patient puts their open referrals on hold: `on_hold_since` is set and the "
            "history gets an on-hold note; the next discharge clears it and adds a note that "
            "the work resumes (statuses do not change). Closing a referral ends its hold. "
            "**Consent:** a referral is sent only while a consent of the patient to share with "
            "that agency is in force, or with one given in the same request: `consent` "
            "`{scope, given_at?, expires_at?}` is recorded as POST .../consents would (its "
            "errors name `consent.<field>`). Without either: 422 naming `consent`, nothing "
            "written. **What the agency sees follows consent** (`sharing`): `in_force` shows "
            "everything; `none` (no consent ever given, e.g. an older referral) shows only that "
            "the referral waits for consent; `ended` (withdrawn or expired) shows an open "
            "referral as `withdrawn` with `closed_reason` `consent_ended`. Without a consent in "
            "force the agency gets `reason`, `goal_id`, `decline_reason`, `on_hold_since` null "
            "and no `history`, cannot answer (409), and the referral is not chased as "
            "unanswered. Withdrawing the last consent closes the agency's open referrals in the "
            "same transaction (`withdrawn`, `closed_reason` `consent_ended`)."
        ),
    )
    async def create(
        self, data: JSONBody[ReferralCreate], db: Db, caller: Caller, clock: ClockDep
    ) -> ReferralDetail:
        referral = await service.create_referral(db, caller, data, clock.now())
        return await service.to_detail(db, referral)

    @get(
        "/",
        opt=roles(WARD, AGENCY),
        summary="List referrals (ward staff: their ward's; agency workers: their agency's)",
        description="Newest first. Filters narrow the caller's set and never widen it.",
    )
    async def list_(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[ReferralStatus | None] = None,
        patient_id: FromQuery[uuid.UUID | None] = None,
        agency_id: FromQuery[uuid.UUID | None] = None,
    ) -> ReferralList:
        rows, next_cursor = await service.list_referrals(
            db,
            caller,
            clock.now(),
            cursor,
            limit,
            status=status,
            patient_id=patient_id,
            agency_id=agency_id,
        )
        return ReferralList(items=rows, next_cursor=next_cursor)

    @get(
        "/{referral_id:uuid}",
        opt=roles(WARD, AGENCY),
        summary="Read a referral with its status history",
    )
    async def read(
        self, referral_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> ReferralDetail:
        return await service.read_referral(db, caller, referral_id, clock.now())

    @post(
        "/{referral_id:uuid}/accept",
        opt=roles(AGENCY),
        status_code=200,
        summary="Accept a pending referral (workers of the referred agency)",
    )
    async def accept(
        self,
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        data: JSONBody[ReferralNote | None] = None,
    ) -> ReferralDetail:
        return await _move(db, caller, clock.now(), referral_id, "accept", data)

    @post(
        "/{referral_id:uuid}/decline",
        opt=roles(AGENCY),
        status_code=200,
        summary="Decline a pending referral with a reason (workers of the referred agency)",
    )
    async def decline(
        self,
        referral_id: IdPath,
        data: JSONBody[ReferralDecline],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> ReferralDetail:
        referral = await service.transition(
            db, caller, referral_id, "decline", clock.now(), reason=data.reason
        )
        return await service.to_detail(db, referral, for_agency=caller.is_agency_worker)

    @post(
        "/{referral_id:uuid}/complete",
        opt=roles(AGENCY),
        status_code=200,
        summary="Complete an accepted referral (workers of the referred agency)",
    )
    async def complete(
        self,
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        data: JSONBody[ReferralNote | None] = None,
    ) -> ReferralDetail:
        return await _move(db, caller, clock.now(), referral_id, "complete", data)

    @post(
        "/{referral_id:uuid}/withdraw",
        opt=roles(WARD),
        status_code=200,
        summary="Withdraw a pending or accepted referral (ward staff of the patient's ward)",
    )
    async def withdraw(
        self,
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        data: JSONBody[ReferralNote | None] = None,
    ) -> ReferralDetail:
        return await _move(db, caller, clock.now(), referral_id, "withdraw", data)


async def _move(
    db: AsyncSession,
    caller: Principal,
    now: datetime,
    referral_id: uuid.UUID,
    action: str,
    data: ReferralNote | None,
) -> ReferralDetail:
    referral = await service.transition(
        db, caller, referral_id, action, now, reason=data.reason if data else None
    )
    # A transition succeeds only while a consent is in force (or for the ward, who sees all).
    return await service.to_detail(db, referral, for_agency=caller.is_agency_worker)
