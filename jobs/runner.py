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
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import JobHeartbeat
from service.clock import Clock
from service.health import poison

log = logging.getLogger("homeward.jobs")

T = TypeVar("T")

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SweepContext:
    session: AsyncSession
    clock: Clock
    extras: dict[str, Any]
    name: str = ""
    failures: int = 0
    handled: int = 0
    set_aside: int = 0

    async def each(self, items: Iterable[T], handle: Callable[[T], Awaitable[None]]) -> int:
        """Handle items one by one, each inside a savepoint; a failing item is skipped.

        Rows (mapped objects with an `id`) that fail are counted per row; one failing on
        every tick is set aside after a few failures and admins are paged (see
        service.health.poison), and a success clears its count."""
        batch = list(items)
        # Keys first: after a savepoint rolls back, a row's attributes are expired and
        # reading them would need a query the async session cannot run implicitly.
        keys = [_row_key(item) for item in batch]
        records: dict[tuple[str, uuid.UUID], poison.Failure] = {}
        for kind in {k[0] for k in keys if k is not None}:
            ids = [k[1] for k in keys if k is not None and k[0] == kind]
            found = await poison.known(self.session, kind, ids)
            records.update({(kind, item_id): f for item_id, f in found.items()})
        done = 0
        for item, key in zip(batch, keys, strict=True):
            record = records.get(key) if key is not None else None
            if record is not None and record.set_aside:
                continue  # the claim should have left it out; never retried regardless
            try:
                async with self.session.begin_nested():
                    await handle(item)
                    if key is not None and record is not None:
                        await poison.clear(self.session, *key)
                done += 1
            except Exception as exc:
                self.failures += 1
                log.error(
                    "sweep item failed",
                    extra={"exc_class": type(exc).__name__},
                    exc_info=exc,
                )
                if key is not None:
                    await self._count_failure(key, type(exc).__name__)
        self.handled += done
        return done

    async def _count_failure(self, key: tuple[str, uuid.UUID], error: str) -> None:
        kind, item_id = key
        try:
            async with self.session.begin_nested():
                counted = await poison.record_failure(
                    self.session,
                    sweep=self.name,
                    kind=kind,
                    item_id=item_id,
                    error=error,
                    now=self.clock.now(),
                )
        except Exception as exc:
            log.error(
                "could not count a sweep item failure", extra={"exc_class": type(exc).__name__}
            )
            return
        if counted.set_aside and counted.failures == poison.SET_ASIDE_AFTER:
            self.set_aside += 1
            log.error(
                "sweep item set aside after repeated failures",
                extra={"job": self.name, "item_kind": kind, "item_id": str(item_id)},
            )


def _row_key(item: object) -> tuple[str, uuid.UUID] | None:
    """A mapped row's (table, id), or None for anything else (counted, not tracked)."""
    table = getattr(type(item), "__tablename__", None)
    item_id = getattr(item, "id", None)
    if isinstance(table, str) and isinstance(item_id, uuid.UUID):
        return table, item_id
    return None


Sweep = Callable[[SweepContext], Awaitable[int]]


@dataclass
class JobMetrics:
    """This process's sweep figures (the database-wide ones are service.health.metrics)."""

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
        self.item_errors = Counter(
            "homeward_job_item_errors",
            "Items that failed in sweeps",
            ["job"],
            registry=self.registry,
        )
        self.set_aside = Counter(
            "homeward_job_items_set_aside",
            "Rows set aside after repeated failures",
            ["job"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "homeward_job_last_success_timestamp_seconds",
            "When this process last completed each sweep (Unix time)",
            ["job"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "homeward_job_duration_seconds", "Sweep run time", ["job"], registry=self.registry
        )


async def _beat(
    session: AsyncSession, name: str, *, items: int = 0, failures: int = 0, **values: Any
) -> None:
    """Upsert the sweep's heartbeat; `items` and `failures` add to its running totals."""
    stmt = insert(JobHeartbeat).values(
        name=name,
        worker=WORKER_NAME,
        items_handled=items,
        item_failures=failures,
        **values,
    )
    update = {
        **values,
        "worker": WORKER_NAME,
        "items_handled": JobHeartbeat.items_handled + items,
        "item_failures": JobHeartbeat.item_failures + failures,
    }
    if "runs" in values:
        update["runs"] = JobHeartbeat.runs + 1
    await session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))


def _cadence(interval_seconds: float | None) -> dict[str, Any]:
    # A one-off run (tests, the CLI) leaves the scheduled worker's cadence as it was.
    return {"interval_seconds": interval_seconds} if interval_seconds else {}


async def run_sweep(
    name: str,
    sweep: Sweep,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    extras: dict[str, Any] | None = None,
    metrics: JobMetrics | None = None,
    interval_seconds: float | None = None,
) -> int:
    """Run a sweep once; never raises (the next tick simply tries again).

    `interval_seconds` is how often this worker runs it, kept on the heartbeat so
    /health/jobs can tell how late the sweep is."""
    started = time.perf_counter()
    started_at = clock.now()
    outcome = "ok"
    handled = 0
    failures = 0
    set_aside = 0
    try:
        async with sessionmaker() as session:
            ctx = SweepContext(session=session, clock=clock, extras=extras or {}, name=name)
            try:
                handled = await sweep(ctx)
                failures, set_aside = ctx.failures, ctx.set_aside
                await _beat(
                    session,
                    name,
                    items=handled,
                    failures=failures,
                    last_started_at=started_at,
                    last_finished_at=clock.now(),
                    last_succeeded_at=clock.now(),
                    last_error=None,
                    runs=1,
                    **_cadence(interval_seconds),
                )
                await session.commit()
            except BaseException:
                failures, set_aside = ctx.failures, 0
                await session.rollback()
                raise
            if ctx.failures:
                outcome = "partial"
    except Exception as exc:
        outcome = "error"
        handled = 0
        log.warning("sweep run failed", extra={"job": name, "exc_class": type(exc).__name__})
        await _record_failure(
            sessionmaker, clock, name, type(exc).__name__, started_at, interval_seconds, failures
        )
    finally:
        if metrics is not None:
            metrics.runs.labels(name, outcome).inc()
            metrics.items.labels(name).inc(handled)
            metrics.item_errors.labels(name).inc(failures)
            metrics.set_aside.labels(name).inc(set_aside)
            if outcome != "error":
                metrics.last_success.labels(name).set(clock.now().timestamp())
            metrics.duration.labels(name).observe(time.perf_counter() - started)
    return handled


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    name: str,
    error: str,
    started_at: datetime,
    interval_seconds: float | None,
    failures: int,
) -> None:
    try:
        async with sessionmaker() as session:
            await _beat(
                session,
                name,
                failures=failures,
                last_started_at=started_at,
                last_finished_at=clock.now(),
                last_error=error[:200],
                runs=1,
                **_cadence(interval_seconds),
            )
            await session.commit()
    except Exception:
        log.debug("could not record sweep failure", extra={"job": name})
