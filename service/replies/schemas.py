from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

ReplyStatus = Literal["unread", "read"]
Severity = Literal["routine", "urgent"]


class ReplyOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    ward_id: uuid.UUID
    from_carer: bool
    body: str
    received_at: datetime
    status: ReplyStatus
    read_by: uuid.UUID | None
    read_at: datetime | None
    read_due_at: datetime
    read_note: str | None
    # How `unread_reply` is raised if the deadline passes; when it was, if it was.
    severity: Severity
    escalated_at: datetime | None


class ReplyList(msgspec.Struct):
    items: list[ReplyOut]
    next_cursor: str | None


class ReadIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
