"""create_app: wiring only. Routes, middleware, dependencies and error mapping meet here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.enums import ParamType
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Parameter, SecurityScheme
from prometheus_client import CollectorRegistry

from db.engine import make_engine, make_sessionmaker, make_standalone_sessionmaker
from db.listen import listen_forever
from service.agencies.controller import AgencyController, AgencyPatientsController
from service.audit_log.controller import AuditEventController
from service.auth.controller import AuthController
from service.checkins.controller import CheckInController
from service.clock import Clock, SystemClock
from service.consents.controller import ConsentController
from service.conversation.controller import (
    PatientMessageController,
    TwilioWebhookController,
    UnmatchedTextController,
)
from service.conversation.delivery import DELIVERY_HOOKS, STAFF_EMAIL_HOOKS
from service.conversation.spool import SPOOL_KEY, InboundSpool, replay
from service.email.channel import EMAIL_CHANNEL_KEY, build_email_channel
from service.escalations.controller import ConcernController, EscalationController
from service.feedback.controller import CarerController, FeedbackController
from service.fhir.controller import FhirController
from service.follow_ups.controller import FollowUpController
from service.goals.controller import GoalController
from service.health.controller import HealthController
from service.health.metrics import principal_cache_collector, sweep_collector
from service.http.auth import (
    BearerAuthMiddleware,
    access_guard,
)
from service.http.deps import (
    close_request_session,
    provide_clock,
    provide_principal,
    provide_resources,
    provide_session,
)
from service.http.docs import DOCS_PATH, LocalSwagger, docs_router
from service.http.forwarded import forwarded_middleware
from service.http.headers import security_headers_middleware
from service.http.idempotency import idempotency_middleware
from service.http.json_depth import refuse_deep_json
from service.http.observability import HttpMetrics, observability_middleware
from service.http.openapi_document import finish_document, mark_optional_bodies
from service.http.problems import EXCEPTION_HANDLERS
from service.http.state import STANDALONE_KEY, AppResources
from service.identity.principal_cache import CHANNEL as PRINCIPALS_CHANNEL
from service.identity.principal_cache import PrincipalCache
from service.message_templates.controller import MessageTemplateController
from service.paging.channels import configure_staff_channels
from service.patients.controller import PatientController
from service.plans.controller import PlanController
from service.referrals.controller import ReferralController
from service.replies.controller import ReplyController
from service.reports.controller import ListeningController, ReportController
from service.settings import Settings
from service.sms.backends import open_channel
from service.sms.gateway import CHANNEL_KEY
from service.support_actions.controller import SupportActionController
from service.users.controller import UserController
from service.wards.controller import OnCallController, WardController
from service.web.render import template_config
from service.web.router import web_router

log = logging.getLogger("homeward.app")

LifespanHook = Callable[[AppResources], AbstractAsyncContextManager[None]]

ROUTE_HANDLERS: list[Any] = [
    HealthController,
    AuthController,
    WardController,
    OnCallController,
    MessageTemplateController,
    UserController,
    AgencyController,
    AgencyPatientsController,
    ConsentController,
    ReferralController,
    SupportActionController,
    PatientController,
    GoalController,
    PlanController,
    FollowUpController,
    AuditEventController,
    CheckInController,
    PatientMessageController,
    TwilioWebhookController,
    UnmatchedTextController,
    EscalationController,
    ConcernController,
    ReplyController,
    ReportController,
    ListeningController,
    FeedbackController,
    CarerController,
    FhirController,
]

MAX_BODY_BYTES = 1024 * 1024
API_POOL_SIZE = 20
API_VERSION = "0.1.0"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Homeward",
        version=API_VERSION,
        description="Discharge, relapse-prevention and community follow-up coordination.",
        path=DOCS_PATH,
        # Swagger UI from the pinned package, never a CDN (service.http.docs).
        render_plugins=[LocalSwagger()],
        openapi_router=docs_router(),
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
        security=[{"bearer": []}],
        use_handler_docstrings=False,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    lifespan_hooks: Sequence[LifespanHook] = (),
) -> Litestar:
    if settings.database_url is None:
        raise ValueError("create_app needs settings with a database_url (start the database first)")
    if not settings.jwt_secret:
        raise ValueError("create_app needs settings with a jwt_secret")

    # Up to 20 connections, as before (10 + 10 overflow), but all kept: overflow connections
    # are closed on return, so under steady load each request above 10 at once opened a new
    # PostgreSQL backend (a fork, authentication and codec set-up) and threw it away.
    engine = make_engine(settings.database_url, pool_size=API_POOL_SIZE, max_overflow=0)
    registry = CollectorRegistry()
    # Where alerts link to, and whether staff can be emailed (paging reads it when it pages).
    configure_staff_channels(settings)
    resources = AppResources(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        extras={
            "metrics_registry": registry,
            "sweep_collector": sweep_collector(registry),
            # Inbound texts that arrive while the database is down (service.conversation.spool).
            SPOOL_KEY: InboundSpool.for_settings(settings),
        },
        principal_cache=PrincipalCache() if settings.listen_url is not None else None,
        standalone_sessionmaker=make_standalone_sessionmaker(engine, settings.database_url),
    )
    if resources.principal_cache is not None:
        principal_cache_collector(registry, resources.principal_cache)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # The SMS gateway opens inside the running loop; the worker (if any) finds it here.
            resources.extras[CHANNEL_KEY] = await stack.enter_async_context(
                open_channel(settings, DELIVERY_HOOKS)
            )
            stack.callback(resources.extras.pop, CHANNEL_KEY, None)
            drain = asyncio.create_task(_drain_spool(resources, settings.jobs_interval_seconds))
            stack.push_async_callback(_stop, drain)
            email_channel = build_email_channel(settings, STAFF_EMAIL_HOOKS)
            if email_channel is not None:
                resources.extras[EMAIL_CHANNEL_KEY] = email_channel
                stack.callback(resources.extras.pop, EMAIL_CHANNEL_KEY, None)
            cache, listen_url = resources.principal_cache, settings.listen_url
            if cache is not None and listen_url is not None:
                # The cache serves only while this listens (it starts unused, and empties and
                # stops serving whenever the connection is lost).
                listener = asyncio.create_task(
                    listen_forever(
                        listen_url,
                        PRINCIPALS_CHANNEL,
                        cache.heard,
                        cache.listening_started,
                        cache.listening_stopped,
                    )
                )
                stack.push_async_callback(_stop, listener)
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook(resources))
            try:
                yield
            finally:
                pass
        await engine.dispose()

    app = Litestar(
        # The ward board's pages ride alongside the API but outside its OpenAPI document.
        route_handlers=[*ROUTE_HANDLERS, web_router()],
        template_config=template_config(),
        lifespan=[lifespan],
        dependencies={
            "db": Provide(provide_session),
            "caller": Provide(provide_principal, sync_to_thread=False),
            "clock": Provide(provide_clock, sync_to_thread=False),
            "res": Provide(provide_resources, sync_to_thread=False),
        },
        middleware=[
            observability_middleware(HttpMetrics(registry)),
            close_request_session,
            DefineMiddleware(BearerAuthMiddleware, exclude_from_auth_key="public"),
            idempotency_middleware,
        ],
        guards=[access_guard],
        # Deeply nested JSON is refused before any handler decodes it (it raised RecursionError).
        before_request=refuse_deep_json,
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi_config(),
        request_max_body_size=MAX_BODY_BYTES,
        # No CORS configuration on purpose: the board is served from the API's own origin and
        # no other origin may call the API. Without it a browser blocks every cross-origin call
        # (no Access-Control-Allow-* header is ever sent), and no request pays for the check.
        debug=False,
        # Logging is configured once per process (service.logging_setup), not by the framework.
        logging_config=None,
    )
    app.state.resources = resources
    # Around the whole application, not in the route middleware: answers Litestar gives before
    # or without a route (401 from authentication, 404, 405) must carry the headers too.
    # Forwarded addresses are read there too, once, before anything asks for the client.
    app.asgi_handler = security_headers_middleware(
        forwarded_middleware(settings.trusted_proxies)(app.asgi_handler)
    )
    _refuse_standalone_writes(app)
    finish_document(app.openapi_schema, _public_operations(app))
    mark_optional_bodies(app.openapi_schema, app)
    resources.extras["query_params"] = _documented_query_params(app)
    return app


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _drain_spool(resources: AppResources, interval: float) -> None:
    """Texts this host kept during an outage are replayed as soon as the database answers,
    by every API process, whether or not a worker runs here (never fatal)."""
    spool: InboundSpool = resources.extras[SPOOL_KEY]
    while True:
        if spool.pending():
            try:
                async with resources.sessionmaker() as session:
                    await replay(session, spool, resources.clock.now())
            except Exception as exc:
                log.warning("inbound spool replay failed", extra={"exc_class": type(exc).__name__})
        await asyncio.sleep(interval)


def _documented_query_params(app: Litestar) -> dict[tuple[str, str], frozenset[str]]:
    found: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            names = {
                p.name
                for p in operation.parameters or []
                if isinstance(p, Parameter) and p.param_in == ParamType.QUERY
            }
            found[(path, method)] = frozenset(names)
    return found


def _refuse_standalone_writes(app: Litestar) -> None:
    """Only reads may run without a transaction (service.http.state.STANDALONE_KEY): a route
    that changes things would lose its locks and could keep half its writes. The option is
    inherited from a controller's `opt`, so this is checked on every handler as Litestar sees
    it, at start-up rather than in review."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            writes = set(getattr(handler, "http_methods", ())) - {"GET", "HEAD", "OPTIONS"}
            if handler.opt.get(STANDALONE_KEY) and writes:
                raise RuntimeError(
                    f"{route.path_format} {sorted(writes)} is declared standalone; "
                    "only GET routes may be"
                )


def _public_operations(app: Litestar) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("public"):
                for method in handler.http_methods:
                    found.add((route.path_format, method.lower()))
    return found
