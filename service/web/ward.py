"""The ward manager's page: the ward's settings (through the API's own PATCH service) and its
on-call rota (list, add, remove after a confirmation). Managers see their own ward; admins
any ward by `?ward_id=`; another ward is the audited 404 of `wards.access.managed_ward`."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Ward
from service.http.auth import MANAGER_AND_ADMIN
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.pagination import MAX_LIMIT
from service.principal import Principal
from service.wards import rota
from service.wards import service as wards
from service.wards.access import managed_ward
from service.wards.schemas import ShiftIn, WardUpdate
from service.web.common import back_to, form_of, page, render
from service.web.forms import Form, attempt, blank_to_none, local_datetime, parse

LEVELS = (1, 2, 3)
SPEEDS = ("urgent", "routine")

# The settings form's fields: the API's own names, nested ones by their dotted path.
SETTINGS_LABELS: dict[str, str] = {
    "name": "Ward name",
    "timezone": "Time zone",
    "crisis_message": "Crisis message",
    "escalation_policy.on_call_phone": "On-call phone",
    "escalation_policy.crisis_phone": "Crisis team phone",
    "escalation_policy.read_minutes": "Minutes a reply may wait unread",
    "escalation_policy.staff_email": "Staff email alerts",
    "escalation_policy.resolve_minutes.urgent": "Urgent: minutes to resolve",
    "escalation_policy.resolve_minutes.routine": "Routine: minutes to resolve",
    **{
        f"escalation_policy.ack_minutes.{speed}.{level}": (
            f"{speed.capitalize()}: minutes to acknowledge at level {level}"
        )
        for speed in SPEEDS
        for level in LEVELS
    },
}
# An error on one deadline of a level list lands beside that level's box.
SETTINGS_RENAMES = {
    f"escalation_policy.ack_minutes.{speed}[{level - 1}]": (
        f"escalation_policy.ack_minutes.{speed}.{level}"
    )
    for speed in SPEEDS
    for level in LEVELS
}
SHIFT_LABELS = {"user_id": "Who", "starts_at": "Starts", "ends_at": "Ends"}


def _ward_path(caller: Principal, ward_id: uuid.UUID) -> str:
    return "/board/ward" if ward_id == caller.ward_id else f"/board/ward?ward_id={ward_id}"


def _which_ward(caller: Principal, ward_id: uuid.UUID | None) -> uuid.UUID | None:
    return ward_id or caller.ward_id


def _settings_values(ward: Ward) -> dict[str, str]:
    """The form as the stored settings read (what the PATCH would leave unchanged)."""
    out = wards.to_out(ward)
    policy = out.escalation_policy
    values: dict[str, Any] = {
        "name": out.name,
        "timezone": out.timezone,
        "crisis_message": out.crisis_message,
        "escalation_policy.on_call_phone": policy.on_call_phone or "",
        "escalation_policy.crisis_phone": policy.crisis_phone or "",
        "escalation_policy.read_minutes": policy.read_minutes,
        "escalation_policy.staff_email": policy.staff_email,
        "escalation_policy.resolve_minutes.urgent": policy.resolve_minutes.urgent,
        "escalation_policy.resolve_minutes.routine": policy.resolve_minutes.routine,
    }
    for speed in SPEEDS:
        for level in LEVELS:
            minutes = getattr(policy.ack_minutes, speed)[level - 1]
            values[f"escalation_policy.ack_minutes.{speed}.{level}"] = minutes
    return {k: str(v) for k, v in values.items()}


def _settings_change(fields: dict[str, str]) -> dict[str, Any]:
    """The form as the API's PATCH body (every field given; blanks the API refuses stay blank
    so its own message names them; a blank phone means none)."""
    value = blank_to_none(fields, *SETTINGS_LABELS)
    return {
        "name": value["name"],
        "timezone": value["timezone"],
        "crisis_message": value["crisis_message"],
        "escalation_policy": {
            "on_call_phone": value["escalation_policy.on_call_phone"],
            "crisis_phone": value["escalation_policy.crisis_phone"],
            "read_minutes": value["escalation_policy.read_minutes"],
            "staff_email": value["escalation_policy.staff_email"],
            "resolve_minutes": {
                speed: value[f"escalation_policy.resolve_minutes.{speed}"] for speed in SPEEDS
            },
            "ack_minutes": {
                speed: [value[f"escalation_policy.ack_minutes.{speed}.{level}"] for level in LEVELS]
                for speed in SPEEDS
            },
        },
    }


async def _ward_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    *,
    settings_form: Form | None = None,
    shift_form: Form | None = None,
    confirm_shift: uuid.UUID | None = None,
) -> Template:
    now = res.clock.now()
    ward = await managed_ward(db, caller, ward_id, "ward.read", now)
    tz = ZoneInfo(ward.timezone)
    shifts, _ = await rota.list_shifts(
        db, caller, ward.id, now, since=None, cursor=None, limit=MAX_LIMIT
    )
    people = await rota.rota_candidates(db, caller, ward.id, now)
    names = {p.id: p.full_name for p in people}
    form = settings_form or Form(values=_settings_values(ward), labels=SETTINGS_LABELS)
    shift = shift_form or Form.blank()
    status = max(form.status, shift.status)
    return await render(
        request,
        res,
        db,
        caller,
        "ward.html",
        status_code=status,
        tz=tz,
        ward=ward,
        ward_path=_ward_path(caller, ward.id),
        settings_form=form,
        shift_form=shift,
        shifts=shifts,
        people=people,
        names=names,
        confirm_shift=confirm_shift,
        levels=LEVELS,
        saved=request.query_params.get("saved", ""),
    )


class WardPages(Controller):
    path = "/board/ward"
    include_in_schema = False
    opt = page(MANAGER_AND_ADMIN)

    @get("/")
    async def ward(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template | Redirect:
        chosen = _which_ward(caller, ward_id)
        if chosen is None:
            return back_to("/board/admin/wards")  # an admin picks the ward first
        return await _ward_page(request, res, db, caller, chosen)

    @post("/settings", status_code=303)
    async def settings(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template | Redirect:
        fields = await form_of(request, res)
        chosen = _which_ward(caller, ward_id)
        if chosen is None:
            return back_to("/board/admin/wards")

        async def save() -> None:
            data = parse(_settings_change(fields), WardUpdate, renames=SETTINGS_RENAMES)
            await wards.update_ward(db, caller, chosen, data, clock.now())

        _, failed = await attempt(db, fields, save, SETTINGS_LABELS)
        if failed is not None:
            return await _ward_page(request, res, db, caller, chosen, settings_form=failed)
        return back_to(_with_saved(_ward_path(caller, chosen), "settings"))

    @post("/on-call", status_code=303)
    async def add_shift(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template | Redirect:
        fields = await form_of(request, res)
        chosen = _which_ward(caller, ward_id)
        if chosen is None:
            return back_to("/board/admin/wards")
        ward = await managed_ward(db, caller, chosen, "ward.on_call.add", clock.now())
        tz = ZoneInfo(ward.timezone)

        async def add() -> None:
            data = parse(
                {
                    "user_id": fields.get("user_id", "").strip() or None,
                    "starts_at": local_datetime(fields, "starts_at", tz),
                    "ends_at": local_datetime(fields, "ends_at", tz),
                },
                ShiftIn,
            )
            await rota.add_shift(db, caller, ward.id, data, clock.now())

        _, failed = await attempt(db, fields, add, SHIFT_LABELS)
        if failed is not None:
            return await _ward_page(request, res, db, caller, chosen, shift_form=failed)
        return back_to(_with_saved(_ward_path(caller, chosen), "shift"))

    @get("/on-call/{shift_id:uuid}/remove")
    async def confirm_remove(
        self,
        request: Request[Any, Any, Any],
        shift_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template | Redirect:
        """The rota again, with this shift's row asking "remove it?" (no script needed)."""
        chosen = _which_ward(caller, ward_id)
        if chosen is None:
            return back_to("/board/admin/wards")
        return await _ward_page(request, res, db, caller, chosen, confirm_shift=shift_id)

    @post("/on-call/{shift_id:uuid}/remove", status_code=303)
    async def remove_shift(
        self,
        request: Request[Any, Any, Any],
        shift_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> Redirect:
        await form_of(request, res)
        chosen = _which_ward(caller, ward_id)
        if chosen is None:
            return back_to("/board/admin/wards")
        await rota.remove_shift(db, caller, chosen, shift_id, clock.now())
        return back_to(_with_saved(_ward_path(caller, chosen), "removed"))


def _with_saved(path: str, what: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}saved={what}"
