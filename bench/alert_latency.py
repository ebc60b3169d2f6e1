"""Alert latency: from a reply window closing to the level-1 staff text reaching Twilio, while
a trust's check-in schedules tick.

100,000 patients at home with active schedules (each with its next check-in waiting), and
check-ins whose reply windows close at a steady RATE per minute for MINUTES minutes. Real
`homeward worker` processes on the system clock run the sweeps every INTERVAL seconds; the
loopback fake Twilio stamps each text as it arrives. For every window that closed, latency is
the arrival of the first level-1 text about its `no_reply` escalation minus the instant the
window closed. Aim: p99 ≤ one interval + 2 s.

Run alone: `python -m bench alert_latency` (BENCH_ALERT_MINUTES, BENCH_ALERT_INTERVAL,
BENCH_ALERT_WORKERS to change the shape).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

from api_tests.fake_twilio import FakeTwilio
from api_tests.worker_procs import start_worker, stop_worker, worker_env
from bench.common import percentile, scratch_database, write_result
from db.engine import create_engine_for

SCHEDULES = int(os.environ.get("BENCH_ALERT_SCHEDULES", "100000"))
RATE_PER_MINUTE = int(os.environ.get("BENCH_ALERT_RATE", "1000"))
MINUTES = int(os.environ.get("BENCH_ALERT_MINUTES", "4"))
INTERVAL = float(os.environ.get("BENCH_ALERT_INTERVAL", "15"))
WORKERS = int(os.environ.get("BENCH_ALERT_WORKERS", "1"))
WARDS = 20
LEAD_SECONDS = 45  # the first window closes this long after the workers start

_BUILD = [
    """
    INSERT INTO wards (id, name, timezone, crisis_message, escalation_policy)
    SELECT gen_random_uuid(), 'Latency ward ' || lpad(w::text, 2, '0'), 'UTC',
           'Call the ward.', '{"on_call_phone": "+442079460777"}'
    FROM generate_series(1, :wards) AS w
    """,
    # One key worker per ward, with a mobile: level 1 of a patient's escalation pages them.
    """
    INSERT INTO users (id, email, full_name, role, ward_id, mobile, password_hash, token_version)
    SELECT gen_random_uuid(), 'key.worker.' || w.id || '@trust.example', 'Key Worker',
           'ward_staff', w.id, '+4477009' || lpad((row_number() OVER (ORDER BY w.name))::text, 5, '0'),
           'not-a-hash', 0
    FROM wards w
    """,
    """
    CREATE TABLE bench_latency_patients AS
    SELECT k, gen_random_uuid() AS id, w.id AS ward_id, w.user_id
    FROM generate_series(0, :schedules - 1) AS k
    JOIN (SELECT w.id, u.id AS user_id, row_number() OVER (ORDER BY w.name) - 1 AS r
          FROM wards w JOIN users u ON u.ward_id = w.id) w ON w.r = k % :wards
    """,
    # At home, texting allowed all day (start == end) in UTC, the ward's key worker theirs.
    """
    INSERT INTO patients (id, ward_id, nhs_number, given_name, family_name, date_of_birth,
                          mobile, timezone, contact_window_start, contact_window_end,
                          status, sms_consent, key_worker_id)
    SELECT id, ward_id, '71' || lpad(k::text, 8, '0'), 'Lat', 'Patient' || k, DATE '1980-01-01',
           '+447801' || lpad(k::text, 6, '0'), 'UTC', TIME '00:00', TIME '00:00',
           'discharged', true, user_id
    FROM bench_latency_patients
    """,
    """
    INSERT INTO check_in_schedules (patient_id, offsets_hours, reply_window_minutes,
                                    reminder_after_minutes, active, anchor_at)
    SELECT id, ARRAY[24, 48, 72, 96, 120, 144, 168, 336, 504, 672], 240, 120, true,
           CAST(:now AS timestamptz) - interval '12 hours'
    FROM bench_latency_patients
    """,
    # Every schedule's next check-in, due in the days ahead (the schedules tick).
    """
    INSERT INTO check_ins (id, patient_id, kind, anchor_at, offset_hours, due_at, next_action_at,
                           status, reply_window_minutes, reminder_after_minutes)
    SELECT gen_random_uuid(), id, 'scheduled', CAST(:now AS timestamptz) - interval '12 hours',
           24 * (1 + k % 7), CAST(:now AS timestamptz) + (12 + 24 * (k % 7)) * interval '1 hour',
           CAST(:now AS timestamptz) + (12 + 24 * (k % 7)) * interval '1 hour',
           'scheduled', 240, 120
    FROM bench_latency_patients
    """,
    # The check-ins whose windows close during the run, one patient each, evenly spaced:
    # prompted (and delivered) four hours before, reminded two hours before.
    """
    INSERT INTO check_ins (id, patient_id, kind, due_at, next_action_at, status,
                           reply_window_minutes, reminder_after_minutes, sent_at, reminded_at)
    SELECT gen_random_uuid(), id, 'extra', close_at - interval '4 hours', close_at, 'reminded',
           240, 120, close_at - interval '4 hours', close_at - interval '2 hours'
    FROM bench_latency_patients
    CROSS JOIN LATERAL (
        SELECT CAST(:first_close AS timestamptz) + k * (60.0 / :rate) * interval '1 second'
    ) AS c(close_at)
    WHERE k < :due
    """,
    """
    INSERT INTO sms_outbox (id, dedupe_key, recipient_kind, patient_id, ward_id, check_in_id,
                            purpose, to_number, body, status, attempts, sid, created_at,
                            sending_started_at, sent_at, finished_at, updated_at)
    SELECT gen_random_uuid(), 'bench:prompt:' || c.id, 'patient', c.patient_id, h.ward_id, c.id,
           'checkin_prompt', p.mobile, 'Homeward: how are you today? Reply 1 to 5.', 'delivered',
           1, 'SMb' || replace(c.id::text, '-', ''), c.sent_at, c.sent_at, c.sent_at,
           c.sent_at + interval '5 seconds', c.sent_at + interval '5 seconds'
    FROM check_ins c JOIN bench_latency_patients h ON h.id = c.patient_id
    JOIN patients p ON p.id = c.patient_id
    WHERE c.kind = 'extra'
    """,
    "DROP TABLE bench_latency_patients",
    "ANALYZE",
]


async def _build(url: str, now: datetime, first_close: datetime, due: int) -> dict[str, datetime]:
    engine = create_engine_for(url, command_timeout=3600)
    params = {
        "now": now,
        "first_close": first_close,
        "wards": WARDS,
        "schedules": SCHEDULES,
        "rate": RATE_PER_MINUTE,
        "due": due,
    }
    try:
        async with engine.connect() as conn:
            for sql in _BUILD:
                used = {k: v for k, v in params.items() if f":{k}" in sql}
                await conn.execute(text(sql), used)
                await conn.commit()
            rows = await conn.execute(
                text("SELECT id, next_action_at FROM check_ins WHERE kind = 'extra'")
            )
            return {str(r.id): r.next_action_at for r in rows}
    finally:
        await engine.dispose()


async def _first_page_sids(url: str) -> dict[str, str]:
    """check-in id -> sid of the first level-1 staff text about its escalation."""
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    """
                    SELECT DISTINCT ON (e.source_id) e.source_id, o.sid
                    FROM escalations e
                    JOIN sms_outbox o ON o.escalation_id = e.id AND o.recipient_kind = 'staff'
                    WHERE e.reason = 'no_reply' AND e.source_type = 'check_in'
                      AND o.escalation_level = 1 AND o.sid IS NOT NULL
                    ORDER BY e.source_id, o.sent_at
                    """
                )
            )
            return {r.source_id: r.sid for r in rows}
    finally:
        await engine.dispose()


async def _run(url: str) -> dict[str, Any]:
    due = RATE_PER_MINUTE * MINUTES
    now = datetime.now(UTC)
    build_started = time.perf_counter()
    # Built before the clock starts: the first window closes LEAD_SECONDS after the workers
    # are up, whatever the build took.
    placeholder = now + timedelta(days=1)
    closes = await _build(url, now, placeholder, due)
    build_seconds = time.perf_counter() - build_started
    fake = await FakeTwilio().start()
    procs = []
    peak_rss = 0
    try:
        first_close = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
        shift = first_close - placeholder
        engine = create_engine_for(url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE check_ins SET next_action_at = next_action_at + :shift, "
                    "due_at = due_at + :shift, sent_at = sent_at + :shift, "
                    "reminded_at = reminded_at + :shift WHERE kind = 'extra'"
                ),
                {"shift": shift},
            )
        await engine.dispose()
        closes = {k: v + shift for k, v in closes.items()}
        data_dir = Path(tempfile.mkdtemp(prefix="homeward-bench-latency-"))
        env = worker_env(
            url, fake, data_dir=data_dir, interval_seconds=INTERVAL, rate_per_second=200
        )
        for n in range(WORKERS):
            procs.append(start_worker(env, data_dir / f"worker{n}.log"))
        last_close = max(closes.values())
        deadline = last_close + timedelta(seconds=3 * INTERVAL + 60)
        while datetime.now(UTC) < deadline:
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    peak_rss = max(peak_rss, psutil.Process(proc.pid).memory_info().rss)
            pages = [m for m in fake.accepted if m.to.startswith("+4477009")]
            if len(pages) >= due and datetime.now(UTC) > last_close:
                break
            await asyncio.sleep(1)
    finally:
        for proc in procs:
            await stop_worker(proc)
    sids = await _first_page_sids(url)
    await fake.stop()
    latencies = []
    for check_in_id, closed_at in closes.items():
        sid = sids.get(check_in_id)
        message = fake.messages.get(sid) if sid else None
        if message is not None:
            latencies.append((message.created_at - closed_at).total_seconds())
    missing = due - len(latencies)
    aim = INTERVAL + 2
    p99 = percentile(latencies, 0.99)
    return {
        "name": "alert latency (p99 / aim)",
        "ratio": round(p99 / aim, 2),
        "aim": "<=1.0",
        "schedules": SCHEDULES,
        "closing_per_minute": RATE_PER_MINUTE,
        "minutes": MINUTES,
        "windows_closed": due,
        "paged": len(latencies),
        "not_paged": missing,
        "interval_seconds": INTERVAL,
        "workers": WORKERS,
        "build_seconds": round(build_seconds, 1),
        "p50_seconds": round(percentile(latencies, 0.5), 2),
        "p99_seconds": round(p99, 2),
        "max_seconds": round(max(latencies), 2) if latencies else None,
        "aim_p99_seconds": aim,
        "worker_peak_rss_mib": round(peak_rss / 2**20, 1),
        "summary": (
            f"p50 {percentile(latencies, 0.5):.1f} s, p99 {p99:.1f} s (aim ≤ {aim:g} s) for "
            f"{len(latencies)}/{due} windows closing at {RATE_PER_MINUTE}/min among "
            f"{SCHEDULES} schedules, sweeps every {INTERVAL:g} s, {WORKERS} worker(s)"
        ),
    }


def run() -> dict[str, Any]:
    with scratch_database() as db:
        result = asyncio.run(_run(db.url))
    result["file"] = str(write_result("alert_latency", result))
    print(result["summary"], flush=True)
    return result


if __name__ == "__main__":
    run()
