from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from db.engine import make_engine, make_sessionmaker
from db.models import JobHeartbeat
from jobs.runner import SweepContext, run_sweep
from jobs.schedule import JOBS, JobSpec
from jobs.worker import Worker


async def test_heartbeat_records_its_last_run_and_ready_shows_it(client, sessionmaker, clock, db):
    worker = Worker(sessionmaker, clock, 1)
    await worker.run_once()
    await worker.run_once()

    row = await db.get(JobHeartbeat, "heartbeat")
    assert row is not None
    assert row.runs == 2
    assert row.last_succeeded_at == clock.now()
    ready = (await client.get("/health/ready")).json()
    jobs = {j["name"]: j for j in ready["jobs"]}
    assert set(jobs) == {spec.name for spec in JOBS}
    assert jobs["heartbeat"]["runs"] == 2


async def test_one_failing_item_is_skipped_and_the_rest_commit(sessionmaker, clock, db):
    await db.execute(text("CREATE TABLE sweep_probe (n int primary key)"))
    await db.commit()

    async def sweep(ctx: SweepContext) -> int:
        async def handle(n: int) -> None:
            if n == 2:
                raise RuntimeError("boom")
            await ctx.session.execute(text("INSERT INTO sweep_probe VALUES (:n)"), {"n": n})

        return await ctx.each([1, 2, 3], handle)

    handled = await run_sweep("probe", sweep, sessionmaker, clock)

    assert handled == 2
    rows = (await db.execute(text("SELECT n FROM sweep_probe ORDER BY n"))).scalars().all()
    assert rows == [1, 3]


async def test_a_failing_run_rolls_back_and_is_recorded_without_raising(sessionmaker, clock, db):
    await db.execute(text("CREATE TABLE sweep_probe2 (n int)"))
    await db.commit()

    async def sweep(ctx: SweepContext) -> int:
        await ctx.session.execute(text("INSERT INTO sweep_probe2 VALUES (1)"))
        raise ValueError("whole run fails")

    assert await run_sweep("failing", sweep, sessionmaker, clock) == 0

    assert (await db.execute(text("SELECT count(*) FROM sweep_probe2"))).scalar() == 0
    beat = await db.get(JobHeartbeat, "failing")
    assert beat is not None
    assert beat.last_error == "ValueError"
    assert beat.last_succeeded_at is None


async def test_runner_survives_an_unreachable_database(clock):
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none", pool_size=1)
    try:

        async def sweep(ctx: SweepContext) -> int:
            await ctx.session.execute(text("SELECT 1"))
            return 1

        assert await run_sweep("offline", sweep, make_sessionmaker(engine), clock) == 0
    finally:
        await engine.dispose()


async def test_scheduler_ticks_and_stops_gracefully(sessionmaker, clock, db):
    calls: list[int] = []

    async def sweep(ctx: SweepContext) -> int:
        calls.append(1)
        await asyncio.sleep(0.05)
        return 1

    worker = Worker(sessionmaker, clock, 0.1, jobs=(JobSpec("tick", sweep),))
    worker.start()
    for _ in range(50):
        if len(calls) >= 3:
            break
        await asyncio.sleep(0.05)
    await worker.stop()
    seen = len(calls)
    await asyncio.sleep(0.3)

    assert seen >= 3
    assert len(calls) == seen  # nothing runs after stop
    beat = (await db.execute(select(JobHeartbeat).where(JobHeartbeat.name == "tick"))).scalar_one()
    assert beat.runs >= 3


async def test_a_sweep_that_did_something_wakes_the_senders_at_once(sessionmaker, clock):
    """A minute's interval, yet the sender runs again within a second of the sweep that
    queued something; it runs once more if woken while running; a sweep with nothing to do
    wakes nobody."""
    sender_runs: list[float] = []
    loop = asyncio.get_running_loop()

    async def queues(ctx: SweepContext) -> int:
        await asyncio.sleep(0.2)  # the sender's first run is under way meanwhile
        return 1

    async def idle(ctx: SweepContext) -> int:
        return 0

    async def sender(ctx: SweepContext) -> int:
        sender_runs.append(loop.time())
        await asyncio.sleep(0.3)
        return 0

    jobs = (
        JobSpec("queues", queues, wakes=("sender",)),
        JobSpec("idle", idle, wakes=("sender",)),
        JobSpec("sender", sender),
    )
    worker = Worker(sessionmaker, clock, 60, jobs=jobs)
    started = loop.time()
    worker.start()
    for _ in range(100):
        if len(sender_runs) >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    await worker.stop()

    # The first tick, then exactly one more: woken while running, run again when done.
    assert len(sender_runs) == 2
    assert sender_runs[1] - started < 3  # not the 60 s interval
    assert sender_runs[1] - sender_runs[0] >= 0.3  # after the first run ended, not alongside


def test_every_sweep_that_can_queue_a_text_wakes_the_outbox():
    wakes = {spec.name: spec.wakes for spec in JOBS}
    for name, woken in wakes.items():
        if name in {"heartbeat", "outbox", "staff_email"}:
            continue
        assert woken == ("outbox", "staff_email"), name
    assert wakes["outbox"] == ("staff_email",)
    assert wakes["heartbeat"] == () and wakes["staff_email"] == ()


async def test_a_full_batch_runs_the_sweep_again_until_the_backlog_is_worked_off(
    sessionmaker, clock
):
    """Three batches of work wait: a minute's interval, yet all three go in one tick; a sweep
    that always finds a full batch stops after MAX_DRAIN_RUNS and waits for its next tick."""
    from jobs.worker import MAX_DRAIN_RUNS

    backlog = [2, 2, 1]  # items handled by each run: full, full, then the rest
    runs: list[int] = []
    endless: list[int] = []

    async def sweep(ctx: SweepContext) -> int:
        handled = backlog.pop(0) if backlog else 0
        runs.append(handled)
        return handled

    async def always_full(ctx: SweepContext) -> int:
        endless.append(1)
        return 2

    jobs = (
        JobSpec("backlog", sweep, drain_at=2),
        JobSpec("endless", always_full, drain_at=2),
    )
    worker = Worker(sessionmaker, clock, 60, jobs=jobs)
    worker.start()
    for _ in range(200):
        if len(runs) >= 3 and len(endless) >= MAX_DRAIN_RUNS + 1:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    await worker.stop()

    assert runs == [2, 2, 1]  # the third run found less than a batch: no fourth
    assert len(endless) == MAX_DRAIN_RUNS + 1  # the first run and its bounded repeats


def test_the_alert_path_sweeps_work_off_a_backlog_at_once():
    drain = {spec.name: spec.drain_at for spec in JOBS}
    for name in ("checkins", "follow_ups", "escalation_ladder", "escalation_resolve_by", "outbox"):
        assert drain[name], name
    assert drain["heartbeat"] is None
