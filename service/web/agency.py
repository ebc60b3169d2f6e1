"""The agency worker's workspace: the referral inbox (soonest answer first) with accept,
decline and complete; the consent-scoped patient view with a support-action form; raising a
concern; their own history of support actions.

Every read and change goes through the services the API calls (referrals, support actions,
concerns, the agency's patient view), so the consent rule is the API's, in SQL: a patient or
referral outside it is the same audited 404, and a referral whose consent ended shows only a
neutral line (no patient, reason, goal or history) on the very next page load.
"""

from __future__ import annotations

import uuid
from typing import Any, get_args

import msgspec
from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.referrals import OPEN_REFERRAL_STATUSES
from service.agencies.service import list_visible_patients
from service.agencies.visibility import read_patient_for_agency
from service.escalations.concerns import raise_concern
from service.escalations.schemas import ConcernIn
from service.http.auth import AGENCY
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.principal import Principal
from service.referrals.schemas import ReferralDecline, ReferralDetail
from service.referrals.service import list_referrals, read_referral, transition
from service.support_actions.schemas import SupportActionCreate, SupportActionKind
from service.support_actions.service import (
    list_own_support_actions,
    list_support_actions,
    log_support_action,
)
from service.web.common import back_to, form_of, page, render, ward_zone
from service.web.forms import Form, attempt, blank_to_none, checkbox, local_datetime, parse

# The form fields (the API's own names) and how the pages label them.
DECLINE_LABELS = {"reason": "Reason for declining"}
ACTION_LABELS = {"kind": "What you did", "occurred_at": "When", "note": "Note"}
CONCERN_LABELS = {"note": "Your concern", "urgent": "Urgent"}
OWN_ACTIONS_SHOWN = 20

# One-line confirmations after a change (fixed words: nothing from the URL is echoed).
DONE = {
    "accept": "Referral accepted.",
    "decline": "Referral declined.",
    "complete": "Referral completed.",
    "action": "Support action logged.",
    "concern": "Concern raised with the ward.",
}


def _done(request: Request[Any, Any, Any]) -> str:
    return DONE.get(str(request.query_params.get("done", "")), "")


