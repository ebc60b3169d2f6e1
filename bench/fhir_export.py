"""Bulk FHIR export of a 10,000-patient ward: does the server's memory stay bounded?

The ward is filled with set-based inserts (`api_tests.bulk_rows`: patients, stays with
follow-ups, referrals, check-ins, escalations, texts; here: goals, consents, two plan
versions and a partial DIALOG per patient), then the API (its own process, as in
production) exports it once through `GET /api/v1/wards/{id}/fhir/$export` while a thread
samples the server's RSS. The ratio is peak RSS during the export over RSS at rest after a
warm-up export of the same route (`_type=Questionnaire`): near 1 when rows stream in
batches, growing with the ward if the export were built in memory.

Run: `python -m bench fhir_export` (or `make bench` for every benchmark).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil
from sqlalchemy import text

from api_tests import builders, bulk_rows
from api_tests.live_server import free_port
from bench.api_read import JWT_SECRET
from bench.common import scratch_database, start_api, write_result
from db.engine import make_engine, make_sessionmaker

PATIENTS = int(os.environ.get("BENCH_FHIR_PATIENTS", "10000"))
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TABLES = ("escalations", "check_ins", "follow_ups", "referrals", "sms_inbound")
# What bulk_rows does not fill: per patient two goals, a consent to the agency, a plan in two
# versions, and a partial DIALOG with two answers.
EXTRA = [
    """
    INSERT INTO goals (id, patient_id, domain, description, status, created_at, updated_at)
    SELECT gen_random_uuid(), p.id, d.domain, 'Bulk goal', 'active', :now, :now
    FROM patients p CROSS JOIN (VALUES ('housing'), ('finances')) AS d(domain)
    """,
    """
    INSERT INTO consents (id, patient_id, agency_id, scope, given_at, recorded_by_id, created_at)
    SELECT gen_random_uuid(), p.id, (SELECT id FROM agencies ORDER BY name LIMIT 1), 'full',
           :now, (SELECT id FROM users ORDER BY email LIMIT 1), :now
    FROM patients p
    """,
    """
    INSERT INTO relapse_prevention_plans (id, patient_id, version, early_warning_signs,
                                          triggers, coping_strategies, crisis_contacts,
                                          created_at)
    SELECT gen_random_uuid(), p.id, v, '["Not sleeping"]', '["Arguments"]', '["Walk"]',
           '[]', :now
    FROM patients p CROSS JOIN generate_series(1, 2) AS v
    """,
    """
    INSERT INTO prom_surveys (id, patient_id, ward_id, instrument, time_point, anchor_at,
                              due_at, status, created_at, updated_at)
    SELECT gen_random_uuid(), p.id, p.ward_id, 'dialog', '2_weeks', :now, :now, 'partial',
           :now, :now
    FROM patients p
    """,
    """
    INSERT INTO prom_answers (id, survey_id, item_key, score, answered_at)
    SELECT gen_random_uuid(), s.id, k.key, 4, :now
    FROM prom_surveys s
    CROSS JOIN (VALUES ('dialog.mental_health'), ('dialog.accommodation')) AS k(key)
    """,
]


async def _seed(url: str) -> tuple[str, str]:
    """The bulk ward's id and an admin's email."""
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            conn = await session.connection()
            await bulk_rows.base_rows(conn, patients=PATIENTS)
            for table in TABLES:
                await bulk_rows.fill(conn, table, n=PATIENTS, due=PATIENTS // 100, now=NOW)
            for statement in EXTRA:
                await conn.execute(text(statement), {"now": NOW})
            await conn.exec_driver_sql("ANALYZE")
            ward_id = (
                await conn.execute(text("SELECT id FROM wards ORDER BY name LIMIT 1"))
            ).scalar_one()
            await session.commit()
            admin = await builders.user(session, "admin")
            return str(ward_id), admin.email
    finally:
        await engine.dispose()


def run() -> dict[str, Any]:
    with scratch_database() as db:
        ward_id, email = asyncio.run(_seed(db.url))
        port = free_port()
        # The bench signs in as an admin with a password only: two-step sign-in is off here.
        api = start_api(db.url, port, JWT_SECRET, {"HOMEWARD_REQUIRE_TOTP": "off"})
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=600) as http:
                login = http.post(
                    "/api/v1/auth/login", json={"email": email, "password": builders.PASSWORD}
                )
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                url = f"/api/v1/wards/{ward_id}/fhir/$export"
                warm = http.get(url, params={"_type": "Questionnaire"}, headers=headers)
                assert warm.status_code == 200, warm.text
                process = psutil.Process(api.pid)
                time.sleep(0.5)
                idle_rss = process.memory_info().rss
                peak_rss = idle_rss
                stop = threading.Event()

                def sample() -> None:
                    nonlocal peak_rss
                    while not stop.is_set():
                        peak_rss = max(peak_rss, process.memory_info().rss)
                        time.sleep(0.02)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                lines = 0
                size = 0
                started = time.perf_counter()
                with http.stream("GET", url, headers=headers) as response:
                    assert response.status_code == 200
                    types_header = response.headers["homeward-export-types"]
                    for chunk in response.iter_lines():
                        if chunk:
                            lines += 1
                            size += len(chunk) + 1
                seconds = time.perf_counter() - started
                stop.set()
                sampler.join()
        finally:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)

    result: dict[str, Any] = {
        "name": "fhir_export (10k-patient ward)",
        "patients": PATIENTS,
        "resources": lines,
        "bytes": size,
        "seconds": round(seconds, 2),
        "resources_per_second": round(lines / seconds, 1),
        "idle_rss_mib": round(idle_rss / 2**20, 1),
        "peak_rss_mib": round(peak_rss / 2**20, 1),
        "growth_mib": round((peak_rss - idle_rss) / 2**20, 1),
        "ratio": round(peak_rss / idle_rss, 3),
        "aim": "<=1.5",
        "export_size_mib": round(size / 2**20, 1),
        "types": types_header,
    }
    result["summary"] = (
        f"{lines} resources ({result['export_size_mib']} MiB) in {result['seconds']} s; "
        f"server RSS {result['idle_rss_mib']} MiB at rest, peak {result['peak_rss_mib']} MiB "
        f"during the export (+{result['growth_mib']} MiB)"
    )
    result["file"] = str(write_result("fhir_export", result))
    return result


if __name__ == "__main__":
    print(run())
