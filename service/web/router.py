"""The web pages as one Router: outside the OpenAPI document, with HTML error pages."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import NotAuthorizedException
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from service.errors import NotAuthenticated, PasswordChangeRequired, TotpEnrolmentRequired
from service.http.auth import ENROLMENT_PATH, FRAGMENT_HEADER, IDLE_STATE_KEY, public
from service.http.problems import EXCEPTION_HANDLERS
from service.web.account import AccountPages
from service.web.admin import AdminPages
from service.web.agency import AgencyPages
from service.web.audit import AuditPages
from service.web.board import BoardPages, SignInPages
from service.web.check_ins import CheckInPages
from service.web.common import PAGE_HEADERS
from service.web.conversation import ConversationPages
from service.web.message_templates import MessageTemplatePages
from service.web.outcome_charts import OutcomeChartPages
from service.web.outcomes import OutcomesPages
from service.web.patient_consents import ConsentPages
from service.web.patient_goals import GoalPages
from service.web.patient_plan import PlanPages
from service.web.patients import PatientPages
from service.web.render import STATIC
from service.web.session import LOGIN_PATH, PASSWORD_PATH, cleared_cookie
from service.web.ward import WardPages
from service.web.ward_patients import WardPatientPages, arrive


def _problem_for(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The API's own mapping (logging, database faults, never a stack trace), reused."""
    for kind in type(exc).__mro__:
        handler = EXCEPTION_HANDLERS.get(kind)
        if handler is not None:
            response: Response[Any] = handler(request, exc)
            return response
    raise exc  # pragma: no cover - Exception is always in the map


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Signed out (or deactivated): back to the sign-in form. Anything else: an HTML page with
    the same status and words the API would give."""
    if isinstance(exc, (NotAuthorizedException, NotAuthenticated)):
        if request.headers.get(FRAGMENT_HEADER):
            # The polling script reloads the page, which then lands on the sign-in form.
            return Response(content="", status_code=401, cookies=[cleared_cookie(request)])
        idle = request.scope.get("state", {}).get(IDLE_STATE_KEY)
        target = f"{LOGIN_PATH}?idle=1" if idle else LOGIN_PATH
        return Redirect(target, status_code=303, cookies=[cleared_cookie(request)])
    if isinstance(exc, (PasswordChangeRequired, TotpEnrolmentRequired)):
        if request.headers.get(FRAGMENT_HEADER):
            return Response(content="", status_code=403)
        target = PASSWORD_PATH if isinstance(exc, PasswordChangeRequired) else ENROLMENT_PATH
        return Redirect(target, status_code=303)
    problem = _problem_for(request, exc)
    status = problem.status_code or 500
    body = problem.content if isinstance(problem.content, dict) else {}
    return Template(
        template_name="error.html",
        context={
            "status": status,
            "title": body.get("title", "Error"),
            "detail": body.get("detail", ""),
        },
        status_code=status,
        headers={**PAGE_HEADERS, **dict(problem.headers or {})},
    )


def web_router() -> Router:
    static = create_static_files_router(
        path="/board/static",
        directories=[STATIC],
        opt=public(),
        include_in_schema=False,
        name="board_static",
    )
    return Router(
        path="/",
        route_handlers=[
            SignInPages,
            BoardPages,
            PatientPages,
            PlanPages,
            GoalPages,
            ConsentPages,
            CheckInPages,
            ConversationPages,
            arrive,
            WardPatientPages,
            OutcomesPages,
            OutcomeChartPages,
            AgencyPages,
            WardPages,
            AuditPages,
            AdminPages,
            MessageTemplatePages,
            AccountPages,
            static,
        ],
        # Every key the API maps, so no more specific API handler wins over the page one.
        exception_handlers=dict.fromkeys(EXCEPTION_HANDLERS, page_error),
        include_in_schema=False,
    )
