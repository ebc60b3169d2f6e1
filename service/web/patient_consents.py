"""A patient's consents to share with agencies, for ward staff: give one (agency, scope,
expiry), withdraw one after a confirmation, and the history of every consent (in force,
expired, withdrawn). The same services the consents API calls (`service.consents.service`)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Consent
from service.agencies.service import list_agencies
from service.consents.schemas import ConsentCreate
from service.consents.service import (
    get_consent,
    give_consent,
    in_force,
    list_consents,
    withdraw_consent,
)
from service.http.auth import WARD
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.patients.service import get_patient
from service.principal import Principal
from service.web.common import back_to, form_of, names_of, page, render, ward_zone
from service.web.forms import Form, attempt, local_datetime, parse

CONSENT_LABELS = {
    "agency_id": "Agency",
    "scope": "What may be shared",
    "given_at": "When the patient gave it",
    "expires_at": "Ends",
}
# What each scope shows the agency (the API's description of POST .../consents).
SCOPES = {
    "contact_details": "Contact details: name, mobile and key worker",
    "plan": "Plan: contact details, the goals the agency owns and the plan's crisis contacts",
    "full": "Full: all of that, the relapse-prevention plan and check-in history",
}


def _consents_url(patient_id: uuid.UUID) -> str:
    return f"/board/patients/{patient_id}/consents"


class ConsentPages(Controller):
    path = "/board/patients/{patient_id:uuid}/consents"
    include_in_schema = False

    @get("/", opt=page(WARD))
    async def consents(
        self, request: Request[Any, Any, Any], patient_id: IdPath, db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _list_view(request, res, db, caller, patient_id)

    @post("/", opt=page(WARD), status_code=303)
    async def give(
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

        async def save() -> None:
            data = parse(
                {
                    "agency_id": fields.get("agency_id", "").strip() or None,
                    "scope": fields.get("scope", "").strip() or None,
                    "given_at": local_datetime(fields, "given_at", tz),
                    "expires_at": local_datetime(fields, "expires_at", tz),
                },
                ConsentCreate,
            )
            await give_consent(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, save, CONSENT_LABELS)
        if failed is not None:
            return await _list_view(request, res, db, caller, patient_id, give_form=failed)
        return back_to(f"{_consents_url(patient_id)}?done=given")

    @get("/{consent_id:uuid}/withdraw", opt=page(WARD))
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        consent_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _confirm_view(request, res, db, caller, patient_id, consent_id)

    @post("/{consent_id:uuid}/withdraw", opt=page(WARD), status_code=303)
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        consent_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def save() -> None:
            await withdraw_consent(db, caller, patient_id, consent_id, clock.now())

        _, failed = await attempt(db, fields, save, CONSENT_LABELS)
        if failed is not None:
            return await _confirm_view(
                request, res, db, caller, patient_id, consent_id, form=failed
            )
        return back_to(f"{_consents_url(patient_id)}?done=withdrawn")


async def _history(
    db: AsyncSession, caller: Principal, patient_id: uuid.UUID, res: AppResources
) -> tuple[list[Consent], dict[str, Any]]:
    """The patient's consents, newest first, and what the templates need to show them."""
    now = res.clock.now()
    rows, _ = await list_consents(db, caller, patient_id, now, None, MAX_LIMIT)
    rows.reverse()
    agencies, _ = await list_agencies(db, caller, None, MAX_LIMIT)
    names = await names_of(db, [c.recorded_by_id for c in rows] + [c.withdrawn_by_id for c in rows])
    state = {
        c.id: "withdrawn"
        if c.withdrawn_at is not None
        else ("in force" if in_force(c, now) else "expired")
        for c in rows
    }
    return rows, {
        "agencies": agencies,
        "agency_names": {a.id: a.name for a in agencies},
        "names": names,
        "state": state,
        "scopes": SCOPES,
    }


async def _list_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    give_form: Form | None = None,
) -> Template:
    patient = await get_patient(db, caller, patient_id, res.clock.now())
    consents, context = await _history(db, caller, patient_id, res)
    give_form = give_form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "patient_consents.html",
        status_code=give_form.status,
        patient=patient,
        consents=consents,
        give_form=give_form,
        done=request.query_params.get("done", ""),
        **context,
    )


async def _confirm_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    consent_id: uuid.UUID,
    *,
    form: Form | None = None,
) -> Template:
    patient = await get_patient(db, caller, patient_id, res.clock.now())
    consent = await get_consent(db, caller, patient_id, consent_id, res.clock.now())
    _, context = await _history(db, caller, patient_id, res)
    form = form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "consent_withdraw.html",
        status_code=form.status,
        patient=patient,
        consent=consent,
        form=form,
        **context,
    )
