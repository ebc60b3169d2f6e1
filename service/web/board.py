"""Sign-in, sign-out, the ward board and its live fragment, and the escalation buttons."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from db.models import Escalation
from service.auth import service as auth
from service.auth.sessions import describe_agent
from service.board.service import names_in_ward, ward_board
from service.errors import InvalidInput, NotAuthenticated, SecondFactorRequired, TooManyRequests
from service.escalations import service as escalations
from service.http.auth import ANY_USER, ENROLMENT_PATH, WARD, public
from service.http.forwarded import client_host
from service.http.params import Caller, ClockDep, Db, IdPath, Res
from service.identity.devices import TTL as DEVICE_TTL
from service.identity.tickets import TTL as TICKET_TTL
from service.pagination import MAX_LIMIT
from service.patients.schemas import PatientOut
from service.patients.service import list_patients
from service.principal import Principal, Role
from service.refs import parse_ref
from service.web.common import PAGE_HEADERS, back_to, form_of, page, render
from service.web.session import (
    CODE_PATH,
    DEVICE_COOKIE,
    LOGIN_CSRF_COOKIE,
    PASSWORD_PATH,
    SECOND_STEP_COOKIE,
    check_login_csrf,
    cleared_cookie,
    device_cookie,
    login_csrf_cookie,
    login_csrf_valid,
    new_login_csrf,
    request_csrf,
    second_step_cookie,
    session_cookie,
)

_PATIENT_PATH = re.compile(
    r"/board/patients/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)

HOME_BY_ROLE: dict[Role, str] = {
    "ward_staff": "/board",
    "ward_manager": "/board",
    "agency_worker": "/board/agency",
    "admin": "/board/outcomes",
}


def home_of(caller: Principal) -> str:
    return HOME_BY_ROLE.get(caller.role, "/board/login")


def _login_page(
    request: Request[Any, Any, Any],
    secret: str,
    message: str | None = None,
    status_code: int = 200,
    *,
    template: str = "login.html",
    notice: str | None = None,
) -> Template:
    # A planted or stale cookie is replaced rather than echoed into the form.
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not login_csrf_valid(secret, token):
        token = new_login_csrf(secret)
    assert token is not None
    return Template(
        template_name=template,
        context={"login_csrf": token, "message": message, "notice": notice},
        status_code=status_code,
        cookies=[login_csrf_cookie(request, token)],
        headers=PAGE_HEADERS,
    )


def signed_in(
    request: Request[Any, Any, Any], res: Res, result: auth.LoginResult
) -> Template | Redirect:
    """Where a completed sign-in goes: a forced password change, TOTP set-up, the notice of
    failed attempts, or the role's start page; with the session cookie set."""
    cookies = [
        session_cookie(request, result.access_token, res.settings.jwt_ttl_minutes * 60),
        device_cookie(request, result.device_token, int(DEVICE_TTL.total_seconds())),
        cleared_cookie(request, LOGIN_CSRF_COOKIE),
        cleared_cookie(request, SECOND_STEP_COOKIE),
    ]
    if result.user.must_change_password:
        return Redirect(PASSWORD_PATH, status_code=303, cookies=cookies)
    if auth.must_enrol(auth.policy_of(res.settings), result.user):
        return Redirect(ENROLMENT_PATH, status_code=303, cookies=cookies)
    caller = Principal(
        user_id=result.user.id,
        role=result.user.role,  # type: ignore[arg-type]
        ward_id=result.user.ward_id,
        agency_id=result.user.agency_id,
    )
    if result.failed_attempts:
        # Staff hear of guesses at their account the next time they sign in.
        return Template(
            template_name="signed_in_notice.html",
            context={"failed": result.failed_attempts, "home": home_of(caller)},
            status_code=200,
            cookies=cookies,
            headers=PAGE_HEADERS,
        )
    return Redirect(home_of(caller), status_code=303, cookies=cookies)


IDLE_NOTICE = "You were signed out because the board was not used for a while. Sign in again."


