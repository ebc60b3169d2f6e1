"""Trust scale: the pages and reports a ward uses, on a trust's five years of history and on
the same shape at 1/100, side by side in one run.

Each size is a fresh database: migrations, the demo's present through the services
(`seed-demo`), then the history in bulk (`bench.scale_data`). A real `homeward api` process
answers; one client at a time sends each request (so the time measured is the server's work,
plus a loopback round trip that is the same at both sizes), `REQUESTS` times after a warm-up.
The figure that matters is the ratio full/small of each p50: it should be near 1 (aim ≤ 1.5),
because the work of a page is its ward's present, not the trust's past.

Run alone: `python -m bench scale` (BENCH_SCALE_FACTOR=0.1 for a quicker "full" size).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil
from sqlalchemy import select, text

from api_tests.live_server import free_port
from bench.common import percentile, scratch_database, start_api, write_result
from bench.scale_data import Shape, build_history
from db.engine import create_engine_for, make_sessionmaker
from db.models import Patient, User, Ward
from jobs.demo import seed_demo
from jobs.first_run import DEMO_WARD_NAME
from service.http.auth import SESSION_COOKIE
from service.identity import tokens
from service.settings import Settings

JWT_SECRET = "bench-scale-" + "s" * 40
REQUESTS = int(os.environ.get("BENCH_SCALE_REQUESTS", "60"))
WARMUP = 5
FULL = float(os.environ.get("BENCH_SCALE_FACTOR", "1.0"))
SMALL = FULL / 100


@dataclass
class Subjects:
    """Who asks, and about whom: the demo ward's nurse and manager, one of its patients at
    home, and one of its patients from the history (for the audit trail)."""

    ward_id: uuid.UUID
    nurse_token: str
    manager_token: str
    patient_id: uuid.UUID
    history_patient_id: uuid.UUID


async def _subjects(url: str, now: datetime) -> Subjects:
    engine = create_engine_for(url)
    try:
        async with make_sessionmaker(engine)() as session:
            ward = await session.scalar(select(Ward).where(Ward.name == DEMO_WARD_NAME))
            assert ward is not None

            async def token(role: str) -> str:
                user = await session.scalar(
                    select(User).where(User.ward_id == ward.id, User.role == role).limit(1)
                )
                assert user is not None, role
                user.must_change_password = False
                issued, _ = tokens.issue(
                    JWT_SECRET, user.id, user.token_version, now, timedelta(hours=6)
                )
                return issued

            at_home = await session.scalar(
                select(Patient.id)
                .where(Patient.ward_id == ward.id, Patient.status == "discharged")
                .order_by(Patient.created_at)
                .limit(1)
            )
            past = await session.scalar(
                select(Patient.id)
                .where(Patient.ward_id == ward.id, Patient.nhs_number.like("70%"))
                .order_by(Patient.nhs_number)
                .limit(1)
            )
            subjects = Subjects(
                ward_id=ward.id,
                nurse_token=await token("ward_staff"),
                manager_token=await token("ward_manager"),
                patient_id=at_home,  # type: ignore[arg-type]
                history_patient_id=past,  # type: ignore[arg-type]
            )
            await session.commit()
            return subjects
    finally:
        await engine.dispose()


def _requests(s: Subjects, now: datetime) -> dict[str, tuple[str, str, str]]:
    """name -> (path, who, how): `how` is "cookie" for a page, "bearer" for the API."""
    day = now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def ago(days: int) -> str:
        return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "ward board": ("/board", "nurse", "cookie"),
        "patient page": (f"/board/patients/{s.patient_id}", "nurse", "cookie"),
        "outcomes 90 days": (
            f"/api/v1/reports/outcomes?ward_id={s.ward_id}&from={ago(90)}&to={day}",
            "manager",
            "bearer",
        ),
        "outcomes 1 year": (
            f"/api/v1/reports/outcomes?ward_id={s.ward_id}&from={ago(365)}&to={day}",
            "manager",
            "bearer",
        ),
        "cross-ward 90 days": (
            f"/api/v1/reports/outcomes/wards?from={ago(90)}&to={day}",
            "manager",
            "bearer",
        ),
        "audit log, a patient": (
            f"/api/v1/audit-events?patient_id={s.history_patient_id}",
            "manager",
            "bearer",
        ),
        "FHIR export, a patient": (f"/api/v1/patients/{s.patient_id}/fhir", "nurse", "bearer"),
    }


def _records(body: Any) -> int | None:
    """The records behind a report (the sum of its measures' denominators, every ward's for
    the cross-ward one): the work a report must do grows with them, however old the trust."""
    if not isinstance(body, dict):
        return None
    groups = body.get("wards") or [body]
    if not all(isinstance(g, dict) and "measures" in g for g in groups):
        return None
    return sum(int(m["denominator"]) for g in groups for m in g["measures"])


def _timed(client: httpx.Client, path: str, headers: dict[str, str]) -> float | None:
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code == 404 and "/fhir" in path:
        return None  # the export is not built in this tree
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
    return elapsed


@dataclass
class Size:
    """One size, built and served: its database, its API process and who asks."""

    label: str
    factor: float
    base_url: str
    subjects: Subjects
    api: subprocess.Popen[bytes]
    rss: _RssSampler
    facts: dict[str, Any]


def _build_size(stack: ExitStack, label: str, factor: float, now: datetime, log: Any) -> Size:
    db = stack.enter_context(scratch_database())
    started = time.perf_counter()
    asyncio.run(seed_demo(Settings(database_url=db.url, jwt_secret=JWT_SECRET)))
    seeded = time.perf_counter() - started

    async def history() -> None:
        engine = create_engine_for(db.url, command_timeout=7200)
        try:
            async with engine.connect() as conn:
                await build_history(
                    conn, Shape(factor), now, lambda step, sec: log(f"  {sec:7.1f} s  {step}")
                )
        finally:
            await engine.dispose()

    asyncio.run(history())
    built = time.perf_counter() - started
    counts = asyncio.run(_counts(db.url))
    subjects = asyncio.run(_subjects(db.url, now))
    port = free_port()
    api = start_api(db.url, port, JWT_SECRET)
    rss = _RssSampler(api.pid)

    def stop() -> None:
        rss.stop()
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=30)

    stack.callback(stop)
    facts = {
        "factor": factor,
        "rows": counts,
        "seed_seconds": round(seeded, 1),
        "build_seconds": round(built, 1),
    }
    log(f"  {label}: built in {built:.0f} s: {counts}")
    return Size(label, factor, f"http://127.0.0.1:{port}", subjects, api, rss, facts)


def _headers(size: Size, who: str, how: str) -> dict[str, str]:
    token = size.subjects.nurse_token if who == "nurse" else size.subjects.manager_token
    if how == "cookie":
        return {"Cookie": f"{SESSION_COOKIE}={token}"}
    return {"Authorization": f"Bearer {token}"}


def _measure(sizes: list[Size], now: datetime, log: Any) -> dict[str, dict[str, dict[str, float]]]:
    """Each request in turn at each size (small, full, small, full...), so whatever else the
    machine is doing falls on both sizes alike."""
    figures: dict[str, dict[str, dict[str, float]]] = {s.label: {} for s in sizes}
    clients = {s.label: httpx.Client(base_url=s.base_url, timeout=120) for s in sizes}
    try:
        names = list(_requests(sizes[0].subjects, now))
        for name in names:
            plans = {s.label: _requests(s.subjects, now)[name] for s in sizes}
            times: dict[str, list[float]] = {s.label: [] for s in sizes}
            skipped = False
            for round_ in range(WARMUP + REQUESTS):
                for size in sizes:
                    path, who, how = plans[size.label]
                    took = _timed(clients[size.label], path, _headers(size, who, how))
                    if took is None:
                        skipped = True
                        break
                    if round_ >= WARMUP:
                        times[size.label].append(took)
                if skipped:
                    break
            if skipped:
                log(f"  {name}: not in this tree, skipped")
                continue
            for size in sizes:
                values = times[size.label]
                figures[size.label][name] = {
                    "p50_ms": round(percentile(values, 0.5) * 1000, 1),
                    "p95_ms": round(percentile(values, 0.95) * 1000, 1),
                }
                path, who, how = plans[size.label]
                if how == "bearer" and "/reports/" in path:
                    body = clients[size.label].get(path, headers=_headers(size, who, how)).json()
                    records = _records(body)
                    if records is not None:
                        figures[size.label][name]["records"] = records
            log(
                f"  {name:<24} "
                + "  ".join(f"{lbl} p50 {figures[lbl][name]['p50_ms']} ms" for lbl in figures)
            )
    finally:
        for client in clients.values():
            client.close()
    return figures


async def _counts(url: str) -> dict[str, int]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            found = {}
            for table in (
                "wards",
                "patients",
                "episodes",
                "check_ins",
                "sms_outbox",
                "sms_inbound",
                "audit_events",
                "escalations",
            ):
                found[table] = int(await conn.scalar(text(f"SELECT count(*) FROM {table}")))
            return found
    finally:
        await engine.dispose()


class _RssSampler:
    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._process = psutil.Process(pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run() -> dict[str, Any]:
    started = time.perf_counter()

    def log(line: str) -> None:
        print(line, flush=True)

    now = datetime.now(UTC).replace(microsecond=0)
    with ExitStack() as stack:
        sizes = []
        for label, factor in (("small", SMALL), ("full", FULL)):
            log(f"scale: building {label} (factor {factor:g})")
            sizes.append(_build_size(stack, label, factor, now, log))
        log("scale: measuring, small and full in turn")
        figures = _measure(sizes, now, log)
        small = {**sizes[0].facts, "figures": figures["small"]}
        full = {**sizes[1].facts, "figures": figures["full"]}
        for size, facts in ((sizes[0], small), (sizes[1], full)):
            facts["api_peak_rss_mib"] = round(size.rss.peak / 2**20, 1)
    ratios = {
        name: round(full["figures"][name]["p50_ms"] / small["figures"][name]["p50_ms"], 2)
        for name in full["figures"]
        if small["figures"][name]["p50_ms"] > 0
    }
    result: dict[str, Any] = {
        "name": "scale (full/small p50)",
        "ratio": max(ratios.values()),
        "aim": "<=1.5",
        "requests_per_figure": REQUESTS,
        "small": small,
        "full": full,
        "ratios": ratios,
        "seconds": round(time.perf_counter() - started, 1),
    }
    # A report's window may hold more records at full size (the year reaches into the trust's
    # history): its time ratio is then read against how many more records it had to count.
    record_ratios = {
        name: round(full["figures"][name]["records"] / small["figures"][name]["records"], 2)
        for name in full["figures"]
        if small["figures"][name].get("records") and full["figures"][name].get("records")
    }
    result["record_ratios"] = record_ratios
    result["summary"] = "; ".join(f"{k} {v}" for k, v in ratios.items())
    for name in full["figures"]:
        s, f = small["figures"][name], full["figures"][name]
        log(
            f"{name:<24} small p50 {s['p50_ms']:>8} p95 {s['p95_ms']:>8}"
            f" | full p50 {f['p50_ms']:>8} p95 {f['p95_ms']:>8} | ratio {ratios[name]}"
            + (
                f" | records {s['records']:,} -> {f['records']:,} ({record_ratios[name]}x)"
                if name in record_ratios
                else ""
            )
        )
    result["file"] = str(write_result("scale", result))
    return result


if __name__ == "__main__":
    run()
