"""What paging needs to know about this process's channels, set once at start-up.

Staff alerts are queued from requests and sweeps alike, deep in the domain, and need two
facts from the configuration: where the ward board is (the link alerts carry) and whether
staff email is on (SMTP_URL set), which decides whether a person without a mobile can be
reached at all. The app and the worker call `configure_staff_channels` when they start,
next to wiring the outbox hooks; until then email is off and the link is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.settings import Settings


@dataclass(frozen=True)
class StaffChannels:
    board_url: str = "http://127.0.0.1:8000/board"
    email: bool = False


_CURRENT: list[StaffChannels] = [StaffChannels()]


def configure_staff_channels(settings: Settings) -> StaffChannels:
    channels = StaffChannels(
        board_url=settings.public_base_url.rstrip("/") + "/board",
        email=settings.smtp_url is not None,
    )
    _CURRENT[0] = channels
    return channels


def set_staff_channels(channels: StaffChannels) -> None:
    """Put back channels read from `staff_channels` (tests that switch email on)."""
    _CURRENT[0] = channels


def staff_channels() -> StaffChannels:
    return _CURRENT[0]
