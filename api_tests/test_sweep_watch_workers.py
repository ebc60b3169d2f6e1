"""A real `homeward worker` process killed: /health/jobs turns 503 within a few intervals and
back to 200 once a worker runs again; the worker's own metrics port shows the sweep figures.

The worker runs on the system clock, so the API here does too; a one-second interval keeps
"a few intervals" to seconds.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from api_tests.worker_procs import JWT_SECRET, start_worker, worker_env
from service.app import create_app
from service.clock import SystemClock
from service.health.sweeps import SWEEPS
from service.settings import Settings

pytestmark = pytest.mark.slow

INTERVAL = 1.0
# Stale after three intervals; the rest is room for a loaded machine to notice.
TURNS_STALE_WITHIN = 3 * INTERVAL + 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def procs(tmp_path: Path) -> Any:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        proc = start_worker(env, tmp_path / f"{name}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


async def test_a_killed_worker_turns_health_jobs_503_and_a_restart_turns_it_back(
    database_url, procs, tmp_path
):
    port = _free_port()
    env = worker_env(database_url, None, data_dir=tmp_path / "data", interval_seconds=INTERVAL)
    env["WORKER_METRICS_PORT"] = str(port)
    settings = Settings(
        database_url=database_url, jwt_secret=JWT_SECRET, jobs_interval_seconds=INTERVAL
    )
    app = create_app(settings, clock=SystemClock())
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:

        def jobs_status(code: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return (await client.get("/health/jobs")).status_code == code

            return check

        # No worker yet: stale, and the API itself is ready.
        first = await client.get("/health/jobs")
        assert first.status_code == 503 and "heartbeat" in first.json()["stale"]
        assert (await client.get("/health/ready")).status_code == 200

        worker = procs(env, "worker-first")
        await _until(jobs_status(200), 60, "/health/jobs to turn 200")

        # The worker's own port: its process counters and the database-wide figures.
        async def scraped() -> bool:
            try:
                async with httpx.AsyncClient() as http:
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.HTTPError:
                return False
            names = {
                (s.name, s.labels.get("job") or s.labels.get("sweep"))
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            return {
                ("homeward_job_last_success_timestamp_seconds", "heartbeat"),
                ("homeward_job_items_total", "heartbeat"),
                ("homeward_job_item_errors_total", "outbox"),
                ("homeward_sweep_stale", "checkins"),
                ("homeward_outbox_oldest_due_age_seconds", None),
            } <= names

        await _until(scraped, 30, "the worker's metrics port to show the sweep figures")

        worker.kill()
        worker.wait(timeout=10)
        took = await _until(jobs_status(503), 60, "/health/jobs to turn 503")
        assert took <= TURNS_STALE_WITHIN, took
        body = (await client.get("/health/jobs")).json()
        assert body["status"] == "stale" and body["stale"], body
        # Each sweep runs on its own schedule, so which goes stale first is a matter of phase;
        # within another interval or two every one of them is, the heartbeat included.

        async def all_stale() -> bool:
            return set((await client.get("/health/jobs")).json()["stale"]) == set(SWEEPS)

        await _until(all_stale, 3 * INTERVAL + 7, "every sweep to be named stale")
        # Still about the API itself.
        assert (await client.get("/health/ready")).status_code == 200

        procs(env, "worker-second")
        await _until(jobs_status(200), 60, "/health/jobs to turn 200 after a restart")
        assert (await client.get("/health/jobs")).json()["stale"] == []
