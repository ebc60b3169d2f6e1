from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.checkin_defaults import OffsetHours, ReminderAfter, ReplyWindow
from service.timezones import AwareDatetime

CheckInStatus = Literal[
    "scheduled", "sent", "reminded", "answered", "missed", "cancelled", "skipped"
]


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
