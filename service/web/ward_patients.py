"""The ward's patients in the browser: the list and its searches, registering a patient, their
details (and closing the record), and their stays (admit, discharge, readmit) with the
follow-up clock and its contact attempts. Every page calls the service the API calls."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import InvalidInput
from service.follow_ups.schemas import AttemptIn, FollowUpOut
from service.follow_ups.service import list_follow_ups, record_attempt
from service.http.auth import WARD, public
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import DEFAULT_LIMIT, MAX_LIMIT, check_limit
from service.patients import episodes
from service.patients.schemas import (
    AdmissionIn,
    DischargeIn,
    PatientCreate,
    PatientStatus,
    PatientUpdate,
)
from service.patients.service import create_patient, get_patient, list_patients, update_patient
from service.principal import WARD as WARD_ROLES
from service.principal import Principal
from service.users.service import list_users
from service.web.common import back_to, form_of, page, render, ward_zone
from service.web.forms import Form, attempt, blank_to_none, checkbox, local_datetime, parse

# The list's filters that matter on a ward, each one of the API list's own parameters.
RECENT_DISCHARGE_DAYS = 7
LIST_FILTERS = {
    "recently_discharged": ("discharged_within_days", RECENT_DISCHARGE_DAYS),
    "follow_up_due": ("follow_up", "due"),
    "no_sms_monitoring": ("monitoring", "none"),
}
SEARCH_LABELS = {
    "name": "Name",
    "nhs_number": "NHS number",
    "status": "Status",
    "cursor": "Page",
    "limit": "Page size",
    "discharged_within_days": "Discharged within",
}

PATIENT_LABELS = {
    "nhs_number": "NHS number",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "mobile": "Mobile",
    "timezone": "Time zone",
    "contact_window_start": "Contact from",
    "contact_window_end": "Contact until",
    "language": "Language",
    "discreet_messages": "Discreet messages",
    "sms_consent": "SMS consent",
    "key_worker_id": "Key worker",
    "admitted_at": "Admitted",
}
# What the details page changes (PATCH semantics: the service changes only what differs).
DETAIL_FIELDS = (
    "mobile",
    "timezone",
    "contact_window_start",
    "contact_window_end",
    "language",
    "discreet_messages",
    "sms_consent",
    "key_worker_id",
)
CLOSE_LABELS = {"confirm": "Confirmation"}
ADMIT_LABELS = {"admitted_at": "Admitted"}
DISCHARGE_LABELS = {
    "discharged_at": "Discharged",
    "suicide_risk": "Suicide risk",
    "destination": "Destination",
}
ATTEMPT_LABELS = {
    "occurred_at": "When",
    "method": "How",
    "successful": "Whether the patient was reached",
    "note": "Note",
}
YES_NO = {"yes": True, "no": False}
NOTICES = {
    "registered": "Patient registered and admitted.",
    "saved": "Details saved.",
    "admitted": "Admission recorded.",
    "discharged": "Discharge recorded: the follow-up clock has started.",
    "attempt": "Contact attempt recorded.",
}


@get("/", opt=public(), include_in_schema=False, name="arrive")
async def arrive() -> Redirect:
    """`/`: the workspace (which sends a signed-out browser on to the sign-in form)."""
    return Redirect("/board", status_code=303)


class WardPatientPages(Controller):
    path = "/board/patients"
    include_in_schema = False
    opt = page(WARD)

    @get("/")
    async def patients(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template:
        query = {k: v.strip()[:200] for k, v in request.query_params.items() if isinstance(v, str)}
        chosen = {k: v for k, v in query.items() if v}
        search: dict[str, Any] = {
            "nhs_number": chosen.get("nhs_number"),
            "name": chosen.get("name"),
            "status": chosen.get("status"),
        }
        for name, (param, value) in LIST_FILTERS.items():
            if checkbox(chosen, name):
                search[param] = value
        items: list[Any] = []
        next_cursor: str | None = None
        form = Form.blank(**chosen)
        try:
            # The API's own type for the status filter.
            search["status"] = parse({"status": search["status"]}, _StatusQuery).status
            items, next_cursor = await list_patients(
                db, caller, clock.now(), chosen.get("cursor"), _limit(chosen), **search
            )
        except InvalidInput as exc:
            # The cursor and page size have no field: their refusal is the form's problem.
            shown = {k: v for k, v in chosen.items() if k not in ("cursor", "limit")}
            form = Form.failed(shown, exc, SEARCH_LABELS)
        filters = {k: v for k, v in chosen.items() if k != "cursor"}
        return await render(
            request,
            res,
            db,
            caller,
            "ward_patients.html",
            status_code=form.status,
            form=form,
            patients=items,
            next_query={**filters, "cursor": next_cursor} if next_cursor else None,
            filtered=bool(filters),
        )

    @get("/new")
    async def new_form(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template:
        tz = await ward_zone(db, caller)
        form = Form.blank(
            timezone=tz.key,
            contact_window_start="09:00",
            contact_window_end="20:00",
            language="en",
            admitted_at=res.clock.now().astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        )
        return await _new_page(request, res, db, caller, form)

    @post("/new", status_code=303)
    async def register(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Redirect | Template:
        fields = _all_of(await form_of(request, res), PATIENT_LABELS)
        tz = await ward_zone(db, caller)

        async def register() -> uuid.UUID:
            text = blank_to_none(
                fields,
                "nhs_number",
                "given_name",
                "family_name",
                "date_of_birth",
                "mobile",
                "timezone",
                "contact_window_start",
                "contact_window_end",
                "language",
                "key_worker_id",
            )
            data = parse(
                {
                    # An empty field is "not given": the API's default where it has one
                    # (time zone: the ward's), its own "is required" where it has none.
                    **text,
                    "discreet_messages": checkbox(fields, "discreet_messages"),
                    "sms_consent": checkbox(fields, "sms_consent"),
                    "admitted_at": local_datetime(fields, "admitted_at", tz),
                },
                PatientCreate,
            )
            return (await create_patient(db, caller, data, clock.now())).id

        patient_id, failed = await attempt(db, fields, register, PATIENT_LABELS)
        if failed is not None:
            return await _new_page(request, res, db, caller, failed)
        return back_to(f"/board/patients/{patient_id}/details?done=registered")

    @get("/{patient_id:uuid}/details")
    async def details(
        self, request: Request[Any, Any, Any], patient_id: IdPath, db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _details_page(request, res, db, caller, patient_id)

    @post("/{patient_id:uuid}/details", status_code=303)
    async def save_details(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = _all_of(await form_of(request, res), PATIENT_LABELS)

        async def save() -> None:
            text = blank_to_none(fields, *DETAIL_FIELDS)
            data = parse(
                {
                    # An empty mobile or key worker clears it; an emptied required field is
                    # refused by the API's own struct ("is required").
                    **text,
                    "discreet_messages": checkbox(fields, "discreet_messages"),
                    "sms_consent": checkbox(fields, "sms_consent"),
                },
                PatientUpdate,
            )
            await update_patient(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, save, PATIENT_LABELS)
        if failed is not None:
            return await _details_page(request, res, db, caller, patient_id, form=failed)
        return back_to(f"/board/patients/{patient_id}/details?done=saved")

    @post("/{patient_id:uuid}/close", status_code=303)
    async def close(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = _all_of(await form_of(request, res), CLOSE_LABELS)

        async def close() -> None:
            # The confirmation step: closing stops check-ins and surveys for good.
            if not checkbox(fields, "confirm"):
                await get_patient(db, caller, patient_id, clock.now())  # 404 before 422
                raise InvalidInput.field("confirm", "must be ticked to close the record")
            await update_patient(
                db, caller, patient_id, PatientUpdate(status="closed"), clock.now()
            )

        _, failed = await attempt(db, fields, close, CLOSE_LABELS)
        if failed is not None:
            return await _details_page(request, res, db, caller, patient_id, close_form=failed)
        return back_to(f"/board/patients/{patient_id}")

    @get("/{patient_id:uuid}/stays")
    async def stays(
        self, request: Request[Any, Any, Any], patient_id: IdPath, db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _stays_page(request, res, db, caller, patient_id)

    @post("/{patient_id:uuid}/stays/admit", status_code=303)
    async def admit(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = _all_of(await form_of(request, res), ADMIT_LABELS)
        tz = await ward_zone(db, caller)

        async def admit() -> None:
            data = parse({"admitted_at": local_datetime(fields, "admitted_at", tz)}, AdmissionIn)
            await episodes.admit(db, caller, patient_id, data.admitted_at, clock.now())

        _, failed = await attempt(db, fields, admit, ADMIT_LABELS)
        if failed is not None:
            return await _stays_page(request, res, db, caller, patient_id, admit_form=failed)
        return back_to(f"/board/patients/{patient_id}/stays?done=admitted")

    @post("/{patient_id:uuid}/stays/discharge", status_code=303)
    async def discharge(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = _all_of(await form_of(request, res), DISCHARGE_LABELS)
        tz = await ward_zone(db, caller)

        async def discharge() -> None:
            data = parse(
                {
                    "discharged_at": local_datetime(fields, "discharged_at", tz),
                    # No default: an unanswered question is refused (DischargeIn requires it).
                    "suicide_risk": YES_NO.get(fields.get("suicide_risk", "")),
                    **blank_to_none(fields, "destination"),
                },
                DischargeIn,
            )
            await episodes.discharge(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, discharge, DISCHARGE_LABELS)
        if failed is not None:
            return await _stays_page(request, res, db, caller, patient_id, discharge_form=failed)
        return back_to(f"/board/patients/{patient_id}/stays?done=discharged")

    @post("/{patient_id:uuid}/follow-ups/{follow_up_id:uuid}/attempts", status_code=303)
    async def contact_attempt(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        follow_up_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = _all_of(await form_of(request, res), ATTEMPT_LABELS)
        tz = await ward_zone(db, caller)

        async def record() -> None:
            data = parse(
                {
                    "occurred_at": local_datetime(fields, "occurred_at", tz),
                    "method": fields.get("method") or None,
                    "successful": YES_NO.get(fields.get("successful", "")),
                    **blank_to_none(fields, "note"),
                },
                AttemptIn,
            )
            await record_attempt(db, caller, patient_id, follow_up_id, data, clock.now())

        _, failed = await attempt(db, fields, record, ATTEMPT_LABELS)
        if failed is not None:
            return await _stays_page(
                request, res, db, caller, patient_id, attempt_form=failed, attempt_for=follow_up_id
            )
        return back_to(f"/board/patients/{patient_id}/stays?done=attempt#follow-ups")


async def _key_workers(db: AsyncSession, caller: Principal) -> list[tuple[str, str]]:
    """The ward's active staff, as the choices for key worker (the service checks the pick)."""
    users, _ = await list_users(db, None, MAX_LIMIT, ward_id=caller.staff_ward)
    return [(str(u.id), u.full_name) for u in users if u.active and u.role in WARD_ROLES]


