"""Real `homeward worker` processes side by side, and one killed mid-send: every due item is
handled exactly once, and no text leaves twice.

The workers run on the system clock, so everything is arranged due relative to now, with
contact windows open all day (start == end) in UTC.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from api_tests import builders
from api_tests.fake_twilio import FakeTwilio
from api_tests.sms_helpers import staff_notice
from api_tests.worker_procs import start_worker, stop_worker, worker_env
from db.models import (
    AuditEvent,
    CheckIn,
    Escalation,
    EscalationEvent,
    FollowUp,
    OutboxMessage,
)
from service.wards.schemas import EscalationPolicy

pytestmark = pytest.mark.slow

ON_CALL = "+442079460777"


def _all_day() -> dict[str, Any]:
    """Open all day in UTC (start == end), so the system clock never meets quiet hours."""
    return {"timezone": "UTC", "contact_window_start": wall(0), "contact_window_end": wall(0)}


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio(slow_seconds=1.0).start()
    yield fake
    await fake.stop()


@pytest.fixture
def procs(tmp_path: Path) -> Any:
    """Started worker processes; any still running at the end are killed (never leaked)."""
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


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def _outbox_id(message: Any) -> str:
    """The outbox row a Twilio message came from: its status callback URL names it."""
    return parse_qs(urlsplit(message.status_callback).query)["outbox_id"][0]


async def _check_in(db, patient_id: uuid.UUID, now: datetime) -> CheckIn:
    row = CheckIn(
        patient_id=patient_id,
        kind="extra",
        due_at=now - timedelta(minutes=2),
        next_action_at=now - timedelta(minutes=1),
        status="scheduled",
        reply_window_minutes=240,
        reminder_after_minutes=120,
    )
    db.add(row)
    return row


async def test_two_workers_handle_every_due_item_exactly_once(
    db, database_url, twilio, procs, tmp_path
):
    now = datetime.now(UTC)
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    # 150 escalations past their level-1 deadline (level 2 is the on-call line).
    climbing: list[Escalation] = []
    for _ in range(150):
        patient = await builders.home_patient(db, ward.id, **_all_day())
        row = Escalation(
            patient_id=patient.id,
            ward_id=ward.id,
            reason="no_reply",
            severity="routine",
            level=1,
            status="open",
            source_type="test",
            source_id=str(uuid.uuid4()),
            opened_at=now - timedelta(hours=5),
            ack_due_at=now - timedelta(minutes=1),
            created_at=now - timedelta(hours=5),
            updated_at=now - timedelta(hours=5),
        )
        db.add(row)
        climbing.append(row)
    # 100 check-ins due for their prompt.
    prompted: list[CheckIn] = []
    for _ in range(100):
        patient = await builders.home_patient(db, ward.id, **_all_day())
        prompted.append(await _check_in(db, patient.id, now))
    await db.commit()
    # 50 follow-ups past their 72 hours.
    breached: list[FollowUp] = []
    for _ in range(50):
        patient = await builders.home_patient(db, ward.id, **_all_day())
        _, follow_up = await builders.past_stay(
            db,
            patient.id,
            admitted_at=now - timedelta(days=20),
            discharged_at=now - timedelta(hours=73),
        )
        assert follow_up is not None
        breached.append(follow_up)
    climbing_ids = {e.id for e in climbing}
    prompted_ids = [c.id for c in prompted]
    breached_ids = [str(f.id) for f in breached]
    expected_texts = 150 + 100 + 50

    env = worker_env(database_url, twilio, data_dir=tmp_path / "data")
    workers = [procs(env, "worker-a"), procs(env, "worker-b")]

    async def all_sent() -> bool:
        for proc in workers:
            assert proc.poll() is None, "a worker exited early"
        statuses = dict(
            (
                await db.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                )
            ).all()
        )
        await db.rollback()
        return statuses == {"sent": expected_texts}

    await _until(all_sent, 120, "every text to be sent")
    # A few more ticks: anything handled twice would show up now.
    await asyncio.sleep(2)
    assert [await stop_worker(p) for p in workers] == [0, 0]

    escalations = {
        e.id: e
        for e in (
            await db.scalars(select(Escalation).execution_options(populate_existing=True))
        ).all()
    }
    for escalation_id in climbing_ids:
        assert escalations[escalation_id].level == 2
        assert escalations[escalation_id].ack_due_at > now
    events = Counter(
        (r.escalation_id, r.kind)
        for r in (
            await db.execute(select(EscalationEvent.escalation_id, EscalationEvent.kind))
        ).all()
    )
    for escalation_id in climbing_ids:
        assert events[(escalation_id, "climbed")] == 1
        assert events[(escalation_id, "notified")] == 1
    climbs = await db.scalar(select(func.count()).where(AuditEvent.action == "escalation.climb"))
    assert climbs == 150

    # Each breach raised one escalation (opened once, announced once) and climbed nothing.
    # With no key worker to text, the announcement went to level 2 (the on-call line), and
    # the escalation stands there.
    raised = [e for e in escalations.values() if e.id not in climbing_ids]
    assert sorted(e.source_id for e in raised) == sorted(breached_ids)
    assert all(e.level == 2 and e.reason == "follow_up_due" for e in raised)
    for e in raised:
        assert events[(e.id, "opened")] == 1
        assert events[(e.id, "notified")] == 1
        assert events[(e.id, "climbed")] == 0
    follow_ups = (
        await db.scalars(select(FollowUp).execution_options(populate_existing=True))
    ).all()
    assert {f.status for f in follow_ups} == {"breached"}

    check_ins = (await db.scalars(select(CheckIn).execution_options(populate_existing=True))).all()
    assert {c.status for c in check_ins} == {"sent"}

    rows = (await db.scalars(select(OutboxMessage))).all()
    assert Counter(r.purpose for r in rows) == {
        "escalation_notice": 200,
        "checkin_prompt": 100,
    }
    assert Counter(r.check_in_id for r in rows if r.check_in_id) == dict.fromkeys(prompted_ids, 1)
    # Twilio saw each outbox row once, and no recipient got the same text twice.
    assert len(twilio.creates) == expected_texts
    assert Counter(_outbox_id(m) for m in twilio.accepted) == {str(r.id): 1 for r in rows}
    assert len({(m.to, m.body) for m in twilio.accepted}) == expected_texts
    notices = Counter(m.body for m in twilio.sent_to(ON_CALL))
    for escalation in escalations.values():
        notice = staff_notice(
            escalation,
            level=escalation.level,
            reason=escalation.reason.replace("_", " "),
            severity="routine",
        )
        assert notices[notice] == 1


async def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    db, database_url, twilio, procs, tmp_path
):
    now = datetime.now(UTC)
    # No on-call or crisis line: the only texts are the patients' prompts.
    ward = await builders.ward(db)
    patients = []
    for _ in range(400):
        patient = await builders.home_patient(db, ward.id, **_all_day())
        patients.append(patient)
        await _check_in(db, patient.id, now)
    await db.commit()
    # Every create is answered slowly, so the kill lands with sends in flight.
    twilio.fail_next("slow", times=100_000)
    env = worker_env(database_url, twilio, data_dir=tmp_path / "data")
    first = procs(env, "worker-killed")

    async def some_sent() -> bool:
        assert first.poll() is None, "the first worker exited early"
        return len(twilio.creates) >= 60

    await _until(some_sent, 90, "the first sends to reach Twilio")
    first.kill()
    first.wait(timeout=10)
    twilio.slow_seconds = 0.01

    stranded = Counter(
        (
            await db.execute(select(OutboxMessage.status).execution_options(populate_existing=True))
        ).scalars()
    )
    await db.rollback()
    assert stranded["sending"] > 0, stranded  # the kill did land mid-send

    # The dead worker's leases would run out minutes from now; let that time pass at once.
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.lease_until.is_not(None))
        .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    second = procs(env, "worker-second")

    async def settled() -> bool:
        assert second.poll() is None, "the second worker exited early"
        statuses = Counter((await db.execute(select(OutboxMessage.status))).scalars())
        await db.rollback()
        return sum(statuses.values()) == 400 and set(statuses) <= {"sent", "unknown"}

    await _until(settled, 120, "every prompt to be sent or marked unknown")
    await asyncio.sleep(1.5)
    assert await stop_worker(second) == 0

    rows = (await db.scalars(select(OutboxMessage).execution_options(populate_existing=True))).all()
    check_ins = (await db.scalars(select(CheckIn).execution_options(populate_existing=True))).all()
    # Nothing lost: every check-in was prompted once, with one outbox row.
    assert {c.status for c in check_ins} == {"sent"}
    assert sorted(r.dedupe_key for r in rows) == sorted(f"checkin:{c.id}:prompt" for c in check_ins)
    by_row = Counter(_outbox_id(m) for m in twilio.accepted)
    # Nothing twice: no row reached Twilio more than once, no patient got two prompts.
    assert max(by_row.values()) == 1
    assert Counter(m.to for m in twilio.accepted).most_common(1)[0][1] == 1
    sent = [r for r in rows if r.status == "sent"]
    unknown = [r for r in rows if r.status == "unknown"]
    assert len(sent) + len(unknown) == 400
    assert all(by_row[str(r.id)] == 1 and r.sid is not None for r in sent)
    # The ambiguous ones (in flight at the kill) were never resent; they wait to be confirmed.
    assert unknown, "the kill should leave sends whose fate is unknown"
    unknown_ids = sorted(str(r.id) for r in unknown)
    assert all(r.attempts == 1 and r.sid is None and r.check_due_at is not None for r in unknown)
    assert sum(by_row[str(r.id)] for r in unknown) <= len(unknown)

    # When nobody can confirm them, staff are told (one escalation each), and still no resend.
    creates_before = len(twilio.creates)
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "unknown")
        .values(check_due_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    third = procs(env, "worker-confirm")

    async def staff_told() -> bool:
        count = await db.scalar(select(func.count()).where(Escalation.reason == "undeliverable"))
        await db.rollback()
        return count == len(unknown_ids)

    await _until(staff_told, 60, "an undeliverable escalation per unconfirmed send")
    assert await stop_worker(third) == 0
    raised = (await db.scalars(select(Escalation.source_id))).all()
    assert sorted(raised) == unknown_ids
    assert len(twilio.creates) == creates_before
