"""The ward's message templates: every text in force per purpose and language (ward staff
read), and for managers and admins the edit page with its preview (a sample patient, the
usual and the discreet wording, the SMS segment count), withdrawing a ward's wording, and
confirming the built-in Welsh. Every rule is the API's (service.message_templates)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFound
from service.http.auth import ADMIN, WARD
from service.http.params import Caller, ClockDep, Db, LanguagePath, PurposePath, Res
from service.http.state import AppResources
from service.message_templates import service
from service.message_templates.catalogue import PURPOSES, REVIEW_NOTE
from service.message_templates.engine import Checked
from service.message_templates.out import to_out
from service.message_templates.schemas import TemplateIn
from service.principal import Principal
from service.wards.service import list_wards
from service.web.common import back_to, form_of, page, render
from service.web.forms import Form, attempt, parse

BASE = "/board/ward/message-templates"
LABELS = {"body": "Wording"}
WardQuery = FromQuery[uuid.UUID | None]


async def _ward_id(db: AsyncSession, caller: Principal, ward_id: uuid.UUID | None) -> uuid.UUID:
    """The caller's own ward; an admin picks one (`?ward_id=`, else the first)."""
    if ward_id is None:
        ward_id = caller.ward_id
    if ward_id is None and caller.is_admin:
        wards, _ = await list_wards(db, caller, None, 1)
        ward_id = wards[0].id if wards else None
    if ward_id is None:
        raise NotFound("No such ward.")
    return ward_id


def _suffix(caller: Principal, ward_id: uuid.UUID) -> str:
    return f"?ward_id={ward_id}" if caller.is_admin else ""


def _pair(purpose: str) -> tuple[str, str] | None:
    """(usual, discreet) names for a purpose that has a discreet variant."""
    usual = purpose.removesuffix(".discreet")
    discreet = f"{usual}.discreet"
    if usual in PURPOSES and discreet in PURPOSES:
        return usual, discreet
    if usual.startswith("survey."):
        return usual, discreet
    return None


class MessageTemplatePages(Controller):
    path = BASE
    include_in_schema = False
    opt = page(WARD, ADMIN)

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        res: Res,
        ward_id: WardQuery = None,
        saved: FromQuery[str | None] = None,
    ) -> Template:
        wid = await _ward_id(db, caller, ward_id)
        return await _index_view(request, res, db, caller, wid, saved=saved)

    @post("/open", status_code=303)
    async def open_(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        res: Res,
        ward_id: WardQuery = None,
    ) -> Redirect | Template:
        """Word a purpose in another language: to its edit page, or the list again with why."""
        wid = await _ward_id(db, caller, ward_id)
        fields = await form_of(request, res)

        async def find() -> str:
            entry = await service.get_entry(
                db, caller, wid, fields.get("purpose", ""), fields.get("language", "")
            )
            return f"{BASE}/{entry.spec.name}/{entry.language}{_suffix(caller, wid)}"

        url, failed = await attempt(db, fields, find, OPEN_LABELS)
        if failed is not None or url is None:
            return await _index_view(request, res, db, caller, wid, open_form=failed)
        return back_to(url)

    @get("/{purpose:str}/{language:str}")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        purpose: PurposePath,
        language: LanguagePath,
        db: Db,
        caller: Caller,
        res: Res,
        ward_id: WardQuery = None,
    ) -> Template:
        wid = await _ward_id(db, caller, ward_id)
        return await _edit_view(request, res, db, caller, wid, purpose, language, None, None)

    @post("/{purpose:str}/{language:str}", status_code=303)
    async def save(
        self,
        request: Request[Any, Any, Any],
        purpose: PurposePath,
        language: LanguagePath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: WardQuery = None,
    ) -> Redirect | Template:
        wid = await _ward_id(db, caller, ward_id)
        fields = await form_of(request, res)
        if fields.get("action") == "preview":
            entry = await service.get_entry(db, caller, wid, purpose, language)

            async def check() -> Checked:
                data = parse({"body": fields.get("body", "")}, TemplateIn)
                return service.preview(entry.spec, data.body)

            typed, failed = await attempt(db, fields, check, LABELS)
            return await _edit_view(
                request, res, db, caller, wid, purpose, language, failed or Form(fields), typed
            )

        async def put() -> None:
            data = parse({"body": fields.get("body", "")}, TemplateIn)
            await service.put_template(db, caller, wid, purpose, language, data.body, clock.now())

        _, failed = await attempt(db, fields, put, LABELS)
        if failed is not None:
            return await _edit_view(request, res, db, caller, wid, purpose, language, failed, None)
        suffix = _suffix(caller, wid)
        query = f"{suffix}&" if suffix else "?"
        return back_to(f"{BASE}/{query}saved={purpose}/{service.canonical(language)}")

    @post("/{purpose:str}/{language:str}/delete", status_code=303)
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        purpose: PurposePath,
        language: LanguagePath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: WardQuery = None,
    ) -> Redirect:
        wid = await _ward_id(db, caller, ward_id)
        await form_of(request, res)
        await service.delete_template(db, caller, wid, purpose, language, clock.now())
        return back_to(f"{BASE}/{_suffix(caller, wid)}")

    @post("/languages/{language:str}/confirm", status_code=303)
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        language: LanguagePath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: WardQuery = None,
    ) -> Redirect:
        wid = await _ward_id(db, caller, ward_id)
        await form_of(request, res)
        await service.confirm_language(db, caller, wid, language, clock.now())
        return back_to(f"{BASE}/{_suffix(caller, wid)}")


async def _edit_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    purpose: str,
    language: str,
    form: Form | None,
    typed: Checked | None,
) -> Template:
    """The template, the form (again with its errors, or with the typed preview), and the
    sample patient's texts in force for the usual and the discreet wording."""
    entry = to_out(await service.get_entry(db, caller, ward_id, purpose, language))
    previews = []
    pair = _pair(purpose)
    for name in pair or (purpose,):
        try:
            previews.append(to_out(await service.get_entry(db, caller, ward_id, name, language)))
        except NotFound:
            continue
    form = form or Form.blank(body=entry.body)
    return await render(
        request,
        res,
        db,
        caller,
        "message_template.html",
        status_code=form.status,
        entry=entry,
        previews=previews,
        typed=typed,
        form=form,
        suffix=_suffix(caller, ward_id),
        may_write=caller.is_admin or caller.is_ward_manager,
    )


OPEN_LABELS = {"purpose": "Purpose", "language": "Language tag"}


async def _index_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    wid: uuid.UUID,
    *,
    saved: str | None = None,
    open_form: Form | None = None,
) -> Template:
    """Every template in force; the open-another-language form again with its errors."""
    entries, confirmed = await service.list_templates(db, caller, wid)
    items = [to_out(e) for e in entries]
    by_purpose: dict[str, list[Any]] = {}
    for item in items:
        by_purpose.setdefault(item.purpose, []).append(item)
    open_form = open_form or Form.blank(purpose="checkin.prompt")
    return await render(
        request,
        res,
        db,
        caller,
        "message_templates.html",
        status_code=open_form.status,
        by_purpose=by_purpose,
        review_languages=sorted({i.language for i in items if i.review_note}),
        confirmed=sorted(confirmed),
        review_note=REVIEW_NOTE,
        suffix=_suffix(caller, wid),
        may_write=caller.is_admin or caller.is_ward_manager,
        saved=saved,
        open_form=open_form,
        purpose_choices=[(name, f"{spec.label} ({name})") for name, spec in PURPOSES.items()],
    )