class _StatusQuery(msgspec.Struct):
    status: PatientStatus | None = None


def _all_of(fields: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    """The submitted fields with each of the form's own present (an unticked radio group or
    checkbox is not sent), so a refusal naming one is shown beside it."""
    return {**dict.fromkeys(labels, ""), **fields}


def _limit(query: dict[str, str]) -> int:
    """The page size (the API's bounds); not offered on the page, but kept in its links."""
    try:
        return check_limit(int(query.get("limit", DEFAULT_LIMIT)))
    except ValueError:
        raise InvalidInput.field("limit", "is not a number") from None


def _notice(request: Request[Any, Any, Any]) -> str:
    return NOTICES.get(str(request.query_params.get("done", "")), "")


async def _new_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    form: Form,
) -> Template:
    return await render(
        request,
        res,
        db,
        caller,
        "patient_new.html",
        status_code=form.status,
        form=form,
        key_workers=await _key_workers(db, caller),
    )


async def _details_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    form: Form | None = None,
    close_form: Form | None = None,
) -> Template:
    patient = await get_patient(db, caller, patient_id, res.clock.now())
    form = form or Form.blank(
        mobile=patient.mobile,
        timezone=patient.timezone,
        contact_window_start=patient.contact_window_start.strftime("%H:%M"),
        contact_window_end=patient.contact_window_end.strftime("%H:%M"),
        language=patient.language,
        discreet_messages="yes" if patient.discreet_messages else "",
        sms_consent="yes" if patient.sms_consent else "",
        key_worker_id=patient.key_worker_id,
    )
    close_form = close_form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "patient_details.html",
        status_code=max(form.status, close_form.status),
        patient=patient,
        form=form,
        close_form=close_form,
        key_workers=await _key_workers(db, caller),
        notice=_notice(request),
    )


