"""Process-behaviour chart and funnel arithmetic against figures worked out by hand here.

Pure functions: no database. Each series is small enough to check with pencil and paper, and
the working is written out beside the assertion."""

from __future__ import annotations

import math

import pytest

from service.reports import spc
from service.reports.spc import Point


def _pts(values: list[float | None]) -> list[Point]:
    return [Point(v) for v in values]


def test_xmr_limits_by_hand() -> None:
    # Values 10, 12, 11, 13, 9: mean 55/5 = 11; moving ranges 2, 1, 2, 4 -> mean 9/4 = 2.25;
    # limits 11 ± 2.66 x 2.25 = 11 ± 5.985 -> 5.015 and 16.985.
    centre, lower, upper = spc.xmr_limits([10, 12, 11, 13, 9]) or (0, 0, 0)
    assert centre == pytest.approx(11)
    assert lower == pytest.approx(5.015)
    assert upper == pytest.approx(16.985)
    assert spc.xmr_limits([4]) is None


def test_a_single_outlier_is_beyond_the_limit_and_reads_concerning_for_a_bad_direction() -> None:
    # Baseline the first five (limits 5.015 .. 16.985 above); the sixth, 20, is beyond.
    result = spc.chart(_pts([10, 12, 11, 13, 9, 20]), kind="xmr", direction="down", baseline=(0, 5))
    assert [p.signals for p in result.points] == [[], [], [], [], [], ["beyond_limit"]]
    assert result.points[5].side == "high"
    # Higher is worse for this measure (e.g. readmission): the latest point is concerning.
    assert result.variation == "concerning"
    up = spc.chart(_pts([10, 12, 11, 13, 9, 20]), kind="xmr", direction="up", baseline=(0, 5))
    assert up.variation == "improving"


def test_a_point_exactly_on_a_limit_is_not_beyond_it() -> None:
    # Baseline 10, 12, 10, 12: mean 11, moving ranges 2, 2, 2 -> 2; limits 11 ± 5.32.
    # 16.32 is exactly the upper limit: not a signal.
    _, _, upper = spc.xmr_limits([10, 12, 10, 12]) or (0, 0, 0)
    assert upper == pytest.approx(16.32)
    result = spc.chart(
        _pts([10, 12, 10, 12, 11 + 2.66 * 2]), kind="xmr", direction="up", baseline=(0, 4)
    )
    assert result.points[4].upper == result.points[4].value
    assert "beyond_limit" not in result.points[4].signals
    assert result.variation == "common cause"


def test_a_shift_of_seven_points_above_the_centre_line() -> None:
    # Baseline 5, 5, 6, 4, 5, 5: mean 30/6 = 5; moving ranges 0, 1, 2, 1, 0 -> 0.8;
    # limits 5 ± 2.128 = 2.872 .. 7.128. Then seven points at 6 (inside the limits, above 5).
    values: list[float | None] = [5, 5, 6, 4, 5, 5, 6, 6, 6, 6, 6, 6, 6]
    result = spc.chart(_pts(values), kind="xmr", direction="up", baseline=(0, 6))
    assert result.centre == pytest.approx(5)
    assert result.points[6].upper == pytest.approx(7.128)
    shift = [i for i, p in enumerate(result.points) if "shift" in p.signals]
    # Point 2 (6) is above the line but its run is broken by point 3 (4): not part of it.
    assert shift == [6, 7, 8, 9, 10, 11, 12]
    assert result.variation == "improving"
    # Six at 6 is one short: no shift.
    short = spc.chart(_pts(values[:-1]), kind="xmr", direction="up", baseline=(0, 6))
    assert not any("shift" in p.signals for p in short.points)


def test_a_trend_of_six_rising_points() -> None:
    # 1, 2, 3, 4, 5, 6 rise five times: six points in a trend; 7 ends flat (equal) after.
    values: list[float | None] = [3, 1, 2, 3, 4, 5, 6, 6]
    result = spc.chart(_pts(values), kind="xmr", direction="up")
    trend = [i for i, p in enumerate(result.points) if "trend" in p.signals]
    assert trend == [1, 2, 3, 4, 5, 6]
    # Five rising points are not a trend.
    fewer = spc.chart(_pts([3, 1, 2, 3, 4, 5]), kind="xmr", direction="up")
    assert not any("trend" in p.signals for p in fewer.points)


def test_two_of_three_in_the_outer_third() -> None:
    # Baseline 10, 12, 10, 12: centre 11, limits 5.68 .. 16.32; outer third above starts at
    # 11 + 5.32 x 2/3 = 14.5467. Points 15, 12, 15: two of three beyond it, same side.
    result = spc.chart(
        _pts([10, 12, 10, 12, 15, 12, 15]), kind="xmr", direction="up", baseline=(0, 4)
    )
    marked = [i for i, p in enumerate(result.points) if "two_of_three" in p.signals]
    assert marked == [4, 6]
    assert "beyond_limit" not in result.points[4].signals


