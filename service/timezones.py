"""Time zones: IANA names, the default zone, and the one rule from a local wall-clock time
to an instant.

Local time matters only for patients' contact windows, working-day deadlines and the
board's day; everything stored is an aware UTC instant. Every conversion from a wall-clock
reading (a date and a time in a zone) to an instant goes through `local_instant`, so a
clock change is handled the same way everywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from service.errors import InvalidInput

# Every timestamp a request body carries: an offset is required, so a naive time is refused
# while decoding (422 naming the field), before any service sees it.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with offset")]

# The zone of a ward created without one, and of pages shown to callers without a ward.
DEFAULT_TIMEZONE = "Europe/London"


def check_timezone(name: str, field: str = "timezone") -> str:
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise InvalidInput.field(field, "is not an IANA time zone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.field(field, "is not an IANA time zone name") from None
    return name


def local_instant(day: date, wall: time, zone: str | ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock in `zone` reads `wall` or later on `day`.

    - A repeated time (clocks going back: 01:30 twice in London on 31 October 2027) takes
      its first occurrence (00:30 UTC, still BST).
    - A time that does not exist (clocks going forward: 01:30 in London on 28 March 2027)
      becomes the moment the clocks jump (01:00 UTC, when the clock reads 02:00 BST).

    Why: both choices give the earliest instant the local clock shows `wall` or later, which
    is exactly when `in_window` starts answering "open" (so a window opens when its start
    first shows, and closes when its end first shows, never inside hours the patient did not
    choose), and a deadline built from it is never later than the wall-clock time promised
    (the sweeps that act on deadlines err towards asking early). Moving a gap time forward
    by the gap's length instead (PEP 495's fold=0) would open a window half an hour after
    the clock already read a time inside it, and make deadlines late.
    """
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    naive = datetime.combine(day, wall.replace(tzinfo=None))
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # A gap: fold=1 reads the wall time with the offset after the jump (an earlier instant),
    # fold=0 with the offset before it (a later one); the jump lies between. Find it to the
    # second (zone transitions fall on whole seconds).
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0) if high.microsecond else high
