from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    direction: Literal["outbound", "inbound"]
    # Queued (outbound) or received (inbound).
    at: datetime
    body: str
    # Outbound: queued, sending, sent, delivered, undelivered, failed, unknown, cancelled.
    # Inbound: received.
    status: str
    # Outbound: checkin_prompt, checkin_reminder, crisis_reply, ...
    purpose: str | None
    check_in_id: uuid.UUID | None
    sent_at: datetime | None
    error_code: int | None
    # Inbound: what the reply was read as (score, ok, help, stop, start, free_text).
    kind: str | None
    score: int | None


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    # Trimmed, then 1 to 612 characters (four SMS segments); checked by the service. The
    # schema's own bound only stops an absurd body before it is read any further.
    body: Annotated[str, msgspec.Meta(max_length=10_000)]


class MessageList(msgspec.Struct):
    items: list[MessageOut]
    next_cursor: str | None
