from __future__ import annotations

import logging
from datetime import datetime

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.openapi import ResponseSpec
from prometheus_client import generate_latest

from service.health.metrics import SweepCollector
from service.health.service import check_readiness
from service.health.sweeps import jobs_health
from service.http.auth import public
from service.http.params import Res

log = logging.getLogger("homeward.health")


class Live(msgspec.Struct):
    status: str


class JobOut(msgspec.Struct):
    name: str
    last_started_at: datetime | None
    last_succeeded_at: datetime | None
    last_error: str | None
    runs: int


class Ready(msgspec.Struct):
    status: str
    database: bool
    migrations_current: bool
    jobs: list[JobOut]


class SweepOut(msgspec.Struct):
    name: str
    stale: bool
    last_succeeded_at: datetime | None
    interval_seconds: float
    stale_after_seconds: float
    last_error: str | None
    runs: int
    items_handled: int
    item_failures: int
    set_aside: int


class SetAsideOut(msgspec.Struct):
    item_kind: str
    item_id: str
    sweep: str
    failures: int
    set_aside_at: datetime


class JobsOut(msgspec.Struct):
    status: str
    database: bool
    stale: list[str]
    sweeps: list[SweepOut]
    set_aside: list[SetAsideOut]


class HealthController(Controller):
    path = "/"
    tags = ["health"]
    opt = public()

    @get("/health/live", summary="The process is running")
    async def live(self) -> Live:
        return Live(status="ok")

    @get(
        "/health/ready",
        summary="The database answers and migrations are current (503 otherwise)",
        responses={503: ResponseSpec(data_container=Ready, description="Not ready")},
    )
    async def ready(self, res: Res) -> Response[Ready]:
        state = await check_readiness(res.engine)
        body = Ready(
            status="ready" if state.ready else "not_ready",
            database=state.database,
            migrations_current=state.migrations_current,
            jobs=[JobOut(**vars(j)) for j in state.jobs],
        )
        return Response(body, status_code=200 if state.ready else 503)

    @get(
        "/health/jobs",
        summary="Every sweep completed within a few of its intervals (503 naming the stale ones)",
        responses={503: ResponseSpec(data_container=JobsOut, description="Sweeps are stale")},
    )
    async def jobs(self, res: Res) -> Response[JobsOut]:
        try:
            async with res.sessionmaker() as session:
                state = await jobs_health(
                    session, res.clock.now(), res.settings.jobs_interval_seconds
                )
        except Exception:
            # No database, no judgement: not healthy, and said plainly.
            body = JobsOut(status="unknown", database=False, stale=[], sweeps=[], set_aside=[])
            return Response(body, status_code=503)
        body = JobsOut(
            status="ok" if state.healthy else "stale",
            database=True,
            stale=state.stale,
            sweeps=[SweepOut(**vars(s)) for s in state.sweeps],
            set_aside=[SetAsideOut(**vars(a)) for a in state.set_aside],
        )
        return Response(body, status_code=200 if state.healthy else 503)

    @get("/metrics", summary="Prometheus metrics", media_type=MediaType.TEXT)
    async def metrics(self, res: Res) -> Response[bytes]:
        registry = res.extras["metrics_registry"]
        collector: SweepCollector = res.extras["sweep_collector"]
        try:
            async with res.sessionmaker() as session:
                await collector.refresh(
                    session, res.clock.now(), res.settings.jobs_interval_seconds
                )
        except Exception:
            # The HTTP figures still matter when the database does not answer; the sweep
            # figures keep their last values and /health/jobs says what is wrong.
            log.warning("could not read sweep figures for metrics")
        return Response(
            # Litestar appends the charset to text/* types (naming it here sent it twice).
            generate_latest(registry),
            media_type="text/plain; version=0.0.4",
        )
