"""Headline measures over time (process-behaviour charts) and between wards (funnel plots).

Who sees what (as `service`): admins every ward's series with record ids; ward managers every
ward's series and funnel, with record ids for their own ward only; ward staff their own
ward's series. The trust series is an aggregate and carries no record ids. Each read is
audited.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import plan_for_these_values
from db.models import CheckIn, Episode, Escalation, FollowUp, PromSurvey, Referral, Ward
from service import audit
from service.checks import check_aware
from service.errors import Forbidden, InvalidInput, NotFound
from service.principal import Principal
from service.reports import series_sql as q
from service.reports import spc
from service.reports.schemas import (
    FunnelReport,
    FunnelWard,
    Series,
    SeriesPoint,
    SeriesReport,
)
from service.reports.service import _csv_cell, period
from service.standards import (
    FOLLOW_UP_WITHIN,
    FOLLOW_UP_WITHIN_SUICIDE_RISK,
    NATIONAL_FOLLOW_UP_AMBITION,
    READMISSION_WINDOW,
    whole_hours,
)
from service.timezones import DEFAULT_TIMEZONE

Grain = Literal["month", "week"]
ChartChoice = Literal["auto", "xmr", "pprime"]

MEASURES: dict[str, q.SeriesMeasure] = {
    m.key: m
    for m in (
        q.SeriesMeasure(
            "follow_up",
            f"Follow-up within {whole_hours(FOLLOW_UP_WITHIN)} h "
            f"({whole_hours(FOLLOW_UP_WITHIN_SUICIDE_RISK)} h with suicide risk) of discharge",
            "proportion",
            "up",
            "follow_up",
            q.FOLLOW_UP,
            target=NATIONAL_FOLLOW_UP_AMBITION,
        ),
        q.SeriesMeasure(
            "readmission",
            f"Readmissions within {READMISSION_WINDOW.days} days of discharge",
            "proportion",
            "down",
            "episode",
            q.READMISSION,
        ),
        q.SeriesMeasure(
            "check_in_response",
            "Check-ins answered (answered / answered + missed)",
            "proportion",
            "up",
            "check_in",
            q.CHECK_IN,
        ),
        q.SeriesMeasure(
            "escalation_ack",
            "Escalations acknowledged in time (before the first deadline)",
            "proportion",
            "up",
            "escalation",
            q.ESCALATION_ACK,
        ),
        q.SeriesMeasure(
            "referral_answered",
            "Referrals answered by their respond-by time",
            "proportion",
            "up",
            "referral",
            q.REFERRAL_ANSWERED,
        ),
        q.SeriesMeasure(
            "dialog_change",
            "DIALOG change in life score, discharge to one month (mean, -6 to +6)",
            "mean",
            "up",
            "prom_survey",
            q.DIALOG_CHANGE,
        ),
        q.SeriesMeasure(
            "fft_positive",
            "Friends and Family Test: very good or good",
            "proportion",
            "up",
            "prom_survey",
            q.FFT_POSITIVE,
        ),
    )
}

RULES: dict[str, str] = {
    "chart": "Proportions use a p-prime chart (Laney): monthly denominators on a ward are "
    "small and vary, so each month gets limits for its own denominator, widened or narrowed "
    "by how much months really vary. DIALOG change is a mean: XmR chart (Making Data Count). "
    "chart=xmr draws proportions on an XmR chart instead.",
    "limits": "Centre line and process limits come from the baseline periods "
    "[baseline_from, baseline_to) (default: every period shown). XmR: mean +/- 2.66 x mean "
    "moving range. p-prime: p +/- 3 x sqrt(p(1-p)/n) x (mean moving range of z / 1.128).",
    "signals": "Special cause (Making Data Count): a point beyond a limit (on it is not "
    "beyond); 7 or more points in a row on one side of the centre line; 6 or more points in a "
    "row each rising (or falling); 2 of 3 points in a row in the outer third on one side. A "
    "period with no records has no point and does not break a run.",
    "variation": "From the latest point: improving or concerning when it is part of a "
    "special-cause signal in the better or worse direction; otherwise common cause.",
    "assurance": "Against the target, from the latest limits: consistently met when the whole "
    "band is on the right side of the target, consistently missed when it is wholly on the "
    "wrong side, else hit and miss.",
    "funnel": "Each ward's rate for the period against its denominator; the centre line is "
    "the trust rate; limits are binomial at 95% (1.96 sd) and 99.8% (3.09 sd) for each "
    "denominator (Spiegelhalter 2005). A ward on a limit is within it.",
}

MAX_SERIES_PERIOD = timedelta(days=5 * 366 + 1)
DEFAULT_MONTHS = 24


def _step(day: date, grain: Grain) -> date:
    if grain == "week":
        return day + timedelta(days=7)
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _floor(day: date, grain: Grain) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def periods(start: datetime, end: datetime, tz: ZoneInfo, grain: Grain) -> list[date]:
    """Every period start (local date) from the one holding `start` to the last before `end`."""
    first = _floor(start.astimezone(tz).date(), grain)
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    out: list[date] = []
    day = first
    while day <= last:
        out.append(day)
        day = _step(day, grain)
    return out


def series_period(
    start: datetime | None, end: datetime | None, now: datetime, tz: ZoneInfo, grain: Grain
) -> tuple[datetime, datetime]:
    """[from, to): to defaults to now; from to the start of the period 24 months before."""
    end = end or now
    check_aware(end, "to")
    if start is None:
        local = end.astimezone(tz)
        year, month = local.year - DEFAULT_MONTHS // 12, local.month
        first = _floor(date(year, month, 1), grain)
        start = datetime(first.year, first.month, first.day, tzinfo=tz)
    check_aware(start, "from")
    if start >= end:
        raise InvalidInput.field("from", "must be before to")
    if end - start > MAX_SERIES_PERIOD:
        raise InvalidInput.field("from", "a series may span at most five years")
    return start, end


def _measure(key: str) -> q.SeriesMeasure:
    found = MEASURES.get(key)
    if found is None:
        raise InvalidInput.field("measure", f"must be one of {', '.join(MEASURES)}")
    return found


async def _rows(
    session: AsyncSession,
    measure: q.SeriesMeasure,
    ward_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    now: datetime,
    grain: Grain,
    tz: str,
) -> list[Any]:
    # Prepared once per connection with the period as a parameter: after five runs a generic
    # plan would estimate two years of the trust's check-ins at 1/60 of their rows and read
    # them serially (bench full size: check_in_response 2.1 s custom, 2.5-3.2 s generic).
    await plan_for_these_values(session)
    params = {
        "wards": ward_ids,
        "start": start,
        "end": end,
        "now": now,
        "grain": grain,
        "tz": tz,
    }
    return list((await session.execute(q.grouped(measure), params)).all())


def _visible_wards(
    caller: Principal, wards: Sequence[Ward], ward_id: uuid.UUID | None, now: datetime
) -> list[Ward]:
    """The wards whose series the caller sees (404 for a ward they may not see)."""
    if caller.is_admin or caller.is_ward_manager:
        shown = list(wards)
    elif caller.staff_ward is not None:
        shown = [w for w in wards if w.id == caller.staff_ward]
    else:
        raise Forbidden("Only ward staff and admins read outcome reports.")
    if ward_id is not None:
        shown = [w for w in shown if w.id == ward_id]
        if not shown:
            raise audit.denied(
                caller,
                "report.outcomes_series",
                NotFound("No such ward."),
                at=now,
                object_type="ward",
                object_id=ward_id,
            )
    return shown


def _chart_kind(measure: q.SeriesMeasure, choice: ChartChoice) -> spc.Chart:
    if measure.kind == "mean":
        if choice == "pprime":
            raise InvalidInput.field("chart", "a p-prime chart is for proportions only")
        return "xmr"
    return "xmr" if choice == "xmr" else "pprime"


def _baseline(
    buckets: list[date], tz: ZoneInfo, bfrom: datetime | None, bto: datetime | None
) -> tuple[int, int] | None:
    if bfrom is None and bto is None:
        return None
    if bfrom is not None:
        check_aware(bfrom, "baseline_from")
    if bto is not None:
        check_aware(bto, "baseline_to")
    if bfrom is not None and bto is not None and bfrom >= bto:
        raise InvalidInput.field("baseline_from", "must be before baseline_to")
    inside = [
        i
        for i, day in enumerate(buckets)
        if (bfrom is None or datetime(day.year, day.month, day.day, tzinfo=tz) >= bfrom)
        and (bto is None or datetime(day.year, day.month, day.day, tzinfo=tz) < bto)
    ]
    if len(inside) < 2:
        raise InvalidInput.field("baseline_from", "the baseline needs at least two periods")
    return inside[0], inside[-1] + 1


def _series(
    name: str,
    ward_id: uuid.UUID | None,
    measure: q.SeriesMeasure,
    kind: spc.Chart,
    buckets: list[date],
    cells: dict[date, Any],
    baseline: tuple[int, int] | None,
    with_ids: bool,
) -> Series:
    raw: list[spc.Point] = []
    for day in buckets:
        cell = cells.get(day)
        n = cell["denominator"] if cell else 0
        if measure.kind == "mean":
            value = cell["total"] / n if cell and n and cell["total"] is not None else None
            raw.append(spc.Point(value, None, n))
        else:
            num = cell["numerator"] if cell else 0
            raw.append(spc.Point(num / n if n else None, num, n))
    result = spc.chart(
        raw, kind=kind, direction=measure.direction, target=measure.target, baseline=baseline
    )
    points = []
    for day, p, c in zip(buckets, raw, result.points, strict=True):
        cell = cells.get(day)
        points.append(
            SeriesPoint(
                period=day,
                numerator=p.numerator if measure.kind == "proportion" else None,
                denominator=p.denominator or 0,
                value=None if p.value is None else round(p.value, 4),
                centre=None if c.centre is None else round(c.centre, 4),
                lower=None if c.lower is None else round(c.lower, 4),
                upper=None if c.upper is None else round(c.upper, 4),
                signals=c.signals,
                side=c.side,
                record_ids=(list(cell["ids"]) if cell else []) if with_ids else None,
                numerator_ids=(list(cell["num_ids"] or []) if cell else [])
                if with_ids and measure.kind == "proportion"
                else None,
            )
        )
    return Series(
        ward_id=ward_id,
        ward_name=name,
        chart=result.chart,
        centre=None if result.centre is None else round(result.centre, 4),
        variation=result.variation,
        assurance=result.assurance,
        points=points,
    )


async def measure_series(
    session: AsyncSession,
    caller: Principal,
    key: str,
    *,
    ward_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    grain: Grain,
    chart: ChartChoice,
    baseline_from: datetime | None,
    baseline_to: datetime | None,
    now: datetime,
) -> SeriesReport:
    """The measure's series per visible ward and for the trust, each with its chart."""
    measure = _measure(key)
    kind = _chart_kind(measure, chart)
    wards = list((await session.scalars(select(Ward).order_by(Ward.name, Ward.id))).all())
    shown = _visible_wards(caller, wards, ward_id, now)
    # Periods are the calendar of the ward shown (or the caller's ward) so a month is the
    # ward's month; the trust series uses the same calendar.
    home = next((w for w in shown if w.id in (ward_id, caller.ward_id)), None)
    tz = home.timezone if home else DEFAULT_TIMEZONE
    zone = ZoneInfo(tz)
    start, end = series_period(start, end, now, zone, grain)
    buckets = periods(start, end, zone, grain)
    baseline = _baseline(buckets, zone, baseline_from, baseline_to)
    rows = await _rows(session, measure, [w.id for w in wards], start, end, now, grain, tz)
    by_ward: dict[uuid.UUID, dict[date, Any]] = defaultdict(dict)
    trust: dict[date, dict[str, Any]] = {}
    for row in rows:
        day = row.bucket.date()
        by_ward[row.ward_id][day] = row._mapping
        t = trust.setdefault(day, {"denominator": 0, "numerator": 0, "total": None})
        t["denominator"] += row.denominator
        t["numerator"] += row.numerator
        if row.total is not None:
            t["total"] = (t["total"] or 0.0) + row.total
    out = [
        _series(
            w.name,
            w.id,
            measure,
            kind,
            buckets,
            by_ward.get(w.id, {}),
            baseline,
            caller.is_admin or w.id == caller.ward_id,
        )
        for w in shown
    ]
    out.append(_series("Trust (all wards)", None, measure, kind, buckets, trust, baseline, False))
    audit.record(
        session,
        caller,
        "report.outcomes_series",
        at=now,
        ward_id=caller.ward_id,
        object_type="report",
        detail={
            "measure": key,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "grain": grain,
            "wards": [str(w.id) for w in shown],
        },
    )
    return SeriesReport(
        measure=key,
        label=measure.label,
        unit="score" if measure.kind == "mean" else "ratio",
        direction=measure.direction,
        target=measure.target,
        grain=grain,
        from_=start,
        to=end,
        baseline_from=baseline_from,
        baseline_to=baseline_to,
        generated_at=now,
        series=out,
        rules=RULES,
    )


