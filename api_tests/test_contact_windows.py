"""Quiet hours: a prompt due outside the patient's window goes at the next opening, local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from service.checkins.windows import (
    in_window,
    is_open,
    next_send_time,
    window_closes_after,
)
from service.timezones import local_instant

LONDON = "Europe/London"
NINE, EIGHT_PM = time(9, 0), time(20, 0)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("local", "start", "end", "expected"),
    [
        (time(9, 0), NINE, EIGHT_PM, True),
        (time(19, 59), NINE, EIGHT_PM, True),
        (time(20, 0), NINE, EIGHT_PM, False),
        (time(8, 59), NINE, EIGHT_PM, False),
        (time(3, 0), NINE, EIGHT_PM, False),
        # A window wrapping midnight (an evening worker): 20:00 to 02:00.
        (time(21, 0), time(20, 0), time(2, 0), True),
        (time(1, 59), time(20, 0), time(2, 0), True),
        (time(2, 0), time(20, 0), time(2, 0), False),
        (time(12, 0), time(20, 0), time(2, 0), False),
        # Equal ends: any time.
        (time(3, 0), time(0, 0), time(0, 0), True),
    ],
)
def test_in_window_handles_plain_and_wrapping_windows(local, start, end, expected):
    assert in_window(local, start, end) is expected


def test_a_prompt_due_at_3am_local_waits_for_the_window_opening_in_winter():
    due = utc(2026, 12, 2, 3, 0)  # 03:00 GMT
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 12, 2, 9, 0)


def test_a_prompt_due_at_3am_local_waits_for_the_window_opening_in_summer():
    due = utc(2026, 7, 2, 2, 0)  # 03:00 BST
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 7, 2, 8, 0)  # 09:00 BST


def test_inside_the_window_a_prompt_goes_at_once():
    due = utc(2026, 12, 2, 14, 30)
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == due


def test_after_the_window_closes_a_prompt_waits_for_tomorrows_opening():
    due = utc(2026, 12, 2, 21, 0)
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 12, 3, 9, 0)


def test_march_clock_change_3am_on_the_day_opens_at_9_bst():
    # 29 March 2026: clocks go forward at 01:00 GMT. 03:00 BST is 02:00 UTC.
    due = utc(2026, 3, 29, 2, 0)
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 3, 29, 8, 0)


def test_march_clock_change_due_before_the_change_opens_at_9_local_not_9_hours_later():
    # 00:30 GMT, before the change; the opening is 09:00 BST = 08:00 UTC.
    due = utc(2026, 3, 29, 0, 30)
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 3, 29, 8, 0)


def test_october_clock_change_3am_on_the_day_opens_at_9_gmt():
    # 25 October 2026: clocks go back at 01:00 UTC. 03:00 GMT is 03:00 UTC.
    due = utc(2026, 10, 25, 3, 0)
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 10, 25, 9, 0)


def test_october_clock_change_due_before_the_change_opens_at_9_gmt():
    # 00:30 BST on the 25th is 23:30 UTC on the 24th; the opening is 09:00 GMT = 09:00 UTC.
    due = utc(2026, 10, 24, 23, 30)
    assert next_send_time(due, LONDON, NINE, EIGHT_PM) == utc(2026, 10, 25, 9, 0)


def test_an_opening_inside_the_spring_gap_is_the_moment_the_clocks_jump():
    # 01:30 does not exist in London on 29 March 2026; the clock reads 02:00 BST at 01:00 UTC.
    assert local_instant(date(2026, 3, 29), time(1, 30), LONDON) == utc(2026, 3, 29, 1, 0)


def test_an_opening_in_the_repeated_autumn_hour_is_its_first_occurrence():
    # 01:30 happens twice on 25 October 2026: first at 00:30 UTC (BST).
    assert local_instant(date(2026, 10, 25), time(1, 30), LONDON) == utc(2026, 10, 25, 0, 30)


def test_wrapping_window_before_opening_waits_until_the_evening():
    start, end = time(20, 0), time(2, 0)
    assert next_send_time(utc(2026, 12, 2, 3, 0), LONDON, start, end) == utc(2026, 12, 2, 20, 0)
    assert is_open(utc(2026, 12, 3, 1, 0), LONDON, start, end)


def test_wrapping_window_closes_the_next_morning():
    start, end = time(20, 0), time(2, 0)
    assert window_closes_after(utc(2026, 12, 2, 21, 0), LONDON, start, end) == utc(2026, 12, 3, 2)
    assert window_closes_after(utc(2026, 12, 3, 1, 0), LONDON, start, end) == utc(2026, 12, 3, 2)


def test_other_time_zones_use_their_own_local_clock():
    # 03:00 in New York (EST, UTC-5) waits for 09:00 local = 14:00 UTC.
    due = utc(2026, 12, 2, 8, 0)
    assert next_send_time(due, "America/New_York", NINE, EIGHT_PM) == utc(2026, 12, 2, 14, 0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        next_send_time(datetime(2026, 12, 2, 3, 0), LONDON, NINE, EIGHT_PM)
