from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.timezones import AwareDatetime

# Human contact only: there is deliberately no `sms` method.
ContactMethod = Literal["face_to_face", "phone", "video", "other"]
FollowUpStatus = Literal["pending", "completed", "breached"]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class AttemptIn(msgspec.Struct, forbid_unknown_fields=True):
    """A contact attempt by a person. A successful one completes a pending or breached
    follow-up; `note` becomes its outcome."""

    occurred_at: AwareDatetime
    method: ContactMethod
    successful: bool
    note: Note | None = None


class AttemptOut(msgspec.Struct):
    id: uuid.UUID
    follow_up_id: uuid.UUID
    occurred_at: datetime
    method: ContactMethod
    successful: bool
    note: str | None
    recorded_by: uuid.UUID | None
    recorded_at: datetime


class FollowUpOut(msgspec.Struct):
    """`breached_at` stays set when a late contact later completes a breached follow-up."""

    id: uuid.UUID
    patient_id: uuid.UUID
    episode_id: uuid.UUID
    due_at: datetime
    status: FollowUpStatus
    completed_at: datetime | None
    method: ContactMethod | None
    outcome: str | None
    suicide_risk: bool
    breached_at: datetime | None
    attempts: list[AttemptOut]


class FollowUpList(msgspec.Struct):
    items: list[FollowUpOut]
    next_cursor: str | None
