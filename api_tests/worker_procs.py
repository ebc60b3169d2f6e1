"""`homeward worker` as real OS processes, pointed at a test database and the fake Twilio.

Shared by the multi-worker tests and the sweep benchmark.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from api_tests.fake_twilio import FakeTwilio

TWILIO_FROM = "+447700900001"
JWT_SECRET = "worker-test-secret-" + "x" * 40


def worker_env(
    database_url: str,
    fake: FakeTwilio | None,
    *,
    data_dir: Path,
    interval_seconds: float = 0.5,
    rate_per_second: float = 1000,
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "SMS_", "JOBS_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "HOMEWARD_DATA_DIR": str(data_dir),
            "JWT_SECRET": JWT_SECRET,
            "PUBLIC_BASE_URL": "https://homeward.test",
            "JOBS_INTERVAL_SECONDS": str(interval_seconds),
            "SMS_RATE_PER_SECOND": str(rate_per_second),
            # The spend guard's hourly cap would hold back patient prompts in a big batch.
            "SMS_HOURLY_CAP": "1000000",
            "LOG_LEVEL": "WARNING",
        }
    )
    if fake is not None:
        env.update(
            {
                "SMS_BACKEND": "twilio",
                "TWILIO_ACCOUNT_SID": fake.account_sid,
                "TWILIO_AUTH_TOKEN": fake.auth_token,
                "TWILIO_FROM_NUMBER": TWILIO_FROM,
                "TWILIO_API_BASE_URL": fake.base_url,
            }
        )
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        cwd=Path(__file__).resolve().parent.parent,
    )


async def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """SIGTERM (the graceful stop) and wait without blocking the loop, which may be serving
    the fake Twilio the worker is still talking to. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=10)
            raise TimeoutError("worker did not stop after SIGTERM")
        await asyncio.sleep(0.1)
    return proc.returncode
