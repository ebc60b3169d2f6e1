"""Contact windows (quiet hours) in the patient's own time zone. Pure functions, no I/O.

A window is a local wall-clock interval [start, end): `09:00-20:00`, or one that wraps
midnight such as `20:00-02:00`. start == end means "any time". Arithmetic happens on local
calendar dates and is converted to UTC at the end, so clock changes (e.g. the UK's last
Sundays of March and October) move the UTC instant, never the local opening time. Openings
and closings are `service.timezones.local_instant` of the window's start and end (a start
inside the spring gap opens when the clocks jump; one in the repeated autumn hour opens at
its first occurrence).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.timezones import local_instant


def in_window(local: time, start: time, end: time) -> bool:
    """Whether a local wall-clock time falls inside [start, end), wrapping midnight if needed."""
    local = local.replace(tzinfo=None)
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def is_open(at: datetime, tz_name: str, start: time, end: time) -> bool:
    _require_aware(at)
    return in_window(at.astimezone(ZoneInfo(tz_name)).time(), start, end)


def next_send_time(at: datetime, tz_name: str, start: time, end: time) -> datetime:
    """`at` itself when the window is open then; otherwise the window's next opening (UTC)."""
    _require_aware(at)
    at = at.astimezone(UTC)
    if is_open(at, tz_name, start, end):
        return at
    local_day = at.astimezone(ZoneInfo(tz_name)).date()
    for days in range(3):
        opening = local_instant(local_day + timedelta(days=days), start, tz_name)
        if opening > at:
            return opening
    raise AssertionError("a daily window opens within two days")  # pragma: no cover


def window_closes_after(at: datetime, tz_name: str, start: time, end: time) -> datetime | None:
    """When the window that is open at `at` closes (UTC); None when it never closes."""
    _require_aware(at)
    if start == end or not is_open(at, tz_name, start, end):
        return None
    tz = ZoneInfo(tz_name)
    local = at.astimezone(tz)
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)
    return local_instant(day, end, tz_name)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime refused")
