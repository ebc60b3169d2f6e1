"""A series of a few months reads those months, not a ward's five-year history.

One ward, 1,000 patients, 60,000 discharges (each with its follow-up) and 60,000 check-ins
spread over five years, ANALYZEd; the real series statement for one month is captured as the
service sends it and EXPLAINed: it must start from the time index, never read the whole
episodes or check-ins table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from api_tests import bulk_rows
from api_tests.test_sweep_indexes import INDEX_SCANS, _captured, _nodes, sessionmaker  # noqa: F401
from service.reports import series_sql as q
from service.reports.series import MEASURES, _rows

pytestmark = pytest.mark.slow

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROWS = 60_000

FILL = [
    """
    WITH pids AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS total
                  FROM patients)
    INSERT INTO episodes (id, patient_id, admitted_at, discharged_at, suicide_risk)
    SELECT gen_random_uuid(), pids.id,
           CAST(:now AS timestamptz) - i * interval '43 minutes' - interval '20 days',
           CAST(:now AS timestamptz) - i * interval '43 minutes', false
    FROM generate_series(1, :n) AS i JOIN pids ON pids.k = i % pids.total
    """,
    """
    INSERT INTO follow_ups (id, patient_id, episode_id, due_at, suicide_risk, status,
                            completed_at, method, created_at)
    SELECT gen_random_uuid(), e.patient_id, e.id, e.discharged_at + interval '72 hours', false,
           'completed', e.discharged_at + interval '20 hours', 'phone', e.discharged_at
    FROM episodes e
    """,
    """
    WITH pids AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS total
                  FROM patients)
    INSERT INTO check_ins (id, patient_id, kind, due_at, status, reply_window_minutes,
                           reminder_after_minutes)
    SELECT gen_random_uuid(), pids.id, 'extra', CAST(:now AS timestamptz) - i * interval '43 minutes',
           CASE WHEN i % 4 = 0 THEN 'missed' ELSE 'answered' END, 240, 120
    FROM generate_series(1, :n) AS i JOIN pids ON pids.k = i % pids.total
    """,
]

CASES = [
    ("follow_up", "episodes", "ix_episodes_discharged_at"),
    ("readmission", "episodes", "ix_episodes_discharged_at"),
    ("check_in_response", "check_ins", "ix_check_ins_due_at"),
]


async def test_one_month_of_a_five_year_history_reads_through_the_time_indexes(sessionmaker):  # noqa: F811
    async with sessionmaker() as session:
        conn = await session.connection()
        await bulk_rows.base_rows(conn)
        for statement in FILL:
            await conn.execute(text(statement), {"n": ROWS, "now": NOW})
        await conn.exec_driver_sql("ANALYZE")
        await session.commit()
        ward_id = await session.scalar(text("SELECT id FROM wards ORDER BY name LIMIT 1"))
        start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
        problems = []
        for key, table, index in CASES:
            measure = MEASURES[key]
            assert isinstance(measure, q.SeriesMeasure)

            async def run(s, measure=measure):  # type: ignore[no-untyped-def]
                return await _rows(s, measure, [ward_id], start, end, NOW, "month", "UTC")

            # The statement itself; the other one sent is the SET of plan_cache_mode.
            [(statement, parameters)] = [
                (sql, params)
                for sql, params in await _captured(session, run)
                if "plan_cache_mode" not in sql
            ]
            conn = await session.connection()
            result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = result.scalar_one()[0]["Plan"]
            await session.rollback()
            scans = [
                (n["Node Type"], n.get("Index Name"), n.get("Relation Name")) for n in _nodes(plan)
            ]
            if not any(t in INDEX_SCANS and name == index for t, name, _ in scans):
                problems.append(f"{key}: {index} not used: {scans}")
            if any(t == "Seq Scan" and rel == table for t, _, rel in scans):
                problems.append(f"{key}: {table} read whole: {scans}")
        # And the month's figures are right: 31 days of one discharge every 43 minutes.
        rows = await _rows(
            session, MEASURES["follow_up"], [ward_id], start, end, NOW, "month", "UTC"
        )
        assert len(rows) == 1 and 1030 <= rows[0].denominator <= 1040
        assert rows[0].numerator == rows[0].denominator
    assert problems == []