async def funnel(
    session: AsyncSession,
    caller: Principal,
    key: str,
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> FunnelReport:
    """Each ward's rate over the period against its denominator, with the trust rate and
    95% / 99.8% limits for that denominator. Admins and ward managers."""
    if not (caller.is_admin or caller.is_ward_manager):
        raise Forbidden("Only admins and ward managers compare wards.")
    measure = _measure(key)
    if measure.kind != "proportion":
        raise InvalidInput.field("measure", "a funnel plot is for proportions only")
    start, end = period(start, end, now)
    wards = list((await session.scalars(select(Ward).order_by(Ward.name, Ward.id))).all())
    rows = await _rows(session, measure, [w.id for w in wards], start, end, now, "month", "UTC")
    totals: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row.ward_id][0] += row.numerator
        totals[row.ward_id][1] += row.denominator
    numerator = sum(t[0] for t in totals.values())
    denominator = sum(t[1] for t in totals.values())
    p_bar = numerator / denominator if denominator else None
    out: list[FunnelWard] = []
    for w in wards:
        num, den = totals.get(w.id, [0, 0])
        rate = num / den if den else None
        if p_bar is None or rate is None:
            out.append(FunnelWard(w.id, w.name, num, den, rate, None, None, None, None, None, None))
            continue
        limits = spc.funnel_limits(p_bar, den)
        position = spc.funnel_position(rate, limits)
        reading: Literal["better", "worse"] | None = None
        if position != "within":
            above = position.startswith("above")
            reading = "better" if above == (measure.direction == "up") else "worse"
        out.append(
            FunnelWard(
                w.id,
                w.name,
                num,
                den,
                round(rate, 4),
                round(limits.lower_95, 4),
                round(limits.upper_95, 4),
                round(limits.lower_998, 4),
                round(limits.upper_998, 4),
                position,
                reading,
            )
        )
    audit.record(
        session,
        caller,
        "report.outcomes_funnel",
        at=now,
        ward_id=caller.ward_id,
        object_type="report",
        detail={"measure": key, "from": start.isoformat(), "to": end.isoformat()},
    )
    return FunnelReport(
        measure=key,
        label=measure.label,
        direction=measure.direction,
        from_=start,
        to=end,
        generated_at=now,
        trust_rate=None if p_bar is None else round(p_bar, 4),
        numerator=numerator,
        denominator=denominator,
        wards=out,
        rules=RULES,
    )