def _password_page(
    request: Request[Any, Any, Any],
    res: Res,
    caller: Principal,
    message: str | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        template_name="password.html",
        context={
            "caller": caller,
            "me": "",
            "csrf": request_csrf(request, res.settings.jwt_secret),
            "message": message,
            "forced": caller.must_change_password,
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


class SignInPages(Controller):
    path = "/board"
    include_in_schema = False

    @get("/login", opt=public())
    async def login_form(
        self, request: Request[Any, Any, Any], res: Res, idle: FromQuery[str] = ""
    ) -> Template:
        notice = IDLE_NOTICE if idle else None
        return _login_page(request, res.settings.jwt_secret, notice=notice)

    @post("/login", opt=public(), status_code=303)
    async def login(
        self, request: Request[Any, Any, Any], db: Db, clock: ClockDep, res: Res
    ) -> Template | Redirect:
        secret = res.settings.jwt_secret
        fields = await form_of(request, res, csrf=False)
        check_login_csrf(request, secret, fields.get("login_csrf"))
        try:
            result = await auth.login(
                db,
                auth.policy_of(res.settings),
                email=fields.get("email", ""),
                password=fields.get("password", ""),
                client_address=client_host(request),
                now=clock.now(),
                device_token=request.cookies.get(DEVICE_COOKIE),
                kind="board",
                user_agent=describe_agent(request.headers.get("user-agent", "")),
            )
        except SecondFactorRequired as exc:
            # The password was right: the second step asks for the code.
            ticket = second_step_cookie(request, exc.ticket, int(TICKET_TTL.total_seconds()))
            return Redirect(CODE_PATH, status_code=303, cookies=[ticket])
        except (NotAuthenticated, TooManyRequests) as exc:
            # Keep what must outlive the failure (the lock's audit row), then show the form.
            await db.rollback()
            db.add_all(exc.keep_rows)
            return _login_page(request, secret, exc.detail, exc.status)
        return signed_in(request, res, result)

    @get("/login/code", opt=public())
    async def code_form(self, request: Request[Any, Any, Any], res: Res) -> Template | Redirect:
        if not request.cookies.get(SECOND_STEP_COOKIE):
            return Redirect("/board/login", status_code=303)
        return _login_page(request, res.settings.jwt_secret, template="login_code.html")

    @post("/login/code", opt=public(), status_code=303)
    async def code(
        self, request: Request[Any, Any, Any], db: Db, clock: ClockDep, res: Res
    ) -> Template | Redirect:
        """The second step: a code from the authenticator app, or a recovery code."""
        secret = res.settings.jwt_secret
        fields = await form_of(request, res, csrf=False)
        check_login_csrf(request, secret, fields.get("login_csrf"))
        totp_code = fields.get("totp_code", "").strip()
        recovery_code = fields.get("recovery_code", "").strip()
        try:
            result = await auth.complete_login(
                db,
                auth.policy_of(res.settings),
                ticket=request.cookies.get(SECOND_STEP_COOKIE),
                totp_code=totp_code or None,
                recovery_code=None if totp_code else (recovery_code or None),
                client_address=client_host(request),
                now=clock.now(),
                device_token=request.cookies.get(DEVICE_COOKIE),
                kind="board",
                user_agent=describe_agent(request.headers.get("user-agent", "")),
            )
        except (NotAuthenticated, TooManyRequests) as exc:
            await db.rollback()
            db.add_all(exc.keep_rows)
            return _login_page(request, secret, exc.detail, exc.status, template="login_code.html")
        return signed_in(request, res, result)

    @get("/home", opt=page(ANY_USER))
    async def home(self, caller: Caller) -> Redirect:
        """Each role's start page (links from error pages land here)."""
        return Redirect(home_of(caller), status_code=303)

    @post(
        "/logout",
        opt=page(ANY_USER, during_password_change=True, during_enrolment=True),
        status_code=303,
    )
    async def logout(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Redirect:
        await form_of(request, res)
        # Revoked server side: the old cookie (or its token, copied anywhere) no longer works.
        await auth.sign_out(db, caller, clock.now())
        return Redirect("/board/login", status_code=303, cookies=[cleared_cookie(request)])

    @get("/password", opt=page(ANY_USER, during_password_change=True))
    async def password_form(
        self, request: Request[Any, Any, Any], caller: Caller, res: Res
    ) -> Template:
        return _password_page(request, res, caller)

    @post("/password", opt=page(ANY_USER, during_password_change=True), status_code=303)
    async def change_password(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template | Redirect:
        fields = await form_of(request, res)
        new = fields.get("new_password", "")
        if new != fields.get("confirm_password", ""):
            return _password_page(request, res, caller, "The two new passwords differ.", 422)
        try:
            result = await auth.change_password(
                db,
                auth.policy_of(res.settings),
                caller,
                current_password=fields.get("current_password", ""),
                new_password=new,
                now=clock.now(),
            )
        except (InvalidInput, TooManyRequests) as exc:
            await db.rollback()
            return _password_page(request, res, caller, exc.detail, exc.status)
        return Redirect(
            home_of(caller),
            status_code=303,
            cookies=[
                session_cookie(request, result.access_token, res.settings.jwt_ttl_minutes * 60)
            ],
        )


class BoardPages(Controller):
    path = "/board"
    include_in_schema = False
    opt = page(WARD)

    @get("/")
    async def board(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template:
        board = await ward_board(db, caller, clock.now())
        return await render(request, res, db, caller, "board.html", tz=board.tz, board=board)

    @get("/live")
    async def live(
        self, request: Request[Any, Any, Any], db: Db, caller: Caller, clock: ClockDep, res: Res
    ) -> Template:
        board = await ward_board(db, caller, clock.now())
        return await render(request, res, db, caller, "_board_live.html", tz=board.tz, board=board)

    @get("/search")
    async def search(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        q: FromQuery[str] = "",
    ) -> Template:
        """Find an escalation by the reference a staff alert quotes (any status), or a
        patient by name; both through the API's own audited lists."""
        now = clock.now()
        query = " ".join(q.split())[:100]
        found: list[Escalation] = []
        patients: list[PatientOut] = []
        if parse_ref(query) is not None:
            found, _ = await escalations.list_escalations(
                db, caller, now=now, cursor=None, limit=MAX_LIMIT, ref=query
            )
        elif query:
            patients, _ = await list_patients(db, caller, now, None, MAX_LIMIT, name=query)
        assert caller.ward_id is not None
        names = await names_in_ward(db, caller.ward_id, {e.patient_id for e in found})
        return await render(
            request,
            res,
            db,
            caller,
            "search.html",
            q=query,
            is_ref=parse_ref(query) is not None,
            escalations=found,
            names=names,
            patients=patients,
        )

    @post("/escalations/{escalation_id:uuid}/acknowledge", status_code=303)
    async def acknowledge(
        self,
        request: Request[Any, Any, Any],
        escalation_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect:
        fields = await form_of(request, res)
        await escalations.acknowledge(db, caller, escalation_id, clock.now(), fields.get("note"))
        return back_to(_return_path(fields))

    @post("/escalations/{escalation_id:uuid}/resolve", status_code=303)
    async def resolve(
        self,
        request: Request[Any, Any, Any],
        escalation_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Redirect:
        fields = await form_of(request, res)
        await escalations.resolve(
            db,
            caller,
            escalation_id,
            clock.now(),
            fields.get("resolution_outcome", ""),
            fields.get("resolution_note", ""),
        )
        return back_to(_return_path(fields))


def _return_path(fields: dict[str, str]) -> str:
    """Back to the board, or to the patient page the button was pressed on (never off-site)."""
    target = fields.get("return_to", "")
    return target if _PATIENT_PATH.fullmatch(target) else "/board"
