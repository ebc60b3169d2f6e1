"""The admins' pages: wards (list, create; settings on the ward's own page), users (list,
create, change role and ward or agency, deactivate, reset a password) and agencies (list,
create, change, deactivate), each through the service its API controller calls."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.agencies import service as agencies
from service.agencies.schemas import AgencyCreate, AgencyUpdate
from service.errors import InvalidInput
from service.http.auth import ADMIN
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.http.state import AppResources
from service.identity import resets
from service.pagination import MAX_LIMIT
from service.principal import Principal
from service.users import service as users
from service.users.schemas import UserCreate, UserUpdate
from service.wards import service as wards
from service.wards.schemas import WardCreate
from service.web.common import back_to, form_of, page, render
from service.web.forms import Form, attempt, blank_to_none, checkbox, parse

ROLE_CHOICES = [
    ("ward_staff", "Ward staff"),
    ("ward_manager", "Ward manager"),
    ("agency_worker", "Agency worker"),
    ("admin", "Admin"),
]
AGENCY_KINDS = (
    "housing",
    "employment",
    "benefits",
    "peer_support",
    "community_mental_health",
    "substance_use",
    "gp",
    "other",
)
WARD_LABELS = {"name": "Ward name", "timezone": "Time zone", "crisis_message": "Crisis message"}
USER_LABELS = {
    "email": "Email",
    "full_name": "Full name",
    "role": "Role",
    "password": "Starting password",
    "ward_id": "Ward",
    "agency_id": "Agency",
    "mobile": "Mobile",
}
USER_EDIT_LABELS = {k: v for k, v in USER_LABELS.items() if k != "password"}
AGENCY_LABELS = {"name": "Name", "kind": "Kind", "email": "Email", "phone": "Phone"}


def _notice(request: Request[Any, Any, Any]) -> str:
    return str(request.query_params.get("saved", ""))[:40]


async def _choices(db: AsyncSession, caller: Principal) -> dict[str, Any]:
    ward_rows, _ = await wards.list_wards(db, caller, None, MAX_LIMIT)
    agency_rows, _ = await agencies.list_agencies(db, caller, None, MAX_LIMIT)
    return {
        "ward_choices": [(w.id, w.name) for w in ward_rows],
        "agency_choices": [
            (a.id, a.name + ("" if a.active else " (inactive)")) for a in agency_rows
        ],
        "ward_names": {w.id: w.name for w in ward_rows},
        "agency_names": {a.id: a.name for a in agency_rows},
    }


# Wards ----------------------------------------------------------------------------------------


async def _wards_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    form: Form | None = None,
) -> Template:
    rows, _ = await wards.list_wards(db, caller, None, MAX_LIMIT)
    form = form or Form.blank(timezone="Europe/London")
    return await render(
        request,
        res,
        db,
        caller,
        "admin_wards.html",
        status_code=form.status,
        wards=[wards.to_out(w) for w in rows],
        form=form,
        saved=_notice(request),
    )


# Users ----------------------------------------------------------------------------------------


def _user_filters(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {k: str(request.query_params.get(k, ""))[:60] for k in ("role", "ward_id", "agency_id")}


async def _users_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    form: Form | None = None,
) -> Template:
    raw = _user_filters(request)
    filter_form = Form(
        values=raw, labels={"role": "Role", "ward_id": "Ward", "agency_id": "Agency"}
    )

    async def read() -> Any:
        role = raw["role"] or None
        if role is not None and role not in dict(ROLE_CHOICES):
            raise InvalidInput.field("role", "is not a role")
        return await users.list_users(
            db,
            None,
            MAX_LIMIT,
            role=role,
            ward_id=_uuid_or_none(raw, "ward_id"),
            agency_id=_uuid_or_none(raw, "agency_id"),
        )

    found, failed = await attempt(db, raw, read, filter_form.labels)
    rows = found[0] if found else []
    form = form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "admin_users.html",
        status_code=max(form.status, failed.status if failed else 200),
        users=[users.to_out(u) for u in rows],
        filter_form=failed or filter_form,
        form=form,
        role_choices=ROLE_CHOICES,
        saved=_notice(request),
        **await _choices(db, caller),
    )


def _uuid_or_none(values: Mapping[str, str], name: str) -> uuid.UUID | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput.field(name, "is not a valid choice") from None


async def _user_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    user_id: uuid.UUID,
    *,
    form: Form | None = None,
    confirm: str = "",
    reset_code: str = "",
    reset_expires: Any = None,
) -> Template:
    user = users.to_out(await users.get_user(db, user_id))
    form = form or Form.blank(
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        ward_id=user.ward_id,
        agency_id=user.agency_id,
        mobile=user.mobile,
    )
    return await render(
        request,
        res,
        db,
        caller,
        "admin_user.html",
        status_code=form.status,
        user=user,
        form=form,
        confirm=confirm,
        reset_code=reset_code,
        reset_expires=reset_expires,
        role_choices=ROLE_CHOICES,
        saved=_notice(request),
        **await _choices(db, caller),
    )


# Agencies -------------------------------------------------------------------------------------


async def _agencies_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    form: Form | None = None,
) -> Template:
    rows, _ = await agencies.list_agencies(db, caller, None, MAX_LIMIT)
    form = form or Form.blank()
    return await render(
        request,
        res,
        db,
        caller,
        "admin_agencies.html",
        status_code=form.status,
        agencies=[agencies.to_out(a) for a in rows],
        form=form,
        kinds=AGENCY_KINDS,
        saved=_notice(request),
    )


async def _agency_page(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    agency_id: uuid.UUID,
    *,
    form: Form | None = None,
    confirm: bool = False,
) -> Template:
    agency = agencies.to_out(await agencies.get_agency(db, caller, agency_id))
    form = form or Form.blank(
        name=agency.name, kind=agency.kind, email=agency.email, phone=agency.phone
    )
    return await render(
        request,
        res,
        db,
        caller,
        "admin_agency.html",
        status_code=form.status,
        agency=agency,
        form=form,
        kinds=AGENCY_KINDS,
        confirm=confirm,
        saved=_notice(request),
    )


class AdminPages(Controller):
    path = "/board/admin"
    include_in_schema = False
    opt = page(ADMIN)

    # Wards.
    @get("/wards")
    async def wards_list(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _wards_page(request, res, db, caller)

    @post("/wards", status_code=303)
    async def ward_create(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template | Redirect:
        fields = await form_of(request, res)

        async def create() -> Any:
            values = blank_to_none(fields, *WARD_LABELS)
            if values["crisis_message"] is None:
                del values["crisis_message"]  # the national crisis routes, by default
            data = parse(values, WardCreate)
            return await wards.create_ward(db, data)

        ward, failed = await attempt(db, fields, create, WARD_LABELS)
        if failed is not None or ward is None:
            return await _wards_page(request, res, db, caller, failed)
        return back_to(f"/board/ward?ward_id={ward.id}&saved=created")

    # Users.
    @get("/users")
    async def users_list(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _users_page(request, res, db, caller)

    @post("/users", status_code=303)
    async def user_create(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template | Redirect:
        fields = await form_of(request, res)

        async def create() -> Any:
            data = parse(_user_fields(fields, USER_LABELS), UserCreate)
            return await users.create_user(db, data)

        user, failed = await attempt(db, fields, create, USER_LABELS)
        if failed is not None or user is None:
            # The typed password is never sent back into the page.
            if failed is not None:
                failed.values = {k: v for k, v in failed.values.items() if k != "password"}
            return await _users_page(request, res, db, caller, failed)
        return back_to(f"/board/admin/users/{user.id}?saved=created")

    @get("/users/{user_id:uuid}")
    async def user_read(
        self,
        request: Request[Any, Any, Any],
        user_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _user_page(request, res, db, caller, user_id)

    @post("/users/{user_id:uuid}", status_code=303)
    async def user_update(
        self,
        request: Request[Any, Any, Any],
        user_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template | Redirect:
        fields = await form_of(request, res)

        async def change() -> Any:
            data = parse(_user_fields(fields, USER_EDIT_LABELS), UserUpdate)
            return await users.update_user(db, user_id, data)

        _, failed = await attempt(db, fields, change, USER_EDIT_LABELS)
        if failed is not None:
            return await _user_page(request, res, db, caller, user_id, form=failed)
        return back_to(f"/board/admin/users/{user_id}?saved=changed")

    @get("/users/{user_id:uuid}/deactivate")
    async def user_confirm_deactivate(
        self,
        request: Request[Any, Any, Any],
        user_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _user_page(request, res, db, caller, user_id, confirm="deactivate")

    @post("/users/{user_id:uuid}/deactivate", status_code=303)
    async def user_deactivate(
        self,
        request: Request[Any, Any, Any],
        user_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Redirect:
        await form_of(request, res)
        # The API's own change: it ends every session of the user at once (token_version).
        await users.update_user(db, user_id, UserUpdate(active=False))
        return back_to(f"/board/admin/users/{user_id}?saved=deactivated")

    @post("/users/{user_id:uuid}/activate", status_code=303)
    async def user_activate(
        self,
        request: Request[Any, Any, Any],
        user_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Redirect:
        await form_of(request, res)
        await users.update_user(db, user_id, UserUpdate(active=True))
        return back_to(f"/board/admin/users/{user_id}?saved=activated")

    @post("/users/{user_id:uuid}/password-reset", status_code=200)
    async def user_password_reset(
        self,
        request: Request[Any, Any, Any],
        user_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template:
        """The code is in this answer only (never a redirect to a page that could show it
        again; the page is not cached)."""
        await form_of(request, res)
        issued = await resets.issue_reset(db, caller, user_id, clock.now())
        return await _user_page(
            request,
            res,
            db,
            caller,
            user_id,
            reset_code=issued.code,
            reset_expires=issued.expires_at,
        )

    # Agencies.
    @get("/agencies")
    async def agencies_list(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template:
        return await _agencies_page(request, res, db, caller)

    @post("/agencies", status_code=303)
    async def agency_create(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template | Redirect:
        fields = await form_of(request, res)

        async def create() -> Any:
            data = parse(blank_to_none(fields, *AGENCY_LABELS), AgencyCreate)
            return await agencies.create_agency(db, data)

        agency, failed = await attempt(db, fields, create, AGENCY_LABELS)
        if failed is not None or agency is None:
            return await _agencies_page(request, res, db, caller, failed)
        return back_to(f"/board/admin/agencies/{agency.id}?saved=created")

    @get("/agencies/{agency_id:uuid}")
    async def agency_read(
        self,
        request: Request[Any, Any, Any],
        agency_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _agency_page(request, res, db, caller, agency_id)

    @post("/agencies/{agency_id:uuid}", status_code=303)
    async def agency_update(
        self,
        request: Request[Any, Any, Any],
        agency_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template | Redirect:
        fields = await form_of(request, res)

        async def change() -> Any:
            data = parse(blank_to_none(fields, *AGENCY_LABELS), AgencyUpdate)
            return await agencies.update_agency(db, agency_id, data, clock.now())

        _, failed = await attempt(db, fields, change, AGENCY_LABELS)
        if failed is not None:
            return await _agency_page(request, res, db, caller, agency_id, form=failed)
        return back_to(f"/board/admin/agencies/{agency_id}?saved=changed")

    @get("/agencies/{agency_id:uuid}/deactivate")
    async def agency_confirm_deactivate(
        self,
        request: Request[Any, Any, Any],
        agency_id: IdPath,
        db: Db,
        caller: Caller,
        res: Res,
    ) -> Template:
        return await _agency_page(request, res, db, caller, agency_id, confirm=True)

    @post("/agencies/{agency_id:uuid}/deactivate", status_code=303)
    async def agency_deactivate(
        self,
        request: Request[Any, Any, Any],
        agency_id: IdPath,
        db: Db,
        clock: ClockDep,
        res: Res,
    ) -> Redirect:
        fields = await form_of(request, res)
        active = checkbox(fields, "active")  # "activate" sends active=yes
        await agencies.update_agency(db, agency_id, AgencyUpdate(active=active), clock.now())
        return back_to(
            f"/board/admin/agencies/{agency_id}?saved={'activated' if active else 'deactivated'}"
        )


def _user_fields(fields: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, Any]:
    """The user form as the API's body: ward only for ward roles, agency only for agency
    workers (the other select is ignored, as the person would expect), blanks as none."""
    values = blank_to_none(fields, *labels)
    role = values.get("role")
    if role in ("ward_staff", "ward_manager"):
        values["agency_id"] = None
    elif role == "agency_worker":
        values["ward_id"] = None
    else:
        values["ward_id"] = values["agency_id"] = None
    if "password" in labels:
        values["password"] = fields.get("password", "") or None  # never stripped
    return values
