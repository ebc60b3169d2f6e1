"""The system watches itself: poison rows set aside and paged once, /health/jobs, and the
sweep figures in the metrics (in-process, on the test's clock).

The killed-worker test with real processes is in test_sweep_watch_workers.py.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from api_tests import builders
from db.models import Escalation, JobHeartbeat, OutboxMessage, SweepItemFailure, Ward
from jobs.runner import JobMetrics
from jobs.schedule import JOBS
from jobs.worker import Worker
from service.app import create_app
from service.escalations import ladder
from service.health.sweeps import SWEEPS
from service.settings import Settings, SettingsError, load_settings
from service.wards.schemas import EscalationPolicy

ADMIN_MOBILE = "+447700900555"


async def _overdue_escalation(db, ward_id: uuid.UUID, now) -> uuid.UUID:
    patient = await builders.home_patient(db, ward_id)
    row = Escalation(
        id=uuid.uuid4(),
        patient_id=patient.id,
        ward_id=ward_id,
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
    await db.commit()
    return row.id


async def _poison_ward(db) -> Ward:
    """A ward whose on-call number was stored before numbers were checked: paging it breaks
    the outbox's E.164 constraint, so climbing any of its escalations fails every time."""
    ward = await builders.ward(db)
    policy = {**(ward.escalation_policy or {}), "on_call_phone": "07700 900123"}
    await db.execute(update(Ward).where(Ward.id == ward.id).values(escalation_policy=policy))
    await db.commit()
    await db.refresh(ward)
    return ward


async def test_a_row_failing_every_tick_is_set_aside_after_five_and_admins_paged_once(
    db, sessionmaker, clock
):
    await builders.user(db, "admin", mobile=ADMIN_MOBILE)
    await builders.user(db, "admin")  # no mobile: nobody to text
    poison = await _overdue_escalation(db, (await _poison_ward(db)).id, clock.now())
    healthy_ward = (
        await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone="+442079460111"))
    ).id
    metrics = JobMetrics()
    worker = Worker(sessionmaker, clock, 1, metrics=metrics)

    async def admin_pages() -> list[tuple[str, str, str]]:
        rows = await db.execute(
            select(OutboxMessage.recipient_kind, OutboxMessage.purpose, OutboxMessage.body).where(
                OutboxMessage.to_number == ADMIN_MOBILE
            )
        )
        found = [tuple(r) for r in rows.all()]
        await db.rollback()
        return found

    # Four ticks: the row fails each time and is counted; it is still claimed; nobody paged.
    for _ in range(4):
        clock.advance(timedelta(seconds=1))
        await worker.run_once("escalation_ladder")
    record = await db.scalar(select(SweepItemFailure))
    assert record is not None
    assert (record.item_kind, record.item_id, record.failures) == ("escalations", poison, 4)
    assert record.set_aside_at is None and record.last_error == "IntegrityError"
    assert await admin_pages() == []
    await db.rollback()

    # A healthy row meanwhile climbs as usual: the poison row does not hold the sweep up.
    healthy = await _overdue_escalation(db, healthy_ward, clock.now())

    # The fifth failure sets it aside and pages the admin with a mobile, once.
    clock.advance(timedelta(seconds=1))
    await worker.run_once("escalation_ladder")
    pages = await admin_pages()
    assert len(pages) == 1
    kind, purpose, body = pages[0]
    assert (kind, purpose) == ("staff", "sweep_set_aside")
    assert "escalation_ladder" in body and str(poison)[:8] in body
    record = await db.scalar(select(SweepItemFailure).execution_options(populate_existing=True))
    assert record is not None and record.failures == 5
    assert record.set_aside_at == clock.now()
    climbed = await db.get(Escalation, healthy, populate_existing=True)
    assert climbed is not None and climbed.level == 2
    await db.rollback()

    # Set aside: no longer claimed, never retried, never paged again.
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        await worker.run_once("escalation_ladder")
    assert len(await admin_pages()) == 1
    assert await db.scalar(select(SweepItemFailure.failures)) == 5
    assert poison not in {e.id for e in await ladder.claim_due(db, clock.now())}
    await db.rollback()
    stuck = await db.get(Escalation, poison, populate_existing=True)
    assert stuck is not None and stuck.level == 1  # left for a person, as the page says

    # Counted in this worker's metrics and on the heartbeat (all workers' totals).
    assert metrics.item_errors.labels("escalation_ladder")._value.get() == 5
    assert metrics.set_aside.labels("escalation_ladder")._value.get() == 1
    beat = await db.get(JobHeartbeat, "escalation_ladder")
    assert beat is not None and (beat.item_failures, beat.items_handled) == (5, 1)


