"""Reports whose statements take the period as a parameter are planned for the values given.

asyncpg prepares each statement once per connection, and after five runs PostgreSQL may keep
a generic plan made without the parameters (bench/scale.py at full size: the ward report's
measures then read the whole trust's year; the check-in series estimated two years at 1/60 of
their rows). So the ward report, the series and the funnel each run their statements with
`plan_cache_mode = force_custom_plan`, set for their transaction only. Checked here by asking
the database for the setting at the moment each report statement is sent, then once the
transaction is over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from api_tests.conftest import START
from api_tests.test_reports import discharged
from service.reports import series, service

PROBE = "SELECT current_setting('plan_cache_mode')"


async def _settings_seen(
    db: AsyncSession, run: Callable[[], Awaitable[Any]], marker: str
) -> list[str]:
    """The plan_cache_mode in force as each statement containing `marker` was sent."""
    seen: list[str] = []

    def probe(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if marker in statement and statement != PROBE:
            seen.append(conn.exec_driver_sql(PROBE).scalar_one())

    engine = db.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", probe)
    try:
        await run()
    finally:
        event.remove(engine, "before_cursor_execute", probe)
        await db.rollback()
    return seen


async def test_report_statements_are_planned_for_their_period(
    db: AsyncSession, app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    await discharged(
        db,
        team.ward.id,
        "2026-11-10T12:00:00Z",
        due_at="2026-11-13T12:00:00Z",
        completed_at="2026-11-11T12:00:00Z",
    )
    await db.commit()
    caller = builders.principal(team.manager)
    default = (await db.execute(text(PROBE))).scalar_one()
    await db.rollback()
    assert default != "force_custom_plan"

    async def ward_report() -> None:
        report = await service.ward_report(db, caller, None, None, None, START)
        assert report.measures[0].numerator == 1  # the statements ran and found the record

    async def measure_series() -> None:
        await series.measure_series(
            db,
            caller,
            "follow_up",
            ward_id=None,
            start=None,
            end=None,
            grain="month",
            chart="auto",
            baseline_from=None,
            baseline_to=None,
            now=START,
        )

    async def funnel() -> None:
        await series.funnel(db, caller, "check_in_response", start=None, end=None, now=START)

    # The ward report sends 11 measure statements; the series and the funnel one each.
    for run, marker, count in (
        (ward_report, "array_agg(", 11),
        (measure_series, "date_trunc(", 1),
        (funnel, "date_trunc(", 1),
    ):
        seen = await _settings_seen(db, run, marker)
        assert seen == ["force_custom_plan"] * count, run.__name__
        # SET LOCAL: over with the transaction, so the connection goes back to the pool as
        # it came.
        assert (await db.execute(text(PROBE))).scalar_one() == default
        await db.rollback()
