"""Outcome series and funnel through the API, against real PostgreSQL.

Clock: 2026-12-01T09:00Z. Ward A has follow-ups in May-November 2026 (none in June); ward B
only in November. Every figure below is counted by hand from the seed."""

from __future__ import annotations

import csv
import io
import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from api_tests.test_reports import discharged
from db.models import AuditEvent

SERIES = "/api/v1/reports/outcomes/series"
FUNNEL = "/api/v1/reports/outcomes/funnel"
PERIOD = {"from": "2026-05-01T00:00:00+01:00", "to": "2026-12-01T00:00:00Z"}


async def _follow_up(db: AsyncSession, ward_id: uuid.UUID, day: str, met: bool) -> uuid.UUID:
    # Discharged at noon on `day`; due 72 h later; met = contact after 24 h, else none.
    d = day + "T12:00:00Z"
    due = day[:8] + f"{int(day[8:]) + 3:02d}T12:00:00Z"
    done = day[:8] + f"{int(day[8:]) + 1:02d}T12:00:00Z" if met else None
    row = await discharged(
        db, ward_id, d, due_at=due, completed_at=done, status=None if met else "breached"
    )
    follow_up_id: uuid.UUID = row.follow_up.id
    return follow_up_id


async def test_series_and_funnel_by_hand(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    a = await builders.ward_team(db, app)
    b = await builders.ward_team(db, app)
    wa, wb = a.ward.id, b.ward.id
    may = [
        await _follow_up(db, wa, "2026-05-10", True),
        await _follow_up(db, wa, "2026-05-12", True),
    ]
    jul = [
        await _follow_up(db, wa, "2026-07-10", True),
        await _follow_up(db, wa, "2026-07-12", False),
    ]
    for month in ("08", "09", "10", "11"):
        await _follow_up(db, wa, f"2026-{month}-10", True)
    nov_b = [
        await _follow_up(db, wb, "2026-11-10", True),
        await _follow_up(db, wb, "2026-11-11", False),
        await _follow_up(db, wb, "2026-11-12", False),
    ]

    r = await client.get(
        SERIES, params={**PERIOD, "measure": "follow_up"}, headers=a.manager_headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target"] == 0.8 and body["grain"] == "month"
    by = {s["ward_id"]: s for s in body["series"]}
    mine, theirs, trust = by[str(wa)], by[str(wb)], by[None]
    assert [p["period"] for p in mine["points"]] == [f"2026-{m:02d}-01" for m in range(5, 12)]
    assert [(p["numerator"], p["denominator"]) for p in mine["points"]] == [
        (2, 2), (0, 0), (1, 2), (1, 1), (1, 1), (1, 1), (1, 1)
    ]  # fmt: skip
    june = mine["points"][1]
    assert june["value"] is None and june["centre"] is None and june["signals"] == []
    assert mine["points"][0]["numerator_ids"] == [str(i) for i in may]
    assert set(mine["points"][2]["record_ids"]) == {str(i) for i in jul}
    # p-prime centre: 7 met of 8 = 0.875.
    assert mine["chart"] == "pprime" and mine["centre"] == 0.875
    # Another ward's records are not shown to this ward's manager; the trust has none.
    assert all(p["record_ids"] is None for p in theirs["points"])
    assert all(p["record_ids"] is None for p in trust["points"])
    assert (trust["points"][-1]["numerator"], trust["points"][-1]["denominator"]) == (2, 4)
    assert theirs["points"][-1]["value"] == 0.3333

    # XmR on request: centre = mean of the six monthly rates with data:
    # (1 + 0.5 + 1 + 1 + 1 + 1) / 6 = 0.9167.
    r = await client.get(
        SERIES,
        params={**PERIOD, "measure": "follow_up", "chart": "xmr", "ward_id": str(wa)},
        headers=a.nurse_headers,
    )
    assert r.status_code == 200, r.text
    (mine_x, _trust) = r.json()["series"]
    assert mine_x["chart"] == "xmr" and mine_x["centre"] == 0.9167

    # Another ward's nurse: 404 for ward A, audited like any read.
    r = await client.get(
        SERIES, params={**PERIOD, "measure": "follow_up", "ward_id": str(wa)},
        headers=b.nurse_headers,
    )  # fmt: skip
    assert r.status_code == 404
    r = await client.get(
        SERIES, params={**PERIOD, "measure": "nonsense"}, headers=a.manager_headers
    )
    assert r.status_code in (400, 422)
    r = await client.get(
        SERIES,
        params={**PERIOD, "measure": "follow_up", "baseline_from": "2026-11-01T00:00:00Z"},
        headers=a.manager_headers,
    )
    assert r.status_code == 422  # one period cannot set limits

    # The CSV carries the series: one row per ward (2) and the trust, per month (7).
    r = await client.get(
        SERIES, params={**PERIOD, "measure": "follow_up", "format": "csv"},
        headers=a.manager_headers,
    )  # fmt: skip
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:6] == ["ward", "measure", "period", "numerator", "denominator", "value"]
    assert len(rows) == 1 + 3 * 7

    # Funnel over November: A 1/1, B 1/3 -> trust 2/4 = 0.5.
    nov = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    r = await client.get(FUNNEL, params={**nov, "measure": "follow_up"}, headers=a.nurse_headers)
    assert r.status_code == 403
    r = await client.get(FUNNEL, params={**nov, "measure": "follow_up"}, headers=a.manager_headers)
    assert r.status_code == 200, r.text
    f = r.json()
    assert (f["numerator"], f["denominator"], f["trust_rate"]) == (2, 4, 0.5)
    fw = {w["ward_id"]: w for w in f["wards"]}
    # B: n = 3, sd = sqrt(0.25 / 3) = 0.288675; 95% 0.5 -/+ 0.565803 -> 0 .. 1 (clipped).
    assert (fw[str(wb)]["lower_95"], fw[str(wb)]["upper_95"]) == (0.0, 1.0)
    assert fw[str(wb)]["position"] == "within" and fw[str(wb)]["reading"] is None
    r = await client.get(
        FUNNEL, params={**nov, "measure": "dialog_change"}, headers=a.manager_headers
    )
    assert r.status_code == 422
    assert nov_b

    actions = set(
        await db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == a.manager.id))
    )
    assert {"report.outcomes_series", "report.outcomes_funnel"} <= actions