async def test_a_row_that_succeeds_after_failing_starts_its_count_again(db, sessionmaker, clock):
    ward = await _poison_ward(db)
    ward_id, policy = ward.id, dict(ward.escalation_policy or {})
    row = await _overdue_escalation(db, ward_id, clock.now())
    worker = Worker(sessionmaker, clock, 1)
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        await worker.run_once("escalation_ladder")
    assert await db.scalar(select(SweepItemFailure.failures)) == 3
    await db.rollback()
    # Someone mends the number: the next tick climbs it and its failures are forgotten.
    policy["on_call_phone"] = "+442079460222"
    await db.execute(update(Ward).where(Ward.id == ward_id).values(escalation_policy=policy))
    await db.commit()
    clock.advance(timedelta(seconds=1))
    await worker.run_once("escalation_ladder")
    assert await db.scalar(select(func.count()).select_from(SweepItemFailure)) == 0
    mended = await db.get(Escalation, row, populate_existing=True)
    assert mended is not None and mended.level == 2


async def test_health_jobs_is_503_naming_stale_sweeps_and_200_when_all_ran_lately(
    client, sessionmaker, clock
):
    # Never run: every sweep is stale.
    response = await client.get("/health/jobs")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "stale"
    assert set(body["stale"]) == {
        "heartbeat",
        "inbound_spool",
        "checkins",
        "follow_ups",
        "referrals",
        "replies",
        "escalation_ladder",
        "escalation_resolve_by",
        "proms",
        "outbox",
        "staff_email",
    }
    # /health/ready is about the API itself and stays 200.
    assert (await client.get("/health/ready")).status_code == 200

    worker = Worker(sessionmaker, clock, 1)
    await worker.run_once()
    assert (await client.get("/health/jobs")).status_code == 200

    # The settings' interval is 1 s: three intervals later still fine, a little more is stale.
    clock.advance(timedelta(seconds=3))
    assert (await client.get("/health/jobs")).status_code == 200
    clock.advance(timedelta(seconds=1))
    await worker.run_once("outbox")
    response = await client.get("/health/jobs")
    assert response.status_code == 503
    assert sorted(response.json()["stale"]) == sorted(
        [
            "heartbeat",
            "inbound_spool",
            "checkins",
            "follow_ups",
            "referrals",
            "replies",
            "escalation_ladder",
            "escalation_resolve_by",
            "proms",
            "staff_email",
        ]
    )
    assert (await client.get("/health/ready")).status_code == 200


