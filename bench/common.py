"""Shared benchmark plumbing: a throwaway database, the machine's description, result files."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from api_tests import pg
from db import migrate

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "hostname_hash": hex(hash(socket.gethostname()) & 0xFFFF),
    }


@dataclass
class Database:
    admin_url: str
    url: str
    name: str


@contextmanager
def scratch_database() -> Iterator[Database]:
    """A migrated database on BENCH_DATABASE_URL's server, or on a throwaway embedded one."""
    external = os.environ.get("BENCH_DATABASE_URL")
    base: Path | None = None
    server: Any = None
    if external:
        admin_url = external
    else:
        base = Path(tempfile.mkdtemp(prefix="homeward-bench-pg-"))
        admin_url, server = pg.start_test_server(base)
    name = asyncio.run(pg.create_database(admin_url))
    url = pg.with_database(admin_url, name)
    migrate.upgrade(url)
    try:
        yield Database(admin_url=admin_url, url=url, name=name)
    finally:
        asyncio.run(pg.drop_database(admin_url, name))
        if server is not None:
            server.cleanup()
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)


def write_result(bench: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{bench}-{stamp}.json"
    path.write_text(json.dumps({"bench": bench, "machine": machine(), **result}, indent=2) + "\n")
    return path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def start_api(
    database_url: str, port: int, jwt_secret: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`homeward api` in its own process on `port`, once it answers /health/live."""
    import httpx

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": jwt_secret,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("API did not start")