async def _stays_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    admit_form: Form | None = None,
    discharge_form: Form | None = None,
    attempt_form: Form | None = None,
    attempt_for: uuid.UUID | None = None,
) -> Template:
    now = res.clock.now()
    tz = await ward_zone(db, caller)
    patient = await get_patient(db, caller, patient_id, now)
    stays, _ = await episodes.list_episodes(db, caller, patient_id, now, None, MAX_LIMIT)
    follow_ups, _ = await list_follow_ups(db, caller, patient_id, now, None, MAX_LIMIT)
    on_ward = any(s.discharged_at is None for s in stays)
    wall = now.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    # The one follow-up a contact attempt is recorded against: the newest not yet completed.
    open_follow_up = _chasing(follow_ups, attempt_for)
    forms = [f for f in (admit_form, discharge_form, attempt_form) if f is not None]
    return await render(
        request,
        res,
        db,
        caller,
        "patient_stays.html",
        tz=tz,
        status_code=max([f.status for f in forms], default=200),
        patient=patient,
        stays=stays,
        follow_ups=follow_ups,
        by_episode={f.episode_id: f for f in follow_ups},
        on_ward=on_ward,
        open_follow_up=open_follow_up,
        admit_form=admit_form or Form.blank(admitted_at=wall),
        discharge_form=discharge_form or Form.blank(discharged_at=wall),
        attempt_form=attempt_form or Form.blank(occurred_at=wall),
        notice=_notice(request),
    )


def _chasing(follow_ups: list[FollowUpOut], wanted: uuid.UUID | None) -> FollowUpOut | None:
    if wanted is not None:
        for f in follow_ups:
            if f.id == wanted:
                return f
    # Newest due first: an older one left open was superseded by a readmission.
    if follow_ups and follow_ups[0].status != "completed":
        return follow_ups[0]
    return None


__all__ = ["WardPatientPages", "arrive"]