async def test_metrics_show_each_sweeps_figures_and_the_oldest_waiting_work(
    client, db, sessionmaker, clock
):
    ward = await builders.ward(db)
    await _overdue_escalation(db, (await _poison_ward(db)).id, clock.now())
    await builders.home_patient(db, ward.id)
    worker = Worker(sessionmaker, clock, 1)
    await worker.run_once()
    # A text due ten minutes ago and not yet sent (no SMS channel in this worker).
    patient = await builders.home_patient(db, ward.id)
    db.add(
        OutboxMessage(
            dedupe_key=f"test:{uuid.uuid4()}",
            recipient_kind="patient",
            patient_id=patient.id,
            ward_id=ward.id,
            purpose="ward_message",
            to_number="+447700900777",
            body="hello",
            status="queued",
            attempts=0,
            lookups=0,
            next_attempt_at=clock.now() - timedelta(minutes=10),
            created_at=clock.now() - timedelta(minutes=10),
            updated_at=clock.now() - timedelta(minutes=10),
        )
    )
    await db.commit()
    clock.advance(timedelta(seconds=2))

    samples = _samples((await client.get("/metrics")).text)
    ran_at = (clock.now() - timedelta(seconds=2)).timestamp()
    assert samples["homeward_sweep_last_success_timestamp_seconds", "checkins"] == ran_at
    assert samples["homeward_sweep_stale", "checkins"] == 0
    assert samples["homeward_sweep_item_errors_total", "escalation_ladder"] == 1
    assert samples["homeward_sweep_items_handled_total", "escalation_ladder"] == 0
    assert samples["homeward_sweep_items_handled_total", "heartbeat"] == 1
    assert samples["homeward_sweep_items_set_aside", "escalation_ladder"] == 0
    # Ten minutes and two seconds; the poison escalation, one minute past at the start.
    assert samples["homeward_outbox_oldest_due_age_seconds", ""] == 602
    assert samples["homeward_escalation_oldest_overdue_age_seconds", ""] == 62

    # An hour on with no sweep run, each reads stale.
    clock.advance(timedelta(hours=1))
    samples = _samples((await client.get("/metrics")).text)
    assert samples["homeward_sweep_stale", "checkins"] == 1


def _samples(text: str) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("sweep", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _banner_shown(html: str) -> bool:
    tag = re.search(r"<div[^>]*data-jobs-banner[^>]*>", html)
    assert tag is not None, "the page has no jobs banner"
    return " hidden" not in tag.group(0)


async def test_every_board_page_warns_alerts_may_be_delayed_while_sweeps_are_stale(
    app, client, db, sessionmaker, clock
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    admin = await builders.user(db, "admin")
    patient = (await builders.home_patient(db, ward.id)).id
    cookie = {"Cookie": f"homeward_session={builders.bearer(app, nurse)['Authorization'][7:]}"}
    admin_cookie = {
        "Cookie": f"homeward_session={builders.bearer(app, admin)['Authorization'][7:]}"
    }
    pages = [
        ("/board", cookie),
        (f"/board/patients/{patient}", cookie),
        ("/board/outcomes", admin_cookie),
    ]

    # No sweep has run: everyone is warned, on full pages and in the live fragments.
    for path, who in pages:
        page = await client.get(path, headers=who)
        assert page.status_code == 200, path
        assert _banner_shown(page.text), path
        assert "Alerts may be delayed" in page.text
    for path in ("/board/live", f"/board/patients/{patient}/live"):
        fragment = await client.get(path, headers=cookie)
        assert fragment.status_code == 200, path
        assert 'data-jobs-stale="1"' in fragment.text, path

    await Worker(sessionmaker, clock, 1).run_once()
    for path, who in pages:
        assert not _banner_shown((await client.get(path, headers=who)).text), path
    assert 'data-jobs-stale="0"' in (await client.get("/board/live", headers=cookie)).text

    # The worker stops: a few intervals later the warning is back.
    clock.advance(timedelta(seconds=4))
    assert _banner_shown((await client.get("/board", headers=cookie)).text)
    assert 'data-jobs-stale="1"' in (await client.get("/board/live", headers=cookie)).text


def test_health_expects_exactly_the_sweeps_the_worker_runs():
    assert [(j.name, j.every) for j in JOBS] == list(SWEEPS.items())


async def test_health_jobs_is_503_unknown_when_the_database_is_unreachable(clock):
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", jwt_secret="s" * 40)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        response = await client.get("/health/jobs")
    assert response.status_code == 503
    assert response.json()["status"] == "unknown" and response.json()["database"] is False


def test_worker_metrics_port_is_read_and_checked():
    assert load_settings({}).worker_metrics_port is None
    assert load_settings({"WORKER_METRICS_PORT": "9464"}).worker_metrics_port == 9464
    with pytest.raises(SettingsError, match="WORKER_METRICS_PORT must be a number"):
        load_settings({"WORKER_METRICS_PORT": "metrics"})
