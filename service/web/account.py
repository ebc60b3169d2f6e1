"""One's own account: sessions (sign out one or everywhere else), password, two-step sign-in."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from service.auth import service as auth
from service.auth import sessions
from service.errors import TooManyRequests
from service.http.auth import ANY_USER
from service.http.params import Caller, ClockDep, Db, Res
from service.web import forms
from service.web.common import back_to, form_of, page, render
from service.web.forms import Form
from service.web.session import session_cookie

PASSWORD_LABELS = {
    "current_password": "Current password",
    "new_password": "New password",
    "confirm_password": "New password again",
}
TOTP_LABELS = {"totp_code": "Code from the app"}
_PASSWORD_FIELDS = dict.fromkeys(PASSWORD_LABELS, "")


class AccountPages(Controller):
    path = "/board/account"
    include_in_schema = False
    opt = page(ANY_USER)

    @get("/")
    async def account(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        done: FromQuery[str] = "",
    ) -> Template:
        now = clock.now()
        idle = sessions.idle_limit(res.settings.board_idle_minutes)
        return await render(
            request,
            res,
            db,
            caller,
            "account.html",
            sessions=await sessions.list_sessions(db, caller, now, idle),
            totp_on=await sessions.totp_enrolled(db, caller),
            codes_left=await sessions.recovery_codes_left(db, caller),
            idle_minutes=res.settings.board_idle_minutes,
            done=done,
        )

    @post("/sessions/{session_id:str}/end", status_code=303)
    async def end_session(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[str],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect:
        await form_of(request, res)
        await sessions.end_session(db, caller, session_id, clock.now())
        return back_to("/board/account?done=ended")

    @post("/sign-out-everywhere", status_code=303)
    async def sign_out_everywhere(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Redirect:
        await form_of(request, res)
        token, _ = await sessions.end_other_sessions(
            db, auth.policy_of(res.settings), caller, clock.now()
        )
        return Redirect(
            "/board/account?done=everywhere",
            status_code=303,
            cookies=[session_cookie(request, token, res.settings.jwt_ttl_minutes * 60)],
        )

    @get("/password")
    async def password_form(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template:
        return await render(
            request, res, db, caller, "account_password.html", form=Form.blank(**_PASSWORD_FIELDS)
        )

    @post("/password", status_code=303)
    async def change_password(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template | Redirect:
        """The API's own password change: every other session of this user ends."""
        fields = await form_of(request, res)
        # Passwords are never typed back into the page.
        blank = Form(values=_PASSWORD_FIELDS, labels=PASSWORD_LABELS)
        if fields.get("new_password", "") != fields.get("confirm_password", ""):
            form = Form(
                values=_PASSWORD_FIELDS,
                errors={"confirm_password": "does not match the new password"},
                labels=PASSWORD_LABELS,
            )
            return await self._password_again(request, db, caller, res, form)

        async def change() -> auth.LoginResult:
            return await auth.change_password(
                db,
                auth.policy_of(res.settings),
                caller,
                current_password=fields.get("current_password", ""),
                new_password=fields.get("new_password", ""),
                now=clock.now(),
            )

        try:
            result, refused = await forms.attempt(db, _PASSWORD_FIELDS, change, PASSWORD_LABELS)
        except TooManyRequests as exc:
            await db.rollback()
            busy = Form(values=blank.values, problem=exc.detail, labels=PASSWORD_LABELS)
            return await self._password_again(request, db, caller, res, busy, exc.status)
        if refused is not None or result is None:
            return await self._password_again(request, db, caller, res, refused or blank)
        return Redirect(
            "/board/account?done=password",
            status_code=303,
            cookies=[
                session_cookie(request, result.access_token, res.settings.jwt_ttl_minutes * 60)
            ],
        )

    async def _password_again(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        res: Res,
        form: Form,
        status: int | None = None,
    ) -> Template:
        return await render(
            request,
            res,
            db,
            caller,
            "account_password.html",
            status_code=status or form.status,
            form=form,
        )

    @get("/totp", opt=page(ANY_USER, during_enrolment=True))
    async def totp_form(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, res: Res
    ) -> Template:
        return await self._totp_page(request, db, caller, res, Form.blank(totp_code=""))

    @post("/totp", opt=page(ANY_USER, during_enrolment=True), status_code=200)
    async def confirm_totp(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template:
        """A current code confirms the app holds the key; the recovery codes are shown once
        (this answer, never again), and every other session ends."""
        fields = await form_of(request, res)
        values = {"totp_code": fields.get("totp_code", "")}

        async def confirm() -> sessions.Enrolled:
            return await sessions.confirm_enrolment(
                db, auth.policy_of(res.settings), caller, values["totp_code"], clock.now()
            )

        enrolled, form = await forms.attempt(db, values, confirm, TOTP_LABELS)
        if form is not None or enrolled is None:
            return await self._totp_page(request, db, caller, res, form or Form.blank())
        page_ = await render(
            request,
            res,
            db,
            caller,
            "account_recovery_codes.html",
            codes=enrolled.recovery_codes,
        )
        page_.cookies.append(
            session_cookie(request, enrolled.access_token, res.settings.jwt_ttl_minutes * 60)
        )
        return page_

    async def _totp_page(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        res: Res,
        form: Form,
    ) -> Template:
        enrolment = await sessions.pending_enrolment(db, caller)
        return await render(
            request,
            res,
            db,
            caller,
            "account_totp.html",
            status_code=form.status,
            enrolment=enrolment,
            required=caller.must_enrol_totp,
            form=form,
        )
