from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.timezones import AwareDatetime

SupportActionKind = Literal[
    "visit",
    "phone_call",
    "appointment",
    "housing_secured",
    "employment_started",
    "benefits_claimed",
    "peer_session",
    "did_not_attend",
    "other",
]


class SupportActionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """The agency is the caller's own: sending `agency_id` (or any other field) is a 422."""

    kind: SupportActionKind
    # Defaults to now; may not be in the future.
    occurred_at: AwareDatetime | None = None
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class SupportActionOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    agency_id: uuid.UUID
    kind: SupportActionKind
    occurred_at: datetime
    note: str | None
    recorded_by: uuid.UUID


class SupportActionList(msgspec.Struct):
    items: list[SupportActionOut]
    next_cursor: str | None
