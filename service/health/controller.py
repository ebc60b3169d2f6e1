from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.openapi import ResponseSpec
from prometheus_client import generate_latest

from service.health.service import check_readiness
from service.http.auth import public
from service.http.params import Res


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

    @get("/metrics", summary="Prometheus metrics", media_type=MediaType.TEXT)
    async def metrics(self, res: Res) -> Response[bytes]:
        registry = res.extras["metrics_registry"]
        return Response(
            # Litestar appends the charset to text/* types (naming it here sent it twice).
            generate_latest(registry),
            media_type="text/plain; version=0.0.4",
        )
