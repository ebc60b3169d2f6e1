"""The one wall-clock-to-instant rule, worked by hand on London's 2027 clock changes.

Clocks go forward on Sunday 28 March 2027 at 01:00 UTC (01:00 GMT becomes 02:00 BST) and
back on Sunday 31 October 2027 at 01:00 UTC (02:00 BST becomes 01:00 GMT).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from service.board.service import today_bounds
from service.checkins.windows import is_open, next_send_time, window_closes_after
from service.referrals.deadlines import add_working_days
from service.timezones import local_instant

LONDON = ZoneInfo("Europe/London")
SPRING, AUTUMN = date(2027, 3, 28), date(2027, 10, 31)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_an_ordinary_time_is_that_reading_of_the_clock():
    assert local_instant(date(2027, 1, 12), time(9, 0), LONDON) == utc(2027, 1, 12, 9, 0)
    assert local_instant(date(2027, 7, 12), time(9, 0), "Europe/London") == utc(2027, 7, 12, 8)


def test_a_time_in_the_spring_gap_is_the_moment_the_clocks_jump():
    # 01:00, 01:30 and 01:59:59 never show; the clock goes from 00:59:59 GMT to 02:00 BST.
    for wall in (time(1, 0), time(1, 30), time(1, 59, 59)):
        assert local_instant(SPRING, wall, LONDON) == utc(2027, 3, 28, 1, 0), wall
    # Either side of the gap: 00:59 GMT and 02:00 BST.
    assert local_instant(SPRING, time(0, 59), LONDON) == utc(2027, 3, 28, 0, 59)
    assert local_instant(SPRING, time(2, 0), LONDON) == utc(2027, 3, 28, 1, 0)


def test_a_repeated_autumn_time_is_its_first_occurrence():
    # 01:30 shows at 00:30 UTC (BST) and again at 01:30 UTC (GMT): the first one counts.
    assert local_instant(AUTUMN, time(1, 30), LONDON) == utc(2027, 10, 31, 0, 30)
    assert local_instant(AUTUMN, time(1, 0), LONDON) == utc(2027, 10, 31, 0, 0)
    # 02:00 shows once, in GMT.
    assert local_instant(AUTUMN, time(2, 0), LONDON) == utc(2027, 10, 31, 2, 0)


def test_a_window_starting_in_the_gap_opens_when_the_clocks_jump_and_is_open_then():
    start, end = time(1, 30), time(8, 0)
    due = utc(2027, 3, 28, 0, 15)  # 00:15 GMT, before the window
    assert next_send_time(due, "Europe/London", start, end) == utc(2027, 3, 28, 1, 0)
    assert is_open(utc(2027, 3, 28, 1, 0), "Europe/London", start, end)  # 02:00 BST


def test_a_window_ending_in_the_repeated_hour_closes_at_its_first_occurrence():
    start, end = time(22, 0), time(1, 30)
    at = utc(2027, 10, 30, 22, 0)  # 23:00 BST on the Saturday
    assert window_closes_after(at, "Europe/London", start, end) == utc(2027, 10, 31, 0, 30)


def test_a_deadline_landing_in_a_gap_or_a_repeat_is_never_later_than_promised():
    # London changes clocks on Sundays, which working days skip; these zones change midweek.
    # Jerusalem, Friday 26 March 2027: 02:00 IST (UTC+2) jumps to 03:00 IDT at 00:00 UTC.
    # Wednesday 02:30 IST (00:30 UTC) + 2 working days = Friday 02:30, which does not exist.
    jerusalem = ZoneInfo("Asia/Jerusalem")
    assert add_working_days(utc(2027, 3, 24, 0, 30), 2, jerusalem) == utc(2027, 3, 26, 0, 0)
    # Cairo, Thursday 28 October 2027: 24:00 EEST (UTC+3) goes back to 23:00 EET at 21:00 UTC,
    # so 23:30 shows at 20:30 UTC and again at 21:30 UTC. Tuesday 23:30 EEST (20:30 UTC) + 2
    # working days = Thursday 23:30, first occurrence.
    cairo = ZoneInfo("Africa/Cairo")
    assert add_working_days(utc(2027, 10, 26, 20, 30), 2, cairo) == utc(2027, 10, 28, 20, 30)


def test_the_board_day_is_23_hours_in_spring_and_25_in_autumn():
    assert today_bounds(utc(2027, 3, 28, 12, 0), LONDON) == (
        utc(2027, 3, 28, 0, 0),  # midnight GMT
        utc(2027, 3, 28, 23, 0),  # midnight BST
    )
    assert today_bounds(utc(2027, 10, 31, 12, 0), LONDON) == (
        utc(2027, 10, 30, 23, 0),  # midnight BST
        utc(2027, 11, 1, 0, 0),  # midnight GMT
    )
