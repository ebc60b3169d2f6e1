"""The outcomes page: the ward's measures as a bar chart drawn on the server (SVG), and the
cross-ward table for those allowed to compare wards. Figures come from service.reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template

from service.http.auth import ADMIN, WARD
from service.http.params import Caller, ClockDep, Db, Res
from service.reports.schemas import Measure
from service.reports.service import comparison, ward_report
from service.wards.service import list_wards
from service.web.common import page, render

CHART_WIDTH = 800
LABEL_WIDTH = 380
BAR_HEIGHT = 22
BAR_GAP = 10


@dataclass(frozen=True)
class Bar:
    label: str
    percent: float
    y: int
    width: float
    target_x: float | None
    below_target: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    plot_width: int
    bars: list[Bar]


def rate_chart(measures: list[Measure]) -> Chart:
    """Horizontal bars for every measure that is a rate (0-100 %), with its target marked."""
    plot = CHART_WIDTH - LABEL_WIDTH - 60
    bars: list[Bar] = []
    for item in measures:
        if item.unit != "ratio" or item.rate is None:
            continue
        y = len(bars) * (BAR_HEIGHT + BAR_GAP)
        target_x = LABEL_WIDTH + item.target * plot if item.target is not None else None
        bars.append(
            Bar(
                label=item.label,
                percent=round(item.rate * 100, 1),
                y=y,
                width=max(item.rate * plot, 1.0),
                target_x=target_x,
                below_target=item.target is not None and item.rate < item.target,
            )
        )
    height = max(len(bars) * (BAR_HEIGHT + BAR_GAP), BAR_HEIGHT)
    return Chart(CHART_WIDTH, height, LABEL_WIDTH, plot, bars)


def figure(item: Measure) -> str:
    """One cell of the table: a rate as a percentage, a median or mean with its unit, or a count."""
    if item.unit == "ratio":
        if item.rate is None:
            return "no data"
        return f"{item.rate * 100:.0f}% ({item.numerator}/{item.denominator})"
    if item.value is not None:
        return f"{item.value:.1f} {item.unit}"
    if item.numerator is not None:
        return str(item.numerator)
    return str(item.denominator) if item.unit == "count" else "no data"


class OutcomesPages(Controller):
    path = "/board/outcomes"
    include_in_schema = False
    opt = page(WARD, ADMIN)

    @get("/")
    async def outcomes(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
    ) -> Template:
        now = clock.now()
        wards, _ = await list_wards(db, caller, None, 200)
        if caller.is_admin and ward_id is None and wards:
            ward_id = wards[0].id
        report = await ward_report(db, caller, ward_id, None, None, now) if wards else None
        compare = None
        if caller.is_admin or caller.is_ward_manager:
            compare = await comparison(db, caller, None, None, now)
        return await render(
            request,
            res,
            db,
            caller,
            "outcomes.html",
            wards=wards,
            report=report,
            chart=rate_chart(report.measures) if report else None,
            compare=compare,
            figure=figure,
        )
