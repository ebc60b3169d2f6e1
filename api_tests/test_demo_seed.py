"""`homeward seed-demo` as a newcomer runs it: every outcome measure then has figures to show.

The command runs as a real process against a fresh database (with the real clock); the
report is then read through the app, its clock set to the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.base import Base
from db.models import (
    CheckIn,
    FollowUp,
    OutboxMessage,
    PromSurvey,
    Referral,
    SupportAction,
    User,
    Ward,
)
from service.clock import ManualClock
from service.patient_access.agencies import readable_patient_scopes
from service.patient_access.referral_sharing import sharing
from service.referrals.access import readable_referrals

pytestmark = pytest.mark.slow

# The 3-month DIALOG survey is due 91 days after discharge, so a window of six months is the
# shortest that holds discharges whose 3-month answers are in.
PERIOD_DAYS = 180
# Measures that are a median or mean carry their figure in `value`; the rest are ratios.
# Every ratio must have something counted above the line, except where "nothing" is the
# plausible answer for a small demo and the figure is still worth showing as 0.
ALLOWED_ZERO_NUMERATOR: set[str] = set()


def _seed(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": "j" * 40}
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", "seed-demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


async def _row_counts(db: AsyncSession) -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        counts[table.name] = int(await db.scalar(select(func.count()).select_from(table)) or 0)
    return counts


def _check_measure(item: dict[str, Any]) -> list[str]:
    key = item["key"]
    problems = []
    if item["denominator"] <= 0:
        problems.append(f"{key}: denominator {item['denominator']}")
    if not item["record_ids"]:
        problems.append(f"{key}: no record ids")
    if item["unit"] in ("hours", "minutes", "score"):
        if item["value"] is None:
            problems.append(f"{key}: no value")
        elif item["unit"] == "score" and "_mean." in key and not 1 <= item["value"] <= 7:
            problems.append(f"{key}: mean {item['value']} outside 1-7")
        elif item["unit"] != "score" and item["value"] <= 0:
            problems.append(f"{key}: value {item['value']}")
    elif key not in ALLOWED_ZERO_NUMERATOR and not item["numerator"]:
        problems.append(f"{key}: numerator {item['numerator']}")
    return problems


async def _nothing_stale_left(db: AsyncSession, now: datetime) -> None:
    """History is history: the worker must not find months-old texts to send or clocks to run."""
    day_ago = now - timedelta(days=1)
    queued = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.created_at < day_ago)
    )
    open_check_ins = await db.scalar(
        select(func.count()).select_from(CheckIn).where(CheckIn.next_action_at < day_ago)
    )
    pending = await db.scalar(
        select(func.count())
        .select_from(FollowUp)
        .where(FollowUp.status == "pending", FollowUp.due_at < now)
    )
    surveys = await db.scalar(
        select(func.count())
        .select_from(PromSurvey)
        .where(PromSurvey.next_action_at < now - timedelta(days=3))
    )
    assert (queued, open_check_ins, pending, surveys) == (0, 0, 0, 0)


async def _the_agency_worker_has_work(db: AsyncSession, now: datetime) -> None:
    """The demo agency worker has referrals to answer (with consent), patients to see within
    scope and support actions logged; one referral shows the consent rule (closed when the
    patient withdrew consent). Every referral went with a consent (the send rule)."""
    worker = await db.scalar(select(User).where(User.email == "housing@homeward.local"))
    assert worker is not None
    principal = builders.principal(worker)
    shown = await db.execute(
        readable_referrals(principal, now).with_only_columns(
            Referral.status, Referral.closed_reason, sharing(now)
        )
    )
    seen = [tuple(row) for row in shown.all()]
    assert ("pending", None, "in_force") in seen
    assert ("withdrawn", "consent_ended", "ended") in seen
    assert not any(s == "none" for *_, s in seen)
    visible = await db.scalar(
        select(func.count()).select_from(readable_patient_scopes(principal, now).subquery())
    )
    assert visible
    assert await db.scalar(select(func.count()).select_from(SupportAction))


async def test_seed_demo_fills_every_measure_and_runs_again_without_change(
    database_url: str,
    db: AsyncSession,
    client: AsyncTestClient[Litestar],
    app: Litestar,
    clock: ManualClock,
) -> None:
    first = _seed(database_url)
    assert first.returncode == 0, first.stderr
    clock.set(datetime.now(UTC))
    counts = await _row_counts(db)
    assert counts["patients"] >= 20 and counts["escalation_events"] > 0
    await _nothing_stale_left(db, clock.now())

    manager = await db.scalar(select(User).where(User.email == "manager@homeward.local"))
    assert manager is not None
    ward = await db.scalar(select(Ward).where(Ward.name == "Demo Recovery Ward"))
    assert ward is not None and manager.ward_id == ward.id
    now = clock.now()
    period = {
        "ward_id": str(ward.id),
        "from": (now - timedelta(days=PERIOD_DAYS)).isoformat(),
        "to": now.isoformat(),
    }
    headers = builders.bearer(app, manager)
    r = await client.get("/api/v1/reports/outcomes", params=period, headers=headers)
    assert r.status_code == 200, r.text
    measures = r.json()["measures"]
    problems = [p for item in measures for p in _check_measure(item)]
    assert not problems, "\n".join(problems)
    keys = {m["key"] for m in measures}
    assert any(k.startswith("referrals.declined_by_reason.") for k in keys)

    # The default 90 days shows everything but the 3-month survey scores.
    r = await client.get(
        "/api/v1/reports/outcomes", params={"ward_id": str(ward.id)}, headers=headers
    )
    recent = [
        p
        for item in r.json()["measures"]
        if ".3_months" not in item["key"]
        for p in _check_measure(item)
    ]
    assert not recent, "\n".join(recent)

    span = {k: v for k, v in period.items() if k != "ward_id"}
    r = await client.get("/api/v1/reports/outcomes/wards", params=span, headers=headers)
    assert r.status_code == 200, r.text
    wards = r.json()["wards"]
    assert len(wards) >= 2
    for other in wards:
        figures = {m["key"]: m for m in other["measures"]}
        assert figures["follow_up.within_deadline"]["denominator"] > 0, other["ward_name"]
        assert figures["check_ins.response_rate"]["denominator"] > 0, other["ward_name"]

    await _the_agency_worker_has_work(db, clock.now())
    # Outcomes over time (issue 22): a special-cause signal, and a ward outside a funnel limit.
    r = await client.get(
        "/api/v1/reports/outcomes/series", params={"measure": "follow_up"}, headers=headers
    )
    assert r.status_code == 200, r.text
    signals = {k for s in r.json()["series"] for p in s["points"] for k in p["signals"]}
    assert signals, "no special-cause signal in the demo's follow-up series"
    r = await client.get(
        "/api/v1/reports/outcomes/funnel", params={"measure": "follow_up"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert any(w["position"] not in ("within", None) for w in r.json()["wards"]), r.text

    # Counted again here: reading the reports above added their own audit rows.
    counts = await _row_counts(db)
    second = _seed(database_url)
    assert second.returncode == 0, second.stderr
    assert "password:" not in second.stdout
    db.expire_all()
    assert await _row_counts(db) == counts
