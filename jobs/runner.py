"""Runs one sweep: its own session and transaction, a heartbeat row, per-item isolation.

A sweep is an async function `(ctx) -> int` returning how many items it handled. Items are
processed through `ctx.each(...)`, which gives every item a savepoint so one bad row is
logged and skipped instead of aborting the batch.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import JobHeartbeat
from service.clock import Clock

log = logging.getLogger("homeward.jobs")

T = TypeVar("T")

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SweepContext:
    session: AsyncSession
    clock: Clock
    extras: dict[str, Any]
    failures: int = 0
    handled: int = 0

    async def each(self, items: Iterable[T], handle: Callable[[T], Awaitable[None]]) -> int:
        """Handle items one by one, each inside a savepoint; a failing item is skipped."""
        done = 0
        for item in items:
            try:
                async with self.session.begin_nested():
                    await handle(item)
                done += 1
            except Exception as exc:
                self.failures += 1
                log.error(
                    "sweep item failed",
                    extra={"exc_class": type(exc).__name__},
                    exc_info=exc,
                )
        self.handled += done
        return done


Sweep = Callable[[SweepContext], Awaitable[int]]


@dataclass
class JobMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.runs = Counter(
            "homeward_job_runs",
            "Sweep runs by job and outcome",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.items = Counter(
            "homeward_job_items", "Items handled by sweeps", ["job"], registry=self.registry
        )
        self.duration = Histogram(
            "homeward_job_duration_seconds", "Sweep run time", ["job"], registry=self.registry
        )


async def _beat(session: AsyncSession, name: str, **values: Any) -> None:
    stmt = insert(JobHeartbeat).values(name=name, worker=WORKER_NAME, **values)
    update = {**values, "worker": WORKER_NAME}
    if "runs" in values:
        update["runs"] = JobHeartbeat.runs + 1
    await session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))


async def run_sweep(
    name: str,
    sweep: Sweep,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    extras: dict[str, Any] | None = None,
    metrics: JobMetrics | None = None,
) -> int:
    """Run a sweep once; never raises (the next tick simply tries again)."""
    started = time.perf_counter()
    outcome = "ok"
    handled = 0
    try:
        async with sessionmaker() as session:
            ctx = SweepContext(session=session, clock=clock, extras=extras or {})
            try:
                handled = await sweep(ctx)
                await _beat(
                    session,
                    name,
                    last_started_at=clock.now(),
                    last_finished_at=clock.now(),
                    last_succeeded_at=clock.now(),
                    last_error=None,
                    runs=1,
                )
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            if ctx.failures:
                outcome = "partial"
    except Exception as exc:
        outcome = "error"
        log.warning("sweep run failed", extra={"job": name, "exc_class": type(exc).__name__})
        await _record_failure(sessionmaker, clock, name, type(exc).__name__)
    finally:
        if metrics is not None:
            metrics.runs.labels(name, outcome).inc()
            metrics.items.labels(name).inc(handled)
            metrics.duration.labels(name).observe(time.perf_counter() - started)
    return handled


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, name: str, error: str
) -> None:
    try:
        async with sessionmaker() as session:
            await _beat(session, name, last_finished_at=clock.now(), last_error=error[:200], runs=1)
            await session.commit()
    except Exception:
        log.debug("could not record sweep failure", extra={"job": name})
