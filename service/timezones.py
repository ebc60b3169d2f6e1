"""IANA time zone names, checked against the tz database shipped with Python/tzdata."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.errors import InvalidInput


def check_timezone(name: str, field: str = "timezone") -> str:
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise InvalidInput.field(field, "is not an IANA time zone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.field(field, "is not an IANA time zone name") from None
    return name