SERIES_CSV_HEADER = (
    "ward",
    "measure",
    "period",
    "numerator",
    "denominator",
    "value",
    "centre",
    "lower",
    "upper",
    "signals",
)


def series_csv(report: SeriesReport) -> str:
    """One row per ward and period: the series with its centre line, limits and signals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SERIES_CSV_HEADER)
    for s in report.series:
        for p in s.points:
            writer.writerow(
                [
                    _csv_cell(v)
                    for v in (
                        s.ward_name,
                        report.measure,
                        p.period.isoformat(),
                        p.numerator,
                        p.denominator,
                        p.value,
                        p.centre,
                        p.lower,
                        p.upper,
                        " ".join(p.signals),
                    )
                ]
            )
    return buffer.getvalue()


def _record_model(record_type: str) -> Any:
    return {
        "follow_up": FollowUp,
        "episode": Episode,
        "check_in": CheckIn,
        "escalation": Escalation,
        "referral": Referral,
        "prom_survey": PromSurvey,
    }[record_type]


async def point_records(
    session: AsyncSession,
    caller: Principal,
    key: str,
    *,
    ward_id: uuid.UUID,
    period_start: date,
    grain: Grain,
    now: datetime,
) -> tuple[SeriesReport, SeriesPoint, list[tuple[uuid.UUID, uuid.UUID, bool]]]:
    """The records behind one point of a ward's series: (record id, patient id, counted in
    the numerator). The same rules and access as `measure_series`; a ward whose record ids
    the caller may not see is a 404."""
    period_start = _floor(period_start, grain)
    ward = await session.get(Ward, ward_id)
    zone = ZoneInfo(ward.timezone if ward else DEFAULT_TIMEZONE)
    start = datetime(period_start.year, period_start.month, period_start.day, tzinfo=zone)
    nxt = _step(period_start, grain)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    report = await measure_series(
        session,
        caller,
        key,
        ward_id=ward_id,
        start=start,
        end=end,
        grain=grain,
        chart="auto",
        baseline_from=None,
        baseline_to=None,
        now=now,
    )
    point = report.series[0].points[0]
    if point.record_ids is None:
        raise audit.denied(
            caller,
            "report.outcomes_records",
            NotFound("No such ward."),
            at=now,
            object_type="ward",
            object_id=ward_id,
        )
    model = _record_model(MEASURES[key].record_type)
    owners: dict[uuid.UUID, uuid.UUID] = dict(
        (
            await session.execute(
                select(model.id, model.patient_id).where(model.id.in_(point.record_ids))
            )
        ).all()
    )
    counted = set(point.numerator_ids or [])
    rows = [(i, owners[i], i in counted) for i in point.record_ids if i in owners]
    return report, point, rows
