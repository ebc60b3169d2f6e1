"""The patient's check-ins page (ward staff): the schedule and the texts it will send next
(with whether each would be held, by the one texting rule), past check-ins with their
answers, and the forms to change the schedule, add an extra check-in and cancel one."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.checkins import service as checkins
from service.checkins.schemas import CheckInCreate, CheckInOut, ScheduleIn
from service.errors import InvalidInput
from service.http.auth import WARD
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.patient_access.texting import CANNOT_TEXT, why_not_text
from service.patients.service import get_patient
from service.principal import Principal
from service.web.common import back_to, form_of, page, render, ward_zone
from service.web.forms import Form, attempt, blank_to_none, checkbox, local_datetime, parse

SCHEDULE_LABELS = {
    "offsets_hours": "Hours after discharge",
    "reply_window_minutes": "Reply window (minutes)",
    "reminder_after_minutes": "Reminder after (minutes)",
    "active": "Send check-ins",
}
EXTRA_LABELS = {
    "due_at": "Due",
    "reply_window_minutes": "Reply window (minutes)",
    "reminder_after_minutes": "Reminder after (minutes)",
}
CONFIRMATIONS = {
    "added": "Extra check-in added.",
    "cancelled": "Check-in cancelled.",
    "schedule": "Schedule saved.",
}
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class NextText:
    """An upcoming check-in as staff see it: when it is due, when it would actually go, and
    why it would not go at all (the texting rule's reason in staff's words), if so."""

    check_in: CheckInOut
    held_until: datetime | None
    refused: str | None


def _base(patient_id: uuid.UUID) -> str:
    return f"/board/patients/{patient_id}/check-ins"


class CheckInPages(Controller):
    path = "/board/patients/{patient_id:uuid}/check-ins"
    include_in_schema = False

    @get("/", opt=page(WARD))
    async def check_ins(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _check_ins_view(request, res, db, caller, patient_id)

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
        tz = await ward_zone(db, caller)

        async def add() -> None:
            data = parse(
                {
                    "due_at": local_datetime(fields, "due_at", tz),
                    **blank_to_none(fields, "reply_window_minutes", "reminder_after_minutes"),
                },
                CheckInCreate,
            )
            await checkins.create_check_in(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, add, EXTRA_LABELS)
        if failed is not None:
            return await _check_ins_view(request, res, db, caller, patient_id, extra_form=failed)
        return back_to(f"{_base(patient_id)}?done=added")

    @post("/{check_in_id:uuid}/cancel", opt=page(WARD), status_code=303)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        check_in_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)

        async def cancel() -> None:
            await checkins.cancel_check_in(db, caller, patient_id, check_in_id, clock.now())

        _, failed = await attempt(db, fields, cancel)
        if failed is not None:
            return await _check_ins_view(request, res, db, caller, patient_id, cancel_form=failed)
        return back_to(f"{_base(patient_id)}?done=cancelled")

    @get("/schedule", opt=page(WARD))
    async def schedule(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template:
        current = await checkins.get_schedule(db, caller, patient_id, clock.now())
        form = Form.blank(
            offsets_hours=", ".join(str(h) for h in current.offsets_hours),
            reply_window_minutes=current.reply_window_minutes,
            reminder_after_minutes=current.reminder_after_minutes,
            active="yes" if current.active else "",
        )
        return await _schedule_view(request, res, db, caller, patient_id, form)

    @post("/schedule", opt=page(WARD), status_code=303)
    async def save_schedule(
        self,
        request: Request[Any, Any, Any],
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect | Template:
        fields = await form_of(request, res)
        fields.setdefault("active", "")  # an unticked box is not sent: keep it unticked

        async def save() -> None:
            data = parse(
                {
                    "offsets_hours": _offsets(fields.get("offsets_hours", "")),
                    **blank_to_none(fields, "reply_window_minutes", "reminder_after_minutes"),
                    "active": checkbox(fields, "active"),
                },
                ScheduleIn,
            )
            await checkins.put_schedule(db, caller, patient_id, data, clock.now())

        _, failed = await attempt(db, fields, save, SCHEDULE_LABELS)
        if failed is not None:
            return await _schedule_view(request, res, db, caller, patient_id, failed)
        return back_to(f"{_base(patient_id)}?done=schedule")


def _offsets(raw: str) -> list[str]:
    """ "24, 48, 72" as the API's list; each item is checked by the API's own struct."""
    items = [item for item in _SEPARATORS.split(raw.strip()) if item]
    if any(not item.isdigit() for item in items):
        raise InvalidInput.field("offsets_hours", "must be whole hours separated by commas")
    return items


async def _schedule_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    form: Form,
) -> Template:
    patient = await get_patient(db, caller, patient_id, res.clock.now())
    return await render(
        request,
        res,
        db,
        caller,
        "patient_schedule.html",
        status_code=form.status,
        patient=patient,
        form=form,
    )


async def _check_ins_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    *,
    extra_form: Form | None = None,
    cancel_form: Form | None = None,
) -> Template:
    now = res.clock.now()
    patient = await get_patient(db, caller, patient_id, now)
    schedule = await checkins.get_schedule(db, caller, patient_id, now)
    rows, _ = await checkins.list_check_ins(
        db, caller, patient_id, now, cursor=None, limit=MAX_LIMIT
    )
    items = [checkins.check_in_out(r) for r in rows]
    # The one texting rule, asked now: a reason refuses every text still to come alike.
    refusal = await why_not_text(db, patient)
    refused = None if refusal is None else CANNOT_TEXT.get(refusal, "The patient cannot be texted.")
    upcoming = [
        NextText(
            check_in=c,
            # The sweep's own send time: later than due when the contact window is shut.
            held_until=c.send_at if c.send_at is not None and c.send_at > c.due_at else None,
            refused=refused,
        )
        for c in items
        if c.status == "scheduled"
    ]
    past = [c for c in reversed(items) if c.status != "scheduled"]
    done = request.query_params.get("done", "")
    return await render(
        request,
        res,
        db,
        caller,
        "patient_check_ins.html",
        status_code=max((extra_form or Form()).status, (cancel_form or Form()).status),
        patient=patient,
        schedule=schedule,
        upcoming=upcoming,
        past=past,
        refused=refused,
        extra_form=extra_form or Form.blank(),
        cancel_form=cancel_form or Form.blank(),
        confirmation=CONFIRMATIONS.get(done, ""),
    )
