"""API read path: GET /api/v1/patients/{id} with auth and audit, against the same work bare.

Both sides run in the same process tree, on the same database, at the same concurrency, in
alternating rounds (best round of each side counts), so the ratio is meaningful even though
absolute figures depend on the machine and its other load.

"Bare" is the work a request needs from the database done the plain way, through asyncpg
with no framework: read the caller (user, session and revocation), find the patient in the
caller's ward, write the audit row, in one transaction. The API itself now does less: the
caller comes from the principal cache (service.identity.principal_cache), and the patient and
its audit row are one statement, sent with no BEGIN or COMMIT around it (the route is declared
standalone, service.http.state). A second bare side, "bare, our SQL", runs what the API now
sends (that one statement, on its own), so both the design's gain and what the framework
still costs are visible.

A third side splits the gap: the same request through the service layer alone (token check,
`read_patient`, commit, JSON encoding) on SQLAlchemy's AsyncSession, in the bench process with
no HTTP. service/bare is what the database layer costs; api/service what HTTP and the web
framework cost on top.

Run: `python -m bench.api_read` (or `make bench` for every benchmark).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import msgspec
import psutil
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api_tests import builders
from api_tests.live_server import free_port
from bench.common import percentile, scratch_database, start_api, write_result
from db.engine import asyncpg_dsn, make_engine, make_sessionmaker, make_standalone_sessionmaker
from db.listen import listen_forever
from service import audit
from service.app import API_POOL_SIZE
from service.clock import SystemClock
from service.identity.callers import PRINCIPAL_QUERY, principal_for_token
from service.identity.principal_cache import CHANNEL as PRINCIPALS_CHANNEL
from service.identity.principal_cache import PrincipalCache
from service.patient_access.staff import STAFF_PATIENT_READ, STAFF_PATIENT_ROW_QUERY
from service.patients.service import read_patient

CONCURRENCY = 32
# Measured seconds per round and side; each side's best round counts (as in bench.outbox).
ROUND_SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
ROUNDS = 3
WARMUP_SECONDS = 1.0
JWT_SECRET = "bench-secret-" + "b" * 40


async def _seed(url: str) -> tuple[str, str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            ward = await builders.ward(session)
            nurse = await builders.user(session, "ward_staff", ward_id=ward.id)
            patient = await builders.patient(session, ward.id)
            return str(nurse.id), str(patient.id), nurse.email
    finally:
        await engine.dispose()


async def _drive(fn: Any, seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    count = 0

    async def one_worker() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await fn()
            latencies.append(time.perf_counter() - started)
            count += 1

    await asyncio.gather(*(one_worker() for _ in range(CONCURRENCY)))
    return count, latencies


Request = Callable[[], Awaitable[None]]


async def _measure(request: Request, seconds: float) -> tuple[float, float]:
    await _drive(request, WARMUP_SECONDS)
    count, latencies = await _drive(request, seconds)
    return count / seconds, percentile(latencies, 0.99)


def bare_sql(statement: Any, params: dict[str, Any]) -> tuple[str, list[str]]:
    """The SQL text and parameter order the API sends for one of its own statement objects."""
    compiled = statement.compile(dialect=asyncpg_dialect.dialect(), column_keys=list(params))
    return str(compiled), list(compiled.positiontup or [])


def _bare_request(pool: asyncpg.Pool, user_id: str, patient_id: str) -> Request:
    """The statements the endpoint sends, in one transaction, through asyncpg with no framework.

    The SQL is compiled from the very statement objects the service executes (principal
    lookup, ward-scoped patient select, audit insert), so the two sides cannot drift apart.
    """
    uid, pid = uuid.UUID(user_id), uuid.UUID(patient_id)
    principal_params: dict[str, Any] = {"user_id": uid, "token_id": uuid.uuid4().hex}
    principal_sql, principal_order = bare_sql(PRINCIPAL_QUERY, principal_params)
    principal_args = [principal_params[name] for name in principal_order]
    patient_sql, _ = bare_sql(STAFF_PATIENT_ROW_QUERY, {"patient_id": pid, "ward_id": pid})
    audit_sql, audit_order = bare_sql(audit.INSERT, audit.values(None, "", at=datetime.now(UTC)))

    async def request() -> None:
        async with pool.acquire() as conn, conn.transaction():
            user = await conn.fetchrow(principal_sql, *principal_args)
            patient = await conn.fetchrow(patient_sql, pid, user["ward_id"])
            row = {
                "occurred_at": datetime.now(UTC),
                "actor_id": uid,
                "actor_role": user["role"],
                "action": "patient.read",
                "outcome": "allowed",
                "patient_id": pid,
                "ward_id": patient["ward_id"],
                "object_type": "patient",
                "object_id": patient_id,
                "request_id": uuid.uuid4().hex,
                "detail": "null",  # what the JSONB column receives for no detail
            }
            await conn.execute(audit_sql, *(row[name] for name in audit_order))

    return request


async def _bare_same_sql_request(pool: asyncpg.Pool, user_id: str, patient_id: str) -> Request:
    """What the API sends once its caller is cached: the audited read, committing on its own."""
    uid, pid = uuid.UUID(user_id), uuid.UUID(patient_id)
    ward_id = await pool.fetchval("SELECT ward_id FROM users WHERE id = $1", uid)
    # The statement's own constants (outcome, object type) are bound parameters too.
    params: dict[str, Any] = dict(
        STAFF_PATIENT_READ.compile(dialect=asyncpg_dialect.dialect()).params
    )
    params.update({"patient_id": pid, "ward_id": ward_id})
    params.update(audit.read_params(None, "patient.read", at=datetime.now(UTC)))
    read_sql, read_order = bare_sql(STAFF_PATIENT_READ, params)

    async def request() -> None:
        values = {
            **params,
            "audit_occurred_at": datetime.now(UTC),
            "audit_actor_id": uid,
            "audit_actor_role": "ward_staff",
            "audit_request_id": uuid.uuid4().hex,
            "audit_detail": "null",  # what the JSONB column receives for no detail
        }
        async with pool.acquire() as conn:
            row = await conn.fetchrow(read_sql, *(values[name] for name in read_order))
            assert row is not None

    return request


def _service_request(
    sessionmaker: async_sessionmaker[AsyncSession],
    token: str,
    patient_id: str,
    cache: PrincipalCache,
) -> Request:
    """What the route handler and its dependencies do, without HTTP or the web framework
    (the principal cache included, listening as the API's does)."""
    clock, pid = SystemClock(), uuid.UUID(patient_id)

    async def request() -> None:
        async with sessionmaker() as session:
            now = clock.now()
            caller = await principal_for_token(
                session, JWT_SECRET, token, now, uuid.uuid4().hex, cache
            )
            body = msgspec.json.encode(await read_patient(session, caller, pid, now))
            await session.commit()
            assert body

    return request


async def _interleaved(
    base_url: str, peer_url: str | None, db_url: str, user_id: str, patient_id: str, email: str
) -> dict[str, list[tuple[float, float]]]:
    """Rounds of API, bare and service in turn, so a shared machine's changing load hits all
    three alike."""
    rounds: dict[str, list[tuple[float, float]]] = {
        "api": [],
        "bare": [],
        "bare_same_sql": [],
        "service": [],
        "peer": [],
    }
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    pool = await asyncpg.create_pool(
        asyncpg_dsn(db_url), min_size=CONCURRENCY, max_size=CONCURRENCY
    )
    # Sized as the API's own pool, so both go through the same number of connections.
    engine = make_engine(db_url, pool_size=API_POOL_SIZE, max_overflow=0)
    try:
        async with aiohttp.ClientSession(base_url=base_url, connector=connector) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"email": email, "password": builders.PASSWORD}
            )
            token = (await login.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}

            async def api_request() -> None:
                async with http.get(f"/api/v1/patients/{patient_id}", headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"unexpected status {response.status}")

            async def peer_request() -> None:
                async with peer_http.get(
                    f"/api/v1/patients/{patient_id}", headers=headers
                ) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"peer answered {response.status}")

            peer_http = aiohttp.ClientSession(
                base_url=peer_url or base_url, connector=aiohttp.TCPConnector(limit=CONCURRENCY)
            )
            bare_request = _bare_request(pool, user_id, patient_id)
            bare_same_sql = await _bare_same_sql_request(pool, user_id, patient_id)
            cache = PrincipalCache()
            listener = asyncio.create_task(
                listen_forever(
                    db_url,
                    PRINCIPALS_CHANNEL,
                    cache.heard,
                    cache.listening_started,
                    cache.listening_stopped,
                )
            )
            # The sessions the API gives this route (db.engine.make_standalone_sessionmaker).
            standalone = make_standalone_sessionmaker(engine, db_url)
            assert standalone is not None, "the bench talks to PostgreSQL directly"
            service_request = _service_request(standalone, token, patient_id, cache)
            for _ in range(ROUNDS):
                rounds["api"].append(await _measure(api_request, ROUND_SECONDS))
                rounds["bare"].append(await _measure(bare_request, ROUND_SECONDS))
                rounds["bare_same_sql"].append(await _measure(bare_same_sql, ROUND_SECONDS))
                rounds["service"].append(await _measure(service_request, ROUND_SECONDS))
                if peer_url is not None:
                    rounds["peer"].append(await _measure(peer_request, ROUND_SECONDS))
            await peer_http.close()
            listener.cancel()
    finally:
        await pool.close()
        await engine.dispose()
    return rounds


