"""The check-in schedule a patient starts with, and the bounds of any schedule: a leaf module
(it imports nothing of the service) because two packages own a part of it. `checkins` builds
schedules from it; `wards` keeps a ward's own defaults in its escalation policy. Neither may
import the other (checkins reaches wards through escalations and paging), so the rule lives
here, once."""

from __future__ import annotations

from typing import Annotated

import msgspec

OffsetHours = Annotated[int, msgspec.Meta(ge=1, le=24 * 7 * 52)]
ReplyWindow = Annotated[int, msgspec.Meta(ge=10, le=72 * 60)]
ReminderAfter = Annotated[int, msgspec.Meta(ge=5, le=72 * 60)]

# Daily for the first three days, then days 5 and 7, then weekly to 12 weeks.
DEFAULT_OFFSETS_HOURS: tuple[int, ...] = (
    24,
    48,
    72,
    120,
    168,
    *(24 * 7 * week for week in range(2, 13)),
)
DEFAULT_REPLY_WINDOW_MINUTES = 240
DEFAULT_REMINDER_AFTER_MINUTES = 120


class CheckInDefaults(msgspec.Struct, forbid_unknown_fields=True):
    """The check-in schedule a patient of this ward starts with (a patient's own schedule,
    once set, is theirs: a change here reaches schedules created after it)."""

    offsets_hours: Annotated[list[OffsetHours], msgspec.Meta(min_length=1, max_length=100)] = (
        msgspec.field(default_factory=lambda: list(DEFAULT_OFFSETS_HOURS))
    )
    reply_window_minutes: ReplyWindow = DEFAULT_REPLY_WINDOW_MINUTES
    reminder_after_minutes: ReminderAfter = DEFAULT_REMINDER_AFTER_MINUTES

    def __post_init__(self) -> None:
        if self.reminder_after_minutes >= self.reply_window_minutes:
            # msgspec turns this into a validation error naming the field's path.
            raise ValueError("reminder_after_minutes must be less than reply_window_minutes")
        self.offsets_hours = sorted(set(self.offsets_hours))
