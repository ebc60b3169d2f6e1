"""PostgreSQL goes away under a running API and worker, then comes back."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from api_tests import builders, pg
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.live_server import LiveServer
from db.models import JobHeartbeat
from jobs.worker import Worker
from service.app import create_app
from service.clock import SystemClock
from service.settings import Settings

pytestmark = pytest.mark.slow


async def _poll(fn, until, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last value {value!r}")
        await asyncio.sleep(0.2)


async def test_api_answers_503_while_the_database_is_down_and_recovers_by_itself(
    embedded_server, database_url, db, sessionmaker
):
    admin = await builders.user(db, "admin")
    await db.close()
    server = LiveServer(
        create_app(Settings(database_url=database_url, jwt_secret=TEST_JWT_SECRET))
    ).start()
    worker = Worker(sessionmaker, SystemClock(), 0.2)
    worker.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"email": admin.email, "password": builders.PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            assert (await http.get("/api/v1/me", headers=headers)).status_code == 200

            async def beats() -> int:
                async with sessionmaker() as session:
                    row = await session.get(JobHeartbeat, "heartbeat")
                    return row.runs if row else 0

            await _poll(beats, lambda n: n >= 1)

            await asyncio.to_thread(pg.stop_server, embedded_server)
            try:
                down = await http.get("/api/v1/me", headers=headers)
                assert down.status_code == 503
                assert down.headers["content-type"].startswith("application/problem+json")
                assert (await http.get("/health/ready")).status_code == 503
                assert (await http.get("/health/live")).status_code == 200
                await asyncio.sleep(1)  # the worker ticks against a dead database meanwhile
            finally:
                await asyncio.to_thread(pg.start_server, embedded_server)

            async def me() -> int:
                return (await http.get("/api/v1/me", headers=headers)).status_code

            await _poll(me, lambda code: code == 200)
            before = await beats()
            await _poll(beats, lambda n: n > before)
    finally:
        await worker.stop()
        server.stop()
