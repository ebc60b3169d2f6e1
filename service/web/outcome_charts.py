"""Outcomes over time: a measure's process-behaviour chart (SVG drawn here, a table behind
it), the funnel plot of wards, the records behind a point, good practice a ward can adopt,
and listening (FFT, comments, "You said, we did"). Every figure comes from the same service
functions the API calls (service.reports.series / listening, service.wards.practice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import InvalidInput
from service.feedback.schemas import ListeningReport, YouSaidIn
from service.http.auth import ADMIN, WARD
from service.http.params import Caller, ClockDep, Db, Res
from service.http.state import AppResources
from service.principal import Principal
from service.reports import listening, series
from service.reports.schemas import FunnelReport, Series, SeriesReport
from service.reports.spc import funnel_limits
from service.wards import practice
from service.wards.service import list_wards
from service.web.common import back_to, form_of, page, render, uuid_field, ward_zone
from service.web.forms import Form, attempt, blank_to_none, parse

W, H = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56
SIGNAL_TEXT = {
    "beyond_limit": "beyond a process limit",
    "shift": "shift (7 or more on one side)",
    "trend": "trend (6 or more rising or falling)",
    "two_of_three": "2 of 3 near a limit",
}
YSWD_LABELS = {
    "heard": "What we heard",
    "changed": "What we changed",
    "changed_on": "When it changed",
    "answers": "The feedback it answers",
}


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str
    href: str | None
    special: bool


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    left: int
    top: int
    plot_w: float
    plot_h: float
    dots: list[Dot]
    centre: str
    lower: str
    upper: str
    target_y: float | None
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]


def describe(value: Any) -> str:
    """A setting as a person reads it (the adoptable ones: schedules and minutes)."""
    if isinstance(value, dict) and "offsets_hours" in value:
        hours = ", ".join(str(h) for h in value["offsets_hours"])
        return (
            f"at {hours} hours after discharge; reply window {value['reply_window_minutes']} "
            f"min, reminder after {value['reminder_after_minutes']} min"
        )
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            shown = " / ".join(str(v) for v in item) if isinstance(item, list) else str(item)
            parts.append(f"{key} {shown} min")
        return "; ".join(parts)
    return f"{value} min" if isinstance(value, int) else str(value)


def _fmt(value: float | None, ratio: bool) -> str:
    if value is None:
        return "no data"
    return f"{value * 100:.0f}%" if ratio else f"{value:+.2f}"


def _scale(lo: float, hi: float, top: float, height: float) -> Any:
    span = (hi - lo) or 1.0
    return lambda v: top + height - (v - lo) / span * height


def spc_drawing(report: SeriesReport, s: Series, href: Any, target: float | None) -> Drawing:
    """The chart's geometry: points (special-cause ones drawn as squares, not only coloured),
    the centre line, the process limits as steps (p-prime limits move with n), the target."""
    ratio = report.unit == "ratio"
    values = [v for p in s.points for v in (p.value, p.lower, p.upper) if v is not None]
    lo, hi = (0.0, 1.0) if ratio else (min(values, default=-1.0), max(values, default=1.0))
    if not ratio:
        pad = (hi - lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    y = _scale(lo, hi, TOP, plot_h)
    n = max(len(s.points), 1)
    step = plot_w / n

    def x(i: int) -> float:
        return LEFT + step * (i + 0.5)

    dots: list[Dot] = []
    centre: list[str] = []
    lower: list[str] = []
    upper: list[str] = []
    for i, p in enumerate(s.points):
        if p.value is None:
            continue
        xl, xr = x(i) - step / 2, x(i) + step / 2
        if p.centre is not None:
            centre += [f"{xl:.1f},{y(p.centre):.1f}", f"{xr:.1f},{y(p.centre):.1f}"]
        if p.lower is not None and p.upper is not None:
            lower += [f"{xl:.1f},{y(p.lower):.1f}", f"{xr:.1f},{y(p.lower):.1f}"]
            upper += [f"{xl:.1f},{y(p.upper):.1f}", f"{xr:.1f},{y(p.upper):.1f}"]
        signals = ", ".join(SIGNAL_TEXT[k] for k in p.signals)
        label = f"{p.period:%b %Y}: {_fmt(p.value, ratio)}"
        if ratio:
            label += f" ({p.numerator} of {p.denominator})"
        if signals:
            label += f"; special cause: {signals}"
        dots.append(
            Dot(x(i), y(p.value), label, href(s, p) if p.record_ids is not None else None,
                bool(p.signals))
        )  # fmt: skip
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0] if ratio else [lo + (hi - lo) * k / 4 for k in range(5)]
    every = max(1, n // 8)
    return Drawing(
        W,
        H,
        LEFT,
        TOP,
        plot_w,
        plot_h,
        dots,
        " ".join(centre),
        " ".join(lower),
        " ".join(upper),
        y(target) if target is not None else None,
        [(y(t), _fmt(t, ratio)) for t in ticks],
        [(x(i), f"{p.period:%b %y}") for i, p in enumerate(s.points) if i % every == 0],
    )


@dataclass(frozen=True)
class FunnelDot:
    x: float
    y: float
    label: str
    outside: bool


@dataclass(frozen=True)
class FunnelDrawing:
    width: int
    height: int
    left: int
    top: int
    plot_w: float
    plot_h: float
    centre_y: float
    curves: dict[str, str]
    dots: list[FunnelDot]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]


def funnel_drawing(report: FunnelReport) -> FunnelDrawing | None:
    """Wards as points (rate against denominator), the trust rate and the 95% / 99.8% funnels."""
    if report.trust_rate is None:
        return None
    p_bar = report.trust_rate
    biggest = max((w.denominator for w in report.wards), default=1) * 1.1 or 1.0
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    y = _scale(0.0, 1.0, TOP, plot_h)

    def x(n: float) -> float:
        return LEFT + n / biggest * plot_w

    curves: dict[str, list[str]] = {
        "lower_95": [],
        "upper_95": [],
        "lower_998": [],
        "upper_998": [],
    }
    for k in range(1, 61):
        n = max(1, round(biggest * k / 60))
        limits = funnel_limits(p_bar, n)
        for name in curves:
            curves[name].append(f"{x(n):.1f},{y(getattr(limits, name)):.1f}")
    dots = [
        FunnelDot(
            x(w.denominator),
            y(w.rate),
            f"{w.ward_name}: {w.rate * 100:.0f}% of {w.denominator}"
            + ("" if w.position == "within" else f", {w.position} limit ({w.reading})"),
            w.position != "within",
        )
        for w in report.wards
        if w.rate is not None
    ]
    return FunnelDrawing(
        W,
        H,
        LEFT,
        TOP,
        plot_w,
        plot_h,
        y(p_bar),
        {k: " ".join(v) for k, v in curves.items()},
        dots,
        [(y(t), f"{t * 100:.0f}%") for t in (0.0, 0.25, 0.5, 0.75, 1.0)],
        [(x(biggest * k / 4), f"{round(biggest * k / 4)}") for k in range(5)],
    )


def _month(raw: str | None, field: str, tz: ZoneInfo) -> datetime | None:
    """A month field ("2026-03") as the first instant of that month in the ward's zone."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw + "-01" if len(raw) == 7 else raw)
    except ValueError:
        raise InvalidInput.field(field, "must be a month (YYYY-MM)") from None
    return datetime(day.year, day.month, 1, tzinfo=tz)


