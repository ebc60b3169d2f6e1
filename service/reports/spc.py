"""Process-behaviour charts and funnel limits as pure functions (no database, no clock).

What this follows (README "Outcomes over time" names the guidance):
- XmR chart as NHS England's Making Data Count uses it: centre line = mean of the baseline
  points; process limits = mean ± 2.66 x mean moving range of the baseline.
- p-prime chart (Laney 2002) for proportions whose monthly denominators are small and vary: a
  plain p chart's binomial limits are too narrow when months differ for reasons beyond
  chance, an XmR chart ignores that a month of 3 discharges is noisier than one of 40. The
  p-prime chart scales each month's binomial sigma by the moving-range spread of the z-scores.
- Special-cause rules (Making Data Count): a point beyond a process limit (strictly: a point
  exactly on a limit is not beyond it); a shift of 7 or more consecutive points on one side of
  the centre line (a point on the line breaks it); a trend of 6 or more consecutive points
  each higher (or each lower) than the one before (an equal point breaks it); two of three
  consecutive points in the outer third on the same side of the centre line.
- Months with no data (no denominator) have no point: they are neither counted nor do they
  break a run, since runs count consecutive points.
- Funnel plot (Spiegelhalter 2005): the pooled proportion with binomial limits at z = 1.96
  (95%) and z = 3.09 (99.8%) for each denominator, clipped to [0, 1]; no over-dispersion
  correction (a trust has few wards).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

XMR_CONSTANT = 2.66  # 3 / d2 with d2 = 1.128 for moving ranges of two
D2 = 1.128
SHIFT_RUN = 7
TREND_RUN = 6
Z_95 = 1.96
Z_998 = 3.09

Direction = Literal["up", "down"]
Chart = Literal["xmr", "pprime"]
Variation = Literal["improving", "concerning", "common cause", "no data"]
Assurance = Literal[
    "target consistently met", "hit and miss", "target consistently missed", "no target"
]


@dataclass(frozen=True)
class Point:
    """One period's figure. `value` is the rate (or mean); None when the period has no data."""

    value: float | None
    numerator: int | None = None
    denominator: int | None = None


@dataclass
class ChartPoint:
    value: float | None
    centre: float | None
    lower: float | None
    upper: float | None
    # Rules this point is part of: "beyond_limit", "shift", "trend", "two_of_three".
    signals: list[str] = field(default_factory=list)
    # "high" or "low" for a special-cause point; None for common cause or no data.
    side: str | None = None


@dataclass
class ChartResult:
    chart: Chart
    centre: float | None
    points: list[ChartPoint]
    variation: Variation
    assurance: Assurance


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def xmr_limits(baseline: Sequence[float]) -> tuple[float, float, float] | None:
    """(centre, lower, upper) of an XmR chart from the baseline values (None under 2 points)."""
    if len(baseline) < 2:
        return None
    centre = sum(baseline) / len(baseline)
    ranges = [abs(b - a) for a, b in itertools.pairwise(baseline)]
    spread = XMR_CONSTANT * (sum(ranges) / len(ranges))
    return centre, centre - spread, centre + spread


def pprime_limits(
    baseline: Sequence[Point], points: Sequence[Point]
) -> tuple[float, list[tuple[float | None, float | None]]] | None:
    """Laney p-prime chart: (p_bar, [(lower, upper) per point]) from the baseline's numerators and
    denominators; limits clipped to [0, 1]. None when the baseline cannot set limits."""
    used = [p for p in baseline if p.denominator]
    total = sum(p.denominator or 0 for p in used)
    if len(used) < 2 or total == 0:
        return None
    p_bar = sum(p.numerator or 0 for p in used) / total
    if p_bar in (0.0, 1.0):
        return p_bar, [(p_bar, p_bar) if p.denominator else (None, None) for p in points]
    z = [
        ((p.numerator or 0) / (p.denominator or 1) - p_bar)
        / math.sqrt(p_bar * (1 - p_bar) / (p.denominator or 1))
        for p in used
    ]
    ranges = [abs(b - a) for a, b in itertools.pairwise(z)]
    sigma_z = (sum(ranges) / len(ranges)) / D2
    limits: list[tuple[float | None, float | None]] = []
    for p in points:
        if not p.denominator:
            limits.append((None, None))
            continue
        spread = 3 * math.sqrt(p_bar * (1 - p_bar) / p.denominator) * sigma_z
        limits.append((max(0.0, p_bar - spread), min(1.0, p_bar + spread)))
    return p_bar, limits


def _mark(point: ChartPoint, rule: str) -> None:
    if rule not in point.signals:
        point.signals.append(rule)


