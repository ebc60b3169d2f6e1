"""The sweeps' due-claim statements read through their partial indexes, never the whole table.

100,000 rows in each swept table with only a few due, ANALYZEd; then each real claim function
is called once while its SQL is captured, and that exact statement (same binds) is EXPLAINed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from api_tests import bulk_rows
from db.engine import async_url, make_sessionmaker
from service.checkins import dispatch
from service.conversation.delivery import DELIVERY_HOOKS, STAFF_EMAIL_HOOKS
from service.email import outbox as email_outbox
from service.escalations import ladder, resolve_by
from service.follow_ups import service as follow_ups
from service.follow_ups import warnings
from service.health import sweeps
from service.referrals import unanswered
from service.replies import overdue as replies
from service.sms import outbox

pytestmark = pytest.mark.slow

ROWS = 100_000
DUE = 5
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}

Claim = Callable[[AsyncSession], Awaitable[Any]]


def _claim_batch(session: AsyncSession) -> Awaitable[Any]:
    return outbox.claim_batch(
        session, now=NOW, owner="explain", limit=200, lease=timedelta(minutes=5)
    )


def _claim_emails(session: AsyncSession) -> Awaitable[Any]:
    return email_outbox.claim_and_mark_sending(
        session, now=NOW, owner="explain", limit=20, lease=timedelta(minutes=5)
    )


# (table, the claim as the sweep calls it, the index it must read through)
CLAIMS: list[tuple[str, Claim, str]] = [
    ("escalations", lambda s: ladder.claim_due(s, NOW), "ix_escalations_ack_due_at_open"),
    (
        "escalations",
        lambda s: resolve_by.claim_overdue(s, NOW),
        "ix_escalations_resolve_due_at_acknowledged",
    ),
    ("check_ins", lambda s: dispatch.claim_due(s, NOW), "ix_check_ins_next_action_at_due"),
    ("follow_ups", lambda s: follow_ups.claim_overdue(s, NOW), "ix_follow_ups_due_at_pending"),
    ("follow_ups", lambda s: warnings.claim_warnable(s, NOW), "ix_follow_ups_due_at_unwarned"),
    ("follow_ups", lambda s: warnings.claim_half_time(s, NOW), "ix_follow_ups_due_at_unwarned"),
    (
        "follow_ups",
        lambda s: warnings.claim_unmonitored(s, NOW),
        "ix_follow_ups_due_at_unmonitored_unwarned",
    ),
    (
        "referrals",
        lambda s: unanswered.claim_unanswered(s, NOW),
        "ix_referrals_respond_by_unescalated",
    ),
    (
        "replies_to_read",
        lambda s: replies.claim_overdue(s, NOW),
        "ix_replies_to_read_read_due_at_unescalated",
    ),
    ("sms_outbox", _claim_batch, "ix_sms_outbox_next_attempt_at_queued"),
    (
        "sms_outbox",
        lambda s: outbox.expire_sending_leases(s, NOW),
        "ix_sms_outbox_lease_until_sending",
    ),
    # Not claims, but read on every metrics scrape: the oldest waiting text and escalation.
    (
        "sms_outbox",
        lambda s: sweeps.oldest_due_text(s, NOW),
        "ix_sms_outbox_next_attempt_at_queued",
    ),
    (
        "escalations",
        lambda s: sweeps.oldest_overdue_escalation(s, NOW),
        "ix_escalations_ack_due_at_open",
    ),
    ("staff_email_outbox", _claim_emails, "ix_staff_email_outbox_next_attempt_at_queued"),
    (
        "staff_email_outbox",
        lambda s: email_outbox.expire_sending_leases(s, STAFF_EMAIL_HOOKS, NOW),
        "ix_staff_email_outbox_lease_until_sending",
    ),
]


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions without the app's 30 s command timeout: that bound is for requests, and loading
    100,000 rows a table can pass it on a busy machine."""
    engine = create_async_engine(
        async_url(database_url),
        pool_size=2,
        connect_args={"command_timeout": 600, "server_settings": {"timezone": "UTC"}},
    )
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _fill(sessionmaker: Any) -> None:
    async with sessionmaker() as session:
        conn = await session.connection()
        await bulk_rows.base_rows(conn)
        for table in bulk_rows.TABLES:
            await bulk_rows.fill(conn, table, n=ROWS, due=DUE, now=NOW)
        await conn.exec_driver_sql("ANALYZE")
        await session.commit()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _captured(session: AsyncSession, claim: Claim) -> list[tuple[str, Any]]:
    """Every statement `claim` sends, with its parameters, as the driver received them."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = session.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", record)
    try:
        await claim(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        await session.rollback()
    return seen


async def _plan(session: AsyncSession, claim: Claim) -> dict[str, Any]:
    [(statement, parameters)] = await _captured(session, claim)
    conn = await session.connection()
    result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
    plan: dict[str, Any] = result.scalar_one()[0]["Plan"]
    await session.rollback()
    return plan


async def test_due_claims_read_through_their_partial_indexes(sessionmaker):
    # One test for all claims: filling the tables is the slow part, so it happens once.
    await _fill(sessionmaker)
    async with sessionmaker() as session:
        for table in bulk_rows.TABLES:
            assert await session.scalar(text(f"SELECT count(*) FROM {table}")) == ROWS
        problems = []
        for table, claim, index in CLAIMS:
            plan = await _plan(session, claim)
            scans = [
                (n["Node Type"], n.get("Index Name"), n.get("Relation Name")) for n in _nodes(plan)
            ]
            if not any(t in INDEX_SCANS and name == index for t, name, _ in scans):
                problems.append(f"{index} not used: {scans}")
            if any(t == "Seq Scan" and rel == table for t, _, rel in scans):
                problems.append(f"{table} read whole for {index}: {scans}")
        # And the claims themselves find exactly the few due rows.
        assert len(await ladder.claim_due(session, NOW)) == DUE
        assert len(await resolve_by.claim_overdue(session, NOW)) == DUE
        assert len(await dispatch.claim_due(session, NOW)) == DUE
        assert len(await follow_ups.claim_overdue(session, NOW)) == DUE
        assert len(await warnings.claim_warnable(session, NOW)) == DUE
        assert len(await unanswered.claim_unanswered(session, NOW)) == DUE
        assert len(await replies.claim_overdue(session, NOW)) == DUE
        assert len(await _claim_batch(session)) == DUE
        assert len(await _claim_emails(session)) == DUE
        await session.rollback()
    assert problems == []


async def test_daily_spend_count_reads_one_day_of_each_patients_sends(sessionmaker):
    """Marking a chunk `sending` counts each patient's last 24 h of sends (the daily cap):
    through the per-patient time index, not the patient's whole history of texts."""
    async with sessionmaker() as session:
        conn = await session.connection()
        await bulk_rows.base_rows(conn, patients=50)
        # Two texts a day for about 3 years per patient, all long since delivered.
        await conn.execute(
            text(
                """
                INSERT INTO sms_outbox (id, dedupe_key, recipient_kind, patient_id, ward_id,
                    purpose, to_number, body, status, attempts, lookups, created_at,
                    sending_started_at, sent_at, finished_at, updated_at)
                SELECT gen_random_uuid(), 'history:' || p.id || ':' || d, 'patient', p.id,
                       p.ward_id, 'checkin_prompt', p.mobile, 'Homeward check-in', 'delivered',
                       1, 0, t, t, t, t, t
                FROM patients p, generate_series(1, 2000) AS d,
                     LATERAL (SELECT CAST(:now AS timestamptz) - d * interval '12 hours') AS x(t)
                """
            ),
            {"now": NOW},
        )
        await conn.exec_driver_sql("ANALYZE")
        await session.commit()
        ids = list((await session.scalars(text("SELECT id FROM sms_outbox LIMIT 16"))).all())

        plan = await _plan(
            session,
            lambda s: outbox.mark_sending(
                s, DELIVERY_HOOKS, ids, "explain", NOW, timedelta(minutes=5)
            ),
        )

    used = {n.get("Index Name") for n in _nodes(plan)}
    assert "ix_sms_outbox_patient_id_sending_started_at" in used, used
    assert "ix_sms_outbox_patient_id_created_at_id" not in used, used
