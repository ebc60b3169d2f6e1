"""The patient page (ward staff: the whole picture; agency workers: their consent-scoped view),
its live fragment, and the refer form. Contact attempts are recorded on the stays page
(service/web/ward_patients.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.agencies.service import list_agencies
from service.conversation.messages import list_messages
from service.errors import NotFound
from service.escalations.service import list_escalations
from service.follow_ups.service import list_follow_ups
from service.goals.service import list_goals
from service.http.auth import AGENCY, WARD
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.patients.episodes import list_episodes
from service.patients.service import get_patient
from service.plans.service import get_plan
from service.principal import Principal
from service.referrals.schemas import ReferralCreate
from service.referrals.service import create_referral, list_referrals
from service.support_actions.service import list_support_actions
from service.web.agency import agency_patient_page
from service.web.common import back_to, form_of, page, render
from service.web.forms import Form, attempt, blank_to_none, parse

MESSAGES_SHOWN = 50


class PatientPages(Controller):
    path = "/board/patients/{patient_id:uuid}"
    include_in_schema = False

    @get("/", opt=page(WARD, AGENCY))
    async def patient(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        if caller.is_agency_worker:
            return await agency_patient_page(request, res, db, caller, patient_id)
        return await _ward_view(request, res, db, caller, patient_id)

    @get("/live", opt=page(WARD))
    async def live(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template:
        patient = await get_patient(db, caller, patient_id, clock.now())
        live = await _live_context(db, caller, patient_id, clock.now())
        return await render(request, res, db, caller, "_patient_live.html", patient=patient, **live)

    @post("/referrals", opt=page(WARD), status_code=303)
    async def refer(
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
            body = {
                "patient_id": str(patient_id),
                **blank_to_none(fields, "agency_id", "goal_id", "reason"),
            }
            scope = fields.get("consent", "").strip()
            if scope:  # the consent given with the referral (the API's `consent` object)
                body["consent"] = {"scope": scope}
            data = parse(body, ReferralCreate)
            await create_referral(db, caller, data, clock.now())

        _, failed = await attempt(db, fields, send, REFER_LABELS)
        if failed is not None:
            return await _ward_view(request, res, db, caller, patient_id, refer_form=failed)
        return back_to(f"/board/patients/{patient_id}")


# The refer form's fields (the API's own names) and how the page labels them.
REFER_LABELS = {
    "agency_id": "Agency",
    "goal_id": "Goal",
    "reason": "Reason",
    "consent": "Consent to share",
}


async def _ward_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    refer_form: Form | None = None,
) -> Template:
    """The whole picture for ward staff; a form shown again with its errors comes in as
    `refer_form` and the page answers with that form's status."""
    now = res.clock.now()
    patient = await get_patient(db, caller, patient_id, now)
    episodes, _ = await list_episodes(db, caller, patient_id, now, None, 20)
    goals, _ = await list_goals(db, caller, patient_id, now, None, MAX_LIMIT)
    try:
        plan = await get_plan(db, caller, patient_id, now)
    except NotFound as missing:
        # No plan yet is an answer, not an error: keep the read's audit row.
        db.add_all(missing.keep_rows)
        plan = None
    referrals, _ = await list_referrals(db, caller, now, None, MAX_LIMIT, patient_id=patient_id)
    actions, _ = await list_support_actions(db, caller, patient_id, now, None, MAX_LIMIT)
    agencies, _ = await list_agencies(db, caller, None, MAX_LIMIT)
    live = await _live_context(db, caller, patient_id, now)
    refer_form = refer_form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "patient.html",
        status_code=refer_form.status,
        patient=patient,
        episodes=episodes,
        goals=goals,
        plan=plan,
        referrals=referrals,
        actions=actions,
        agencies=agencies,
        agency_names={a.id: a.name for a in agencies},
        refer_form=refer_form,
        **live,
    )


async def _live_context(
    db: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """The parts of the patient page that change on their own: follow-up clocks, the SMS
    conversation, and the patient's escalations."""
    follow_ups, _ = await list_follow_ups(db, caller, patient_id, now, None, 20)
    messages, _ = await list_messages(
        db, caller, patient_id, now, cursor=None, limit=MESSAGES_SHOWN
    )
    escalations, _ = await list_escalations(
        db, caller, now=now, cursor=None, limit=MAX_LIMIT, patient_id=patient_id
    )
    return {
        "follow_ups": follow_ups,
        "messages": list(reversed(messages)),  # oldest first reads like a conversation
        "escalations": [e for e in escalations if e.status != "resolved"],
    }