def apply_rules(points: list[ChartPoint]) -> None:
    """Mark each point with the special-cause rules it is part of (in place)."""
    live = [p for p in points if p.value is not None and p.centre is not None]
    for p in live:
        assert p.value is not None and p.centre is not None
        if (p.upper is not None and p.value > p.upper) or (
            p.lower is not None and p.value < p.lower
        ):
            _mark(p, "beyond_limit")
    # Shift: runs on one side of the centre line.
    run: list[ChartPoint] = []
    run_side = 0
    for p in live:
        assert p.value is not None and p.centre is not None
        side = (p.value > p.centre) - (p.value < p.centre)
        if side != 0 and side == run_side:
            run.append(p)
        else:
            run, run_side = ([p], side) if side != 0 else ([], 0)
        if len(run) >= SHIFT_RUN:
            for q in run:
                _mark(q, "shift")
    # Trend: each point higher (or lower) than the one before.
    for step in (1, -1):
        run = live[:1]
        for prev, p in itertools.pairwise(live):
            assert prev.value is not None and p.value is not None
            if (p.value - prev.value) * step > 0:
                run.append(p)
            else:
                run = [p]
            if len(run) >= TREND_RUN:
                for q in run:
                    _mark(q, "trend")
    # Two of three consecutive points in the outer third, on the same side.
    for i in range(len(live) - 2):
        window = live[i : i + 3]
        for step in (1, -1):
            near = [q for q in window if _outer_third(q, step)]
            if len(near) >= 2:
                for q in near:
                    _mark(q, "two_of_three")


def _outer_third(p: ChartPoint, step: int) -> bool:
    if p.value is None or p.centre is None:
        return False
    limit = p.upper if step > 0 else p.lower
    if limit is None or limit == p.centre:
        return False
    edge = p.centre + (limit - p.centre) * 2 / 3
    return (p.value - edge) * step > 0


def _readings(
    points: list[ChartPoint], direction: Direction, target: float | None
) -> tuple[Variation, Assurance]:
    good = 1 if direction == "up" else -1
    for p in points:
        if p.signals and p.value is not None and p.centre is not None:
            p.side = "high" if p.value > p.centre else "low"
    latest = next((p for p in reversed(points) if p.value is not None), None)
    variation: Variation
    if latest is None:
        variation = "no data"
    elif latest.side is None:
        variation = "common cause"
    else:
        variation = "improving" if (latest.side == "high") == (good > 0) else "concerning"
    assurance: Assurance = "no target"
    if target is not None and latest is not None:
        lo, hi = latest.lower, latest.upper
        if lo is None or hi is None:
            assurance = "hit and miss"
        elif (lo >= target) if good > 0 else (hi <= target):
            assurance = "target consistently met"
        elif (hi < target) if good > 0 else (lo > target):
            assurance = "target consistently missed"
        else:
            assurance = "hit and miss"
    return variation, assurance


def chart(
    points: Sequence[Point],
    *,
    kind: Chart,
    direction: Direction,
    target: float | None = None,
    baseline: tuple[int, int] | None = None,
) -> ChartResult:
    """The chart of `points` with limits from points[baseline[0]:baseline[1]] (all points when
    no baseline is given), special-cause signals and the variation and assurance readings."""
    chosen = points[baseline[0] : baseline[1]] if baseline else points
    centre: float | None = None
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * len(points)
    if kind == "xmr":
        limits = xmr_limits([p.value for p in chosen if p.value is not None])
        if limits is not None:
            centre, lower, upper = limits
            bounds = [(lower, upper) if p.value is not None else (None, None) for p in points]
        else:
            centre = mean([p.value for p in chosen if p.value is not None])
    else:
        found = pprime_limits(chosen, points)
        if found is not None:
            centre, bounds = found
    out = [
        ChartPoint(
            value=p.value,
            centre=centre if p.value is not None else None,
            lower=lo,
            upper=hi,
        )
        for p, (lo, hi) in zip(points, bounds, strict=True)
    ]
    apply_rules(out)
    variation, assurance = _readings(out, direction, target)
    return ChartResult(kind, centre, out, variation, assurance)


@dataclass(frozen=True)
class FunnelLimits:
    lower_95: float
    upper_95: float
    lower_998: float
    upper_998: float


def funnel_limits(p_bar: float, denominator: int) -> FunnelLimits:
    """Binomial funnel limits around `p_bar` for a unit with `denominator` records."""
    if denominator <= 0:
        raise ValueError("a funnel limit needs a denominator")
    sd = math.sqrt(p_bar * (1 - p_bar) / denominator)

    def clip(x: float) -> float:
        return min(1.0, max(0.0, x))

    return FunnelLimits(
        clip(p_bar - Z_95 * sd),
        clip(p_bar + Z_95 * sd),
        clip(p_bar - Z_998 * sd),
        clip(p_bar + Z_998 * sd),
    )


def funnel_position(rate: float, limits: FunnelLimits) -> str:
    """Where a unit sits: "above 99.8%", "above 95%", "within", "below 95%", "below 99.8%"
    (strictly outside a limit; a rate exactly on it is within)."""
    if rate > limits.upper_998:
        return "above 99.8%"
    if rate < limits.lower_998:
        return "below 99.8%"
    if rate > limits.upper_95:
        return "above 95%"
    if rate < limits.lower_95:
        return "below 95%"
    return "within"
