from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec


class AuditEventOut(msgspec.Struct):
    """`detail` holds field names and ids only, never patient data."""

    id: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str
    outcome: Literal["allowed", "denied"]
    patient_id: uuid.UUID | None
    ward_id: uuid.UUID | None
    object_type: str | None
    object_id: str | None
    request_id: str | None
    detail: dict[str, Any] | None


class AuditEventList(msgspec.Struct):
    items: list[AuditEventOut]
    next_cursor: str | None
