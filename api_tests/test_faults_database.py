"""PostgreSQL goes away under a running API and worker, then comes back."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from api_tests import builders, pg
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.live_server import LiveServer
from db.models import Escalation, EscalationEvent, JobHeartbeat, Patient
from jobs.worker import Worker
from service.app import create_app
from service.clock import SystemClock
from service.escalations.service import raise_escalation
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
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id)
    await db.close()
    app = create_app(Settings(database_url=database_url, jwt_secret=TEST_JWT_SECRET))
    server = LiveServer(app).start()
    worker = Worker(sessionmaker, SystemClock(), 0.2)
    worker.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            headers = builders.bearer(app, admin)
            assert (await http.get("/api/v1/me", headers=headers)).status_code == 200

            async def beats() -> int:
                async with sessionmaker() as session:
                    row = await session.get(JobHeartbeat, "heartbeat")
                    return row.runs if row else 0

            await _poll(beats, lambda n: n >= 1)

            nurse_headers = {
                **builders.bearer(app, nurse),
                "Idempotency-Key": "register-during-outage",
            }
            body = builders.patient_body()
            # Falls due a moment after the database goes away (urgent level 1: 15 minutes to
            # acknowledge): the ladder must climb it once the database is back.
            async with sessionmaker() as session:
                due = await raise_escalation(
                    session,
                    patient_id=patient.id,
                    ward_id=ward.id,
                    reason="help_request",
                    severity="urgent",
                    source_type="test",
                    source_id="during-outage",
                    now=datetime.now(UTC) - timedelta(minutes=15) + timedelta(milliseconds=500),
                )
                await session.commit()  # survives the stop below (pg.stop_server flushes)

            await asyncio.to_thread(pg.stop_server, embedded_server)
            try:
                down = await http.get("/api/v1/me", headers=headers)
                assert down.status_code == 503
                assert down.headers["content-type"].startswith("application/problem+json")
                refused = await http.post("/api/v1/patients", json=body, headers=nurse_headers)
                assert refused.status_code == 503
                assert (await http.get("/health/ready")).status_code == 503
                assert (await http.get("/health/live")).status_code == 200
                await asyncio.sleep(1)  # the worker ticks against a dead database meanwhile
                assert datetime.now(UTC) > due.ack_due_at  # it fell due during the outage
            finally:
                await asyncio.to_thread(pg.start_server, embedded_server)

            async def me() -> int:
                return (await http.get("/api/v1/me", headers=headers)).status_code

            await _poll(me, lambda code: code == 200)
            before = await beats()
            await _poll(beats, lambda n: n > before)

            # Nothing half-written: the registration refused during the outage was not kept,
            # and the client's retry with the same key registers the patient exactly once.
            retried = await http.post("/api/v1/patients", json=body, headers=nurse_headers)
            assert retried.status_code == 201, retried.text
            again = await http.post("/api/v1/patients", json=body, headers=nurse_headers)
            assert again.headers.get("Idempotent-Replayed") == "true"
            assert again.json()["id"] == retried.json()["id"]

            # Nothing lost: the escalation that fell due during the outage climbed once.
            async def level() -> int:
                async with sessionmaker() as session:
                    row = await session.get(Escalation, due.id)
                    return row.level if row else 0

            await _poll(level, lambda n: n >= 2)
            async with sessionmaker() as session:
                climbs = await session.scalar(
                    select(func.count()).where(
                        EscalationEvent.escalation_id == due.id, EscalationEvent.kind == "climbed"
                    )
                )
                registered = await session.scalar(
                    select(func.count()).where(Patient.nhs_number == body["nhs_number"])
                )
            assert (climbs, registered) == (1, 1)
    finally:
        await worker.stop()
        server.stop()
