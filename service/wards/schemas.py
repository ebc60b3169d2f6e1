from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from service.standards import CRISIS_ROUTES
from service.timezones import DEFAULT_TIMEZONE

Minutes = Annotated[int, msgspec.Meta(ge=1, le=7 * 24 * 60)]


class AckMinutes(msgspec.Struct, forbid_unknown_fields=True):
    """Minutes to acknowledge at levels 1, 2 and 3."""

    urgent: Annotated[list[Minutes], msgspec.Meta(min_length=3, max_length=3)] = msgspec.field(
        default_factory=lambda: [15, 30, 60]
    )
    routine: Annotated[list[Minutes], msgspec.Meta(min_length=3, max_length=3)] = msgspec.field(
        default_factory=lambda: [240, 480, 1440]
    )


class EscalationPolicy(msgspec.Struct, forbid_unknown_fields=True):
    ack_minutes: AckMinutes = msgspec.field(default_factory=AckMinutes)
    on_call_phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    crisis_phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    # Minutes a free-text reply may wait unread before it raises `unread_reply`.
    read_minutes: Minutes = 60
    # Staff alerts by email (when SMTP is set up): only when the text cannot reach the
    # person (`fallback`), or always as well as the text (`always`).
    staff_email: Literal["fallback", "always"] = "fallback"


class WardCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = DEFAULT_TIMEZONE
    # Sent as written, with the ward's own number added when set (wards.service.crisis_reply).
    crisis_message: Annotated[str, msgspec.Meta(min_length=1, max_length=600)] = CRISIS_ROUTES
    escalation_policy: EscalationPolicy = msgspec.field(default_factory=EscalationPolicy)


class WardOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    timezone: str
    crisis_message: str
    escalation_policy: EscalationPolicy


class WardList(msgspec.Struct):
    items: list[WardOut]
    next_cursor: str | None
