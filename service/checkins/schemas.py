from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.timezones import AwareDatetime

CheckInStatus = Literal[
    "scheduled", "sent", "reminded", "answered", "missed", "cancelled", "skipped"
]
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


class ScheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    offsets_hours: Annotated[list[OffsetHours], msgspec.Meta(max_length=100)]
    reply_window_minutes: ReplyWindow
    reminder_after_minutes: ReminderAfter
    active: bool


class ScheduleOut(msgspec.Struct):
    offsets_hours: list[int]
    reply_window_minutes: int
    reminder_after_minutes: int
    active: bool
    # The discharge the offsets count from (null before the first discharge).
    started_at: datetime | None
    # Set while paused by a readmission.
    paused_at: datetime | None


class CheckInCreate(msgspec.Struct, forbid_unknown_fields=True):
    due_at: AwareDatetime
    reply_window_minutes: ReplyWindow | None = None
    reminder_after_minutes: ReminderAfter | None = None


class CheckInOut(msgspec.Struct):
    id: uuid.UUID
    due_at: datetime
    status: CheckInStatus
    sent_at: datetime | None
    answered_at: datetime | None
    score: int | None
    reply: str | None
    kind: Literal["scheduled", "extra"]
    # When a scheduled check-in will actually be sent (after quiet hours).
    send_at: datetime | None
    reminded_at: datetime | None
    closed_at: datetime | None
    status_reason: str | None
    reply_window_minutes: int
    reminder_after_minutes: int


class CheckInList(msgspec.Struct):
    items: list[CheckInOut]
    next_cursor: str | None
