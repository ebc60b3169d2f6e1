"""The worker: APScheduler's AsyncIOScheduler ticks; each tick runs one sweep via the runner.

APScheduler holds no durable state here: every due thing is a row in PostgreSQL, so any
number of workers can tick side by side and a killed worker loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jobs.runner import JobMetrics, run_sweep
from jobs.schedule import JOBS, JobSpec
from service.clock import Clock
from service.health.metrics import SweepCollector

log = logging.getLogger("homeward.worker")

# At most this many runs of a sweep back to back while each one handles a full batch.
MAX_DRAIN_RUNS = 25


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        interval_seconds: float,
        *,
        extras: dict[str, Any] | None = None,
        jobs: Sequence[JobSpec] = JOBS,
        metrics: JobMetrics | None = None,
        collector: SweepCollector | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.interval = interval_seconds
        self.extras = extras if extras is not None else {}
        self.jobs = tuple(jobs)
        self.metrics = metrics
        # Database-wide sweep figures for this worker's own metrics port, refreshed each tick.
        self.collector = collector
        self._scheduler: AsyncIOScheduler | None = None
        self._in_flight = 0
        # Jobs running now, and those woken while running (they run again when they finish).
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._woken: set[asyncio.Task[None]] = set()  # held so the loop does not drop them
        self._drains: dict[str, int] = {}  # back-to-back runs of a job working off a backlog
        self._idle = asyncio.Event()
        self._idle.set()

    async def run_once(self, name: str | None = None) -> dict[str, int]:
        """Run every job (or one) once, in list order. Tests and the CLI use this directly."""
        handled: dict[str, int] = {}
        for spec in self.jobs:
            if name is None or spec.name == name:
                handled[spec.name] = await run_sweep(
                    spec.name,
                    spec.sweep,
                    self.sessionmaker,
                    self.clock,
                    self.extras,
                    self.metrics,
                    self.interval * spec.every,
                )
        return handled

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        for spec in self.jobs:
            scheduler.add_job(
                self._tick,
                "interval",
                seconds=self.interval * spec.every,
                args=[spec],
                id=spec.name,
                name=spec.name,
                # One run of a sweep at a time per process; late ticks collapse into one.
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                # First run straight away rather than one interval after start-up.
                next_run_time=datetime.now(UTC),
            )
        if self.collector is not None:
            scheduler.add_job(
                self._observe,
                "interval",
                seconds=self.interval,
                id="observe",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("worker started", extra={"jobs": [j.name for j in self.jobs]})

    async def _tick(self, spec: JobSpec) -> None:
        if spec.name in self._running:
            # Its regular tick met a woken run (or the other way round): once more after.
            self._again.add(spec.name)
            return
        self._in_flight += 1
        self._idle.clear()
        self._running.add(spec.name)
        handled = 0
        try:
            handled = await run_sweep(
                spec.name,
                spec.sweep,
                self.sessionmaker,
                self.clock,
                self.extras,
                self.metrics,
                self.interval * spec.every,
            )
        finally:
            self._running.discard(spec.name)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        if handled:
            for name in spec.wakes:
                self.wake(name)
        if spec.drain_at is not None and handled >= spec.drain_at:
            # A full batch: there may be more due now. Bounded, so a sweep that keeps finding
            # a full batch still yields to its next tick now and then.
            runs = self._drains.get(spec.name, 0)
            if runs < MAX_DRAIN_RUNS:
                self._drains[spec.name] = runs + 1
                self.wake(spec.name)
                return
        self._drains.pop(spec.name, None)
        if spec.name in self._again:
            self._again.discard(spec.name)
            self.wake(spec.name)

    def wake(self, name: str) -> None:
        """Run job `name` now rather than at its next tick; if it is running, once more after.

        The woken run is this worker's own task, outside APScheduler (which would refuse a
        second instance of a job whose tick is just ending); `_tick` keeps it to one run of a
        job at a time either way. Its regular ticks stay where they were."""
        if self._scheduler is None:
            return
        spec = next((j for j in self.jobs if j.name == name), None)
        if spec is None:
            return
        if name in self._running:
            self._again.add(name)
            return
        task = asyncio.get_running_loop().create_task(self._tick(spec))
        self._woken.add(task)
        task.add_done_callback(self._woken.discard)

    async def _observe(self) -> None:
        assert self.collector is not None
        try:
            async with self.sessionmaker() as session:
                await self.collector.refresh(session, self.clock.now(), self.interval)
        except Exception as exc:
            log.warning("could not refresh sweep metrics", extra={"exc_class": type(exc).__name__})

    async def stop(self, grace_seconds: float = 30) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        self._scheduler = None
        # No new runs; let the ones in flight finish their transaction (bounded wait).
        scheduler.pause()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace_seconds)
        except TimeoutError:
            log.warning("worker stopping with sweeps still running")
        scheduler.shutdown(wait=False)
        log.info("worker stopped")


@asynccontextmanager
async def running_worker(worker: Worker) -> AsyncIterator[Worker]:
    worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