def _start_peer(database_url: str, port: int) -> subprocess.Popen[bytes] | None:
    """The FastAPI + ORM peer under uvicorn with the same options as ours, if FastAPI is
    installed (a bench-only extra: `pip install fastapi`)."""
    try:
        import fastapi  # noqa: F401
    except ImportError:
        return None
    import httpx

    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": JWT_SECRET}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.peer_fastapi:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--no-server-header",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the FastAPI peer did not start")


def run() -> dict[str, Any]:
    with scratch_database() as db:
        user_id, patient_id, email = asyncio.run(_seed(db.url))
        port = free_port()
        api = start_api(db.url, port, JWT_SECRET)
        peer_port = free_port()
        peer = _start_peer(db.url, peer_port)
        peak_rss = 0
        stop = threading.Event()

        def sample_rss() -> None:
            nonlocal peak_rss
            process = psutil.Process(api.pid)
            while not stop.is_set():
                peak_rss = max(peak_rss, process.memory_info().rss)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        try:
            rounds = asyncio.run(
                _interleaved(
                    f"http://127.0.0.1:{port}",
                    f"http://127.0.0.1:{peer_port}" if peer is not None else None,
                    db.url,
                    user_id,
                    patient_id,
                    email,
                )
            )
        finally:
            stop.set()
            sampler.join()
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)
            if peer is not None:
                peer.send_signal(signal.SIGTERM)
                peer.wait(timeout=30)

    api_rps, api_p99 = max(rounds["api"])
    bare_rps, bare_p99 = max(rounds["bare"])
    service_rps, _ = max(rounds["service"])
    same_sql_rps, _ = max(rounds["bare_same_sql"])
    peer_rps = max(rounds["peer"])[0] if rounds["peer"] else None
    result: dict[str, Any] = {
        "name": "api_read (GET patient)",
        "concurrency": CONCURRENCY,
        "rounds": ROUNDS,
        "seconds_per_round": ROUND_SECONDS,
        "api_rps": round(api_rps, 1),
        "bare_rps": round(bare_rps, 1),
        "ratio": round(api_rps / bare_rps, 3),
        "aim": ">=0.35",
        "bare_same_sql_rps": round(same_sql_rps, 1),
        "api_over_bare_same_sql": round(api_rps / same_sql_rps, 3),
        "service_rps": round(service_rps, 1),
        "service_over_bare": round(service_rps / bare_rps, 3),
        "api_over_service": round(api_rps / service_rps, 3),
        "api_p99_ms": round(api_p99 * 1000, 2),
        "bare_p99_ms": round(bare_p99 * 1000, 2),
        "api_peak_rss_mib": round(peak_rss / 2**20, 1),
        "api_rounds_rps": [round(r, 1) for r, _ in rounds["api"]],
        "bare_rounds_rps": [round(r, 1) for r, _ in rounds["bare"]],
        "service_rounds_rps": [round(r, 1) for r, _ in rounds["service"]],
        # The same endpoint as most teams would write it (bench/peer_fastapi.py).
        "peer_fastapi_rps": round(peer_rps, 1) if peer_rps else None,
        "api_over_peer": round(api_rps / peer_rps, 3) if peer_rps else None,
        "peer_over_bare": round(peer_rps / bare_rps, 3) if peer_rps else None,
    }
    result["summary"] = (
        f"{result['api_rps']} rps vs bare asyncpg {result['bare_rps']} rps at {CONCURRENCY} "
        f"connections; p99 {result['api_p99_ms']} ms; peak RSS {result['api_peak_rss_mib']} MiB; "
        f"service layer without HTTP {result['service_rps']} rps "
        f"({result['service_over_bare']} of bare); bare with our SQL now "
        f"{result['bare_same_sql_rps']} rps (ours {result['api_over_bare_same_sql']} of it)"
        + (
            f"; FastAPI+ORM peer {result['peer_fastapi_rps']} rps (ours/peer "
            f"{result['api_over_peer']})"
            if peer_rps
            else "; FastAPI peer not installed"
        )
    )
    result["file"] = str(write_result("api_read", result))
    return result


if __name__ == "__main__":
    print(run())
