"""Working-day deadlines for referrals.

Working days are Monday to Friday in the ward's time zone. Bank holidays are NOT skipped
(a referral made before a bank holiday gets one working day less); the escalation sweep
that acts on `respond_by` errs towards asking early, which is the safe side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from service.timezones import local_instant

RESPOND_WITHIN_WORKING_DAYS = 2


def add_working_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`days` weekdays after `start`, at the same local wall-clock time, returned in UTC.

    Friday 09:00 + 2 is Tuesday 09:00; Saturday or Sunday + 2 is Tuesday at that time. A
    time the target day lacks or repeats follows `local_instant` (never later than promised).
    """
    if start.tzinfo is None:
        raise ValueError("add_working_days needs an aware datetime")
    if days < 0:
        raise ValueError("days must not be negative")
    local = start.astimezone(tz)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return local_instant(day, local.time(), tz)
