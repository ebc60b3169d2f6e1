"""Is the worker doing its job? The read side of the sweeps' heartbeats, for /health/jobs,
the metrics and the board's banner.

The worker writes a heartbeat row per sweep (jobs/runner.py) with the interval it runs the
sweep at; a sweep is stale when its last success is older than `STALE_AFTER_INTERVALS` of
those intervals, or it has never succeeded. Services do not import the jobs, so the names of
the sweeps a healthy worker runs are listed here (`SWEEPS`) and `jobs/schedule.py` binds each
to its function; a test holds the two lists equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Escalation, JobHeartbeat, OutboxMessage, SweepItemFailure

# Each sweep's cadence as a multiple of JOBS_INTERVAL_SECONDS, in the order the worker runs
# them (see jobs/schedule.py for why the order matters).
SWEEPS: Mapping[str, float] = {
    "heartbeat": 1.0,
    "inbound_spool": 1.0,
    "checkins": 1.0,
    "follow_ups": 1.0,
    "referrals": 1.0,
    "replies": 1.0,
    "escalation_ladder": 1.0,
    "escalation_resolve_by": 1.0,
    "proms": 1.0,
    "outbox": 1.0,
    "staff_email": 1.0,
}

# A few missed ticks, not one: a slow tick (a big batch of texts) is not a dead worker.
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class SweepState:
    name: str
    last_succeeded_at: datetime | None
    interval_seconds: float
    stale_after_seconds: float
    stale: bool
    last_error: str | None
    runs: int
    items_handled: int
    item_failures: int
    set_aside: int


@dataclass(frozen=True)
class SetAside:
    item_kind: str
    item_id: str
    sweep: str
    failures: int
    set_aside_at: datetime


@dataclass(frozen=True)
class JobsHealth:
    sweeps: list[SweepState]
    set_aside: list[SetAside]

    @property
    def stale(self) -> list[str]:
        return [s.name for s in self.sweeps if s.stale]

    @property
    def healthy(self) -> bool:
        return not self.stale


@dataclass(frozen=True)
class Backlog:
    """How long the oldest waiting work has waited (None: nothing waiting)."""

    oldest_due_outbox_seconds: float | None
    oldest_overdue_escalation_seconds: float | None


SET_ASIDE_LISTED = 50


async def jobs_health(session: AsyncSession, now: datetime, interval_seconds: float) -> JobsHealth:
    """Every expected sweep's state; `interval_seconds` (this process's JOBS_INTERVAL_SECONDS)
    judges a sweep whose worker has not said its own interval, or that never ran."""
    rows = {r.name: r for r in await session.scalars(select(JobHeartbeat))}
    aside_counts = dict(
        (
            await session.execute(
                select(SweepItemFailure.sweep, func.count())
                .where(SweepItemFailure.set_aside_at.is_not(None))
                .group_by(SweepItemFailure.sweep)
            )
        ).all()
    )
    names = list(SWEEPS) + sorted(set(rows) - set(SWEEPS))
    sweeps = []
    for name in names:
        row = rows.get(name)
        interval = _interval(name, row, interval_seconds)
        sweeps.append(
            SweepState(
                name=name,
                last_succeeded_at=row.last_succeeded_at if row is not None else None,
                interval_seconds=interval,
                stale_after_seconds=interval * STALE_AFTER_INTERVALS,
                stale=_stale(name, row, now, interval_seconds),
                last_error=row.last_error if row is not None else None,
                runs=row.runs if row is not None else 0,
                items_handled=row.items_handled if row is not None else 0,
                item_failures=row.item_failures if row is not None else 0,
                set_aside=int(aside_counts.get(name, 0)),
            )
        )
    aside = await session.execute(
        select(SweepItemFailure)
        .where(SweepItemFailure.set_aside_at.is_not(None))
        .order_by(SweepItemFailure.set_aside_at.desc())
        .limit(SET_ASIDE_LISTED)
    )
    listed = [
        SetAside(
            item_kind=f.item_kind,
            item_id=str(f.item_id),
            sweep=f.sweep,
            failures=f.failures,
            set_aside_at=f.set_aside_at,
        )
        for f in aside.scalars()
        if f.set_aside_at is not None
    ]
    return JobsHealth(sweeps=sweeps, set_aside=listed)


async def stale_sweeps(session: AsyncSession, now: datetime, interval_seconds: float) -> list[str]:
    """Just the stale sweeps' names (the board's banner asks on every page: one small read)."""
    rows = {r.name: r for r in await session.scalars(select(JobHeartbeat))}
    return [name for name in SWEEPS if _stale(name, rows.get(name), now, interval_seconds)]


def _interval(name: str, row: JobHeartbeat | None, interval_seconds: float) -> float:
    return (row.interval_seconds if row is not None else None) or (
        interval_seconds * SWEEPS.get(name, 1.0)
    )


def _stale(name: str, row: JobHeartbeat | None, now: datetime, interval_seconds: float) -> bool:
    # A sweep no longer in the list (an old worker's row) is shown but judged by nobody.
    if name not in SWEEPS:
        return False
    last = row.last_succeeded_at if row is not None else None
    stale_after = timedelta(seconds=_interval(name, row, interval_seconds) * STALE_AFTER_INTERVALS)
    return last is None or now - last > stale_after


async def backlog(session: AsyncSession, now: datetime) -> Backlog:
    return Backlog(
        oldest_due_outbox_seconds=_age(now, await oldest_due_text(session, now)),
        oldest_overdue_escalation_seconds=_age(now, await oldest_overdue_escalation(session, now)),
    )


# Each a min() over a partial index (queued texts; open escalations): it reads the head of
# the queue, not the table.
async def oldest_due_text(session: AsyncSession, now: datetime) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now
        )
    )
    return found


async def oldest_overdue_escalation(session: AsyncSession, now: datetime) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(func.min(Escalation.ack_due_at)).where(
            Escalation.status == "open", Escalation.ack_due_at <= now
        )
    )
    return found


def _age(now: datetime, since: datetime | None) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())