def test_a_month_with_no_discharges_has_no_point_and_does_not_break_a_run() -> None:
    values: list[float | None] = [5, 5, 6, 4, 5, 5, 6, 6, 6, None, 6, 6, 6, 6]
    result = spc.chart(_pts(values), kind="xmr", direction="up", baseline=(0, 6))
    empty = result.points[9]
    assert (empty.value, empty.centre, empty.lower, empty.upper, empty.signals) == (
        None,
        None,
        None,
        None,
        [],
    )
    assert [i for i, p in enumerate(result.points) if "shift" in p.signals] == [
        6,
        7,
        8,
        10,
        11,
        12,
        13,
    ]


def test_pprime_limits_by_hand() -> None:
    # Months 8/10, 12/20, 30/40: p_bar = 50/70 = 0.714286.
    # sigma_i = sqrt(p_bar(1-p_bar)/n): n=10 -> 0.142857; n=20 -> 0.101015; n=40 -> 0.071429.
    # z = (0.8-p_bar)/0.142857 = 0.6; (0.6-p_bar)/0.101015 = -1.131371; (0.75-p_bar)/0.071429 = 0.5.
    # Moving ranges 1.731371, 1.631371 -> mean 1.681371; sigma_z = 1.681371/1.128 = 1.490577.
    # Upper for n=10: p_bar + 3 x 0.142857 x 1.490577 = 0.714286 + 0.638819 -> clipped to 1.
    # Lower for n=40: p_bar - 3 x 0.071429 x 1.490577 = 0.714286 - 0.319410 = 0.394876.
    pts = [Point(0.8, 8, 10), Point(0.6, 12, 20), Point(0.75, 30, 40)]
    found = spc.pprime_limits(pts, pts)
    assert found is not None
    p_bar, limits = found
    assert p_bar == pytest.approx(50 / 70)
    assert limits[0][1] == 1.0
    assert limits[0][0] == pytest.approx(0.714286 - 0.638819, abs=1e-5)
    assert limits[2][0] == pytest.approx(0.394876, abs=1e-5)
    # Upper for n=40: 0.714286 + 0.319410 = 1.033696 -> clipped to 1.
    assert limits[2][1] == 1.0


def test_assurance_against_the_target() -> None:
    # Follow-up rates well above 80% with a narrow band: lower limit > 0.8 -> consistently met.
    high = spc.chart(_pts([0.9, 0.92, 0.91, 0.93, 0.9]), kind="xmr", direction="up", target=0.8)
    assert high.points[-1].lower is not None and high.points[-1].lower > 0.8
    assert high.assurance == "target consistently met"
    low = spc.chart(_pts([0.5, 0.52, 0.51, 0.53, 0.5]), kind="xmr", direction="up", target=0.8)
    assert low.assurance == "target consistently missed"
    mixed = spc.chart(_pts([0.6, 0.95, 0.7, 0.9, 0.8]), kind="xmr", direction="up", target=0.8)
    assert mixed.assurance == "hit and miss"


def test_funnel_for_three_wards_of_very_different_size() -> None:
    # Trust: 8/10 + 60/100 + 560/1000 = 628/1110 = 0.565766.
    # n=10: sd = sqrt(0.565766 x 0.434234 / 10) = 0.156741; 95% 0.565766 ± 0.307212
    #   -> 0.258554 .. 0.872978; the small ward's 80% is within (chance, not practice).
    # n=1000: sd = 0.015674; 99.8% ± 0.048433 -> 0.517333 .. 0.614199; 56% within.
    # n=100: sd = 0.049566; 95% ± 0.097149 -> 0.468617 .. 0.662915; 60% within.
    p_bar = 628 / 1110
    small = spc.funnel_limits(p_bar, 10)
    assert small.upper_95 == pytest.approx(0.872978, abs=1e-5)
    assert small.lower_95 == pytest.approx(0.258554, abs=1e-5)
    assert spc.funnel_position(0.8, small) == "within"
    big = spc.funnel_limits(p_bar, 1000)
    assert big.upper_998 == pytest.approx(0.614199, abs=1e-5)
    assert spc.funnel_position(0.56, big) == "within"
    # The same 80% from the big ward would be far outside: its funnel is narrow.
    assert spc.funnel_position(0.8, big) == "above 99.8%"
    mid = spc.funnel_limits(p_bar, 100)
    assert mid.lower_95 == pytest.approx(0.468617, abs=1e-5)
    assert spc.funnel_position(0.45, mid) == "below 95%"
    # On the limit exactly is within.
    assert spc.funnel_position(mid.upper_95, mid) == "within"
    assert math.isclose(spc.funnel_limits(1.0, 5).upper_998, 1.0)