class OutcomeChartPages(Controller):
    path = "/board/outcomes"
    include_in_schema = False

    @get("/chart", opt=page(WARD, ADMIN))
    async def chart(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        measure: FromQuery[str] = "follow_up",
        ward_id: FromQuery[uuid.UUID | None] = None,
        grain: FromQuery[str] = "month",
        baseline_from: FromQuery[str | None] = None,
        baseline_to: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        return await _chart_view(
            request, res, db, caller, measure, ward_id, grain, baseline_from, baseline_to, done
        )

    @get("/series.csv", opt=page(WARD, ADMIN))
    async def series_csv(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        measure: FromQuery[str] = "follow_up",
        grain: FromQuery[str] = "month",
    ) -> Response[str]:
        """The series the chart page shows, as the API's CSV (the API itself is bearer-only)."""
        report = await series.measure_series(
            db,
            caller,
            measure,
            ward_id=None,
            start=None,
            end=None,
            grain="week" if grain == "week" else "month",
            chart="auto",
            baseline_from=None,
            baseline_to=None,
            now=clock.now(),
        )
        return Response(
            content=series.series_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{report.measure}_series.csv"'},
        )

    @get("/records", opt=page(WARD, ADMIN))
    async def records(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        measure: FromQuery[str],
        ward_id: FromQuery[uuid.UUID],
        period: FromQuery[date],
        grain: FromQuery[str] = "month",
    ) -> Template:
        report, point, rows = await series.point_records(
            db,
            caller,
            measure,
            ward_id=ward_id,
            period_start=period,
            grain="week" if grain == "week" else "month",
            now=clock.now(),
        )
        return await render(
            request,
            res,
            db,
            caller,
            "outcome_records.html",
            report=report,
            ward=report.series[0],
            point=point,
            rows=rows,
            ratio=report.unit == "ratio",
            back=f"/board/outcomes/chart?{urlencode({'measure': measure, 'ward_id': ward_id})}",
        )

    @post("/adopt", opt=page(WARD, ADMIN), status_code=200)
    async def adopt(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template | Redirect:
        fields = await form_of(request, res)
        ward_id = uuid_field(fields, "ward_id")
        assert ward_id is not None
        confirm = fields.get("confirm") == "yes"

        async def run() -> practice.AdoptOut:
            data = parse(
                {
                    "from_ward_id": fields.get("from_ward_id", ""),
                    "setting": fields.get("setting", ""),
                    "confirm": confirm,
                },
                practice.AdoptIn,
            )
            return await practice.adopt_setting(db, caller, ward_id, data, clock.now())

        out, failed = await attempt(db, fields, run)
        measure = fields.get("measure", "follow_up")
        if failed is not None or out is None:
            return await _chart_view(
                request, res, db, caller, measure, ward_id, "month", None, None, None,
                adopt_form=failed,
            )  # fmt: skip
        if confirm:
            query = urlencode({"measure": measure, "ward_id": ward_id, "done": out.setting})
            return back_to(f"/board/outcomes/chart?{query}")
        return await render(
            request,
            res,
            db,
            caller,
            "outcome_adopt.html",
            preview=out,
            measure=measure,
            describe=describe,
        )

    @get("/listening", opt=page(WARD, ADMIN))
    async def listening_page(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
        ward_id: FromQuery[uuid.UUID | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        return await _listening_view(request, res, db, caller, ward_id, Form.blank(), done)

    @post("/listening", opt=page(WARD, ADMIN), status_code=303)
    async def add_you_said(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        clock: ClockDep,
        res: Res,
    ) -> Template | Redirect:
        fields = await form_of(request, res)
        ward_id = uuid_field(fields, "ward_id")
        assert ward_id is not None
        answers = fields.get("answers", "")
        kind, _, target = answers.partition(":")

        async def save() -> None:
            data = parse(
                {
                    **blank_to_none(fields, "heard", "changed", "changed_on"),
                    "feedback_id": target if kind == "feedback" and target else None,
                    "survey_id": target if kind == "fft" and target else None,
                },
                YouSaidIn,
                renames={"feedback_id": "answers", "survey_id": "answers"},
            )
            await listening.add_you_said(db, caller, ward_id, data, clock.now())

        _, failed = await attempt(db, fields, save, YSWD_LABELS)
        if failed is not None:
            return await _listening_view(request, res, db, caller, ward_id, failed, None)
        return back_to(f"/board/outcomes/listening?ward_id={ward_id}&done=added")


async def _chart_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    measure: str,
    ward_id: uuid.UUID | None,
    grain: str,
    baseline_from: str | None,
    baseline_to: str | None,
    done: str | None,
    *,
    adopt_form: Form | None = None,
) -> Template:
    now = res.clock.now()
    wards, _ = await list_wards(db, caller, None, 200)
    if ward_id is None:
        ward_id = caller.ward_id or (wards[0].id if wards else None)
    if measure not in series.MEASURES:
        measure = "follow_up"
    chosen_grain: series.Grain = "week" if grain == "week" else "month"
    tz = await ward_zone(db, caller)
    form = Form.blank(
        measure=measure,
        grain=chosen_grain,
        baseline_from=baseline_from or "",
        baseline_to=baseline_to or "",
    )
    try:
        report = await series.measure_series(
            db,
            caller,
            measure,
            ward_id=None if caller.is_admin or caller.is_ward_manager else ward_id,
            start=None,
            end=None,
            grain=chosen_grain,
            chart="auto",
            baseline_from=_month(baseline_from, "baseline_from", tz),
            baseline_to=_month(baseline_to, "baseline_to", tz),
            now=now,
        )
    except InvalidInput as exc:
        form = Form.failed(form.values, exc, {"baseline_from": "Baseline from"})
        report = await series.measure_series(
            db, caller, measure, ward_id=None if caller.is_admin or caller.is_ward_manager
            else ward_id, start=None, end=None, grain=chosen_grain, chart="auto",
            baseline_from=None, baseline_to=None, now=now,
        )  # fmt: skip
    mine = next((s for s in report.series if s.ward_id == ward_id), None)
    trust = report.series[-1]

    def href(s: Series, p: Any) -> str:
        query = {"measure": measure, "ward_id": s.ward_id, "period": p.period.isoformat()}
        return f"/board/outcomes/records?{urlencode({**query, 'grain': chosen_grain})}"

    drawings = [
        (s, spc_drawing(report, s, href, report.target)) for s in ([mine] if mine else []) + [trust]
    ]
    funnel = None
    funnel_pic = None
    better: list[tuple[Any, list[tuple[str, str, Any, Any]]]] = []
    if (caller.is_admin or caller.is_ward_manager) and report.unit == "ratio":
        funnel = await series.funnel(db, caller, measure, start=None, end=None, now=now)
        funnel_pic = funnel_drawing(funnel)
        improving = {s.ward_id for s in report.series if s.variation == "improving"}
        for w in funnel.wards:
            if w.ward_id == ward_id or not (w.reading == "better" or w.ward_id in improving):
                continue
            if ward_id is not None:
                _, _, rows = await practice.side_by_side(db, caller, ward_id, w.ward_id, now)
                better.append((w, rows))
    return await render(
        request,
        res,
        db,
        caller,
        "outcome_chart.html",
        status_code=(adopt_form.status if adopt_form else form.status),
        report=report,
        measures=[(k, m.label) for k, m in series.MEASURES.items()],
        drawings=drawings,
        ratio=report.unit == "ratio",
        fmt=_fmt,
        signal_text=SIGNAL_TEXT,
        funnel=funnel,
        funnel_pic=funnel_pic,
        better=better,
        ward_id=ward_id,
        form=form,
        adopt_form=adopt_form or Form.blank(),
        done=done,
        adoptable=practice.ADOPTABLE,
        describe=describe,
    )


async def _listening_view(
    request: Request[Any, Any, Any],
    res: AppResources,
    db: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID | None,
    form: Form,
    done: str | None,
) -> Template:
    if ward_id is None and caller.is_admin:
        wards, _ = await list_wards(db, caller, None, 1)
        ward_id = wards[0].id if wards else None
    report: ListeningReport = await listening.listening(
        db, caller, ward_id, None, None, res.clock.now()
    )
    heard = {e.id: e for e in report.you_said_we_did}
    return await render(
        request,
        res,
        db,
        caller,
        "outcome_listening.html",
        status_code=form.status,
        report=report,
        heard=heard,
        form=form,
        done=done,
        answer_options=[
            (
                f"{'fft' if c.kind == 'fft' else 'feedback'}:{c.id}",
                f"{c.received_on:%d %b %Y} ({c.kind}): {c.text[:60]}",
            )
            for c in report.comments
        ],
    )