class AgencyPages(Controller):
    path = "/board/agency"
    include_in_schema = False
    opt = page(AGENCY)

    @get("/")
    async def home(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template:
        now = clock.now()
        referrals, _ = await list_referrals(
            db, caller, now, None, MAX_LIMIT, order_by_respond_by=True
        )
        patients, _ = await list_visible_patients(db, caller, now, None, MAX_LIMIT)
        own_actions = await list_own_support_actions(db, caller, now, OWN_ACTIONS_SHOWN)
        shared = [r for r in referrals if r.sharing == "in_force"]
        return await render(
            request,
            res,
            db,
            caller,
            "agency.html",
            inbox=[r for r in shared if r.status in OPEN_REFERRAL_STATUSES],
            answered=[r for r in shared if r.status not in OPEN_REFERRAL_STATUSES],
            waiting=sum(1 for r in referrals if r.sharing == "none"),
            consent_ended=sum(1 for r in referrals if r.closed_reason == "consent_ended"),
            patients=patients,
            names={p.id: f"{p.given_name} {p.family_name}" for p in patients},
            own_actions=own_actions,
            done=_done(request),
        )

    @get("/referrals/{referral_id:uuid}")
    async def referral(
        self,
        request: Request[Any, Any, Any],
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template:
        detail = await read_referral(db, caller, referral_id, clock.now())
        return await _referral_page(request, res, db, caller, detail)

    @post("/referrals/{referral_id:uuid}/accept", status_code=303)
    async def accept(
        self,
        request: Request[Any, Any, Any],
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        return await _answer(request, res, db, caller, referral_id, "accept")

    @post("/referrals/{referral_id:uuid}/decline", status_code=303)
    async def decline(
        self,
        request: Request[Any, Any, Any],
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        return await _answer(request, res, db, caller, referral_id, "decline")

    @post("/referrals/{referral_id:uuid}/complete", status_code=303)
    async def complete(
        self,
        request: Request[Any, Any, Any],
        referral_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        return await _answer(request, res, db, caller, referral_id, "complete")

    @post("/patients/{patient_id:uuid}/support-actions", status_code=303)
    async def support_action(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)
        tz = await ward_zone(db, caller)

        async def log() -> None:
            body = {
                **blank_to_none(fields, "kind", "note"),
                "occurred_at": local_datetime(fields, "occurred_at", tz),
            }
            data = parse(body, SupportActionCreate)
            await log_support_action(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, log, ACTION_LABELS)
        if failed is not None:
            return await agency_patient_page(
                request, res, db, caller, patient_id, action_form=failed
            )
        return back_to(f"/board/patients/{patient_id}?done=action")

    @get("/patients/{patient_id:uuid}/concerns")
    async def concern_form(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template:
        return await _concern_page(request, res, db, caller, patient_id, Form.blank())

    @post("/patients/{patient_id:uuid}/concerns", status_code=303)
    async def concern(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def send() -> None:
            body = {"note": fields.get("note", ""), "urgent": checkbox(fields, "urgent")}
            data = parse(body, ConcernIn)
            await raise_concern(
                db, caller, patient_id, note=data.note, urgent=data.urgent, now=clock.now()
            )

        _, failed = await attempt(db, fields, send, CONCERN_LABELS)
        if failed is not None:
            return await _concern_page(request, res, db, caller, patient_id, failed)
        return back_to(f"/board/patients/{patient_id}?done=concern")


async def _answer(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    referral_id: uuid.UUID,
    action: str,
) -> Redirect | Template:
    """Accept, decline (a reason required, the API's ReferralDecline) or complete, through the
    API's transition; a refusal shows the referral page again with its message."""
    fields = await form_of(request, res)

    async def move() -> None:
        reason = None
        if action == "decline":
            reason = parse(blank_to_none(fields, "reason"), ReferralDecline).reason
        await transition(db, caller, referral_id, action, res.clock.now(), reason=reason)

    _, failed = await attempt(db, fields, move, DECLINE_LABELS)
    if failed is not None:
        detail = await read_referral(db, caller, referral_id, res.clock.now())
        return await _referral_page(request, res, db, caller, detail, form=failed)
    return back_to(f"/board/agency?done={action}")


async def _referral_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    detail: ReferralDetail,
    *,
    form: Form | None = None,
) -> Template:
    """One referral as its agency may see it; the patient's name only while they are visible."""
    now = res.clock.now()
    name = None
    if detail.sharing == "in_force" and detail.status in OPEN_REFERRAL_STATUSES:
        patient = await read_patient_for_agency(db, caller, detail.patient_id, now)
        name = f"{patient.given_name} {patient.family_name}"
    form = form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "agency_referral.html",
        status_code=form.status,
        referral=detail,
        patient_name=name,
        form=form,
    )


async def _concern_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    form: Form,
) -> Template:
    patient = await read_patient_for_agency(db, caller, patient_id, res.clock.now())
    return await render(
        request,
        res,
        db,
        caller,
        "agency_concern.html",
        status_code=form.status,
        patient=patient,
        form=form,
    )


async def agency_patient_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    action_form: Form | None = None,
) -> Template:
    """Only what this agency's consent allows; any other patient is the audited 404. A
    support-action form shown again with its errors comes in as `action_form`."""
    now = res.clock.now()
    patient = await read_patient_for_agency(db, caller, patient_id, now)
    referrals, _ = await list_referrals(db, caller, now, None, MAX_LIMIT, patient_id=patient_id)
    actions, _ = await list_support_actions(db, caller, patient_id, now, None, MAX_LIMIT)
    action_form = action_form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "agency_patient.html",
        status_code=action_form.status,
        patient=patient,
        # Fields outside the consent's scope are UNSET: the template shows no section for them.
        goals=None if patient.goals is msgspec.UNSET else patient.goals,
        crisis_contacts=(
            None if patient.crisis_contacts is msgspec.UNSET else patient.crisis_contacts
        ),
        referrals=referrals,
        actions=actions,
        action_form=action_form,
        kinds=[(k, k.replace("_", " ").capitalize()) for k in SUPPORT_ACTION_KINDS],
        done=_done(request),
    )


# The API's own list of kinds, in its order.
SUPPORT_ACTION_KINDS: tuple[str, ...] = get_args(SupportActionKind)
