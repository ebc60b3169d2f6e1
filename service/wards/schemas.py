from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from service.checkin_defaults import CheckInDefaults
from service.standards import CRISIS_ROUTES
from service.timezones import DEFAULT_TIMEZONE, AwareDatetime

Minutes = Annotated[int, msgspec.Meta(ge=1, le=7 * 24 * 60)]


class AckMinutes(msgspec.Struct, forbid_unknown_fields=True):
    """Minutes to acknowledge at levels 1, 2 and 3."""

    urgent: Annotated[list[Minutes], msgspec.Meta(min_length=3, max_length=3)] = msgspec.field(
        default_factory=lambda: [15, 30, 60]
    )
    routine: Annotated[list[Minutes], msgspec.Meta(min_length=3, max_length=3)] = msgspec.field(
        default_factory=lambda: [240, 480, 1440]
    )


# Time from acknowledging to resolving: at least 15 minutes to act, at most 3 days of quiet.
ResolveBy = Annotated[int, msgspec.Meta(ge=15, le=3 * 24 * 60)]


class ResolveMinutes(msgspec.Struct, forbid_unknown_fields=True):
    """Minutes an acknowledged escalation may stay unresolved before it re-opens a level up."""

    urgent: ResolveBy = 240
    routine: ResolveBy = 1440


class EscalationPolicy(msgspec.Struct, forbid_unknown_fields=True):
    ack_minutes: AckMinutes = msgspec.field(default_factory=AckMinutes)
    resolve_minutes: ResolveMinutes = msgspec.field(default_factory=ResolveMinutes)
    on_call_phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    crisis_phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    # Minutes a free-text reply may wait unread before it raises `unread_reply`.
    read_minutes: Minutes = 60
    # Staff alerts by email (when SMTP is set up): only when the text cannot reach the
    # person (`fallback`), or always as well as the text (`always`).
    staff_email: Literal["fallback", "always"] = "fallback"
    # The check-in schedule new patients of the ward start with.
    check_ins: CheckInDefaults = msgspec.field(default_factory=CheckInDefaults)


def _partial(struct: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """`struct` with every field optional (absent = unchanged), nested structs likewise, and
    the same bounds: a PATCH body follows the policy's schema, including fields added to it
    later, without a second copy to keep in step."""
    fields: list[tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(struct):
        kind = info.type
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            kind = _partial(kind)
        fields.append((info.name, kind | msgspec.UnsetType, msgspec.UNSET))
    return msgspec.defstruct(
        f"{struct.__name__}Change",
        fields,
        forbid_unknown_fields=True,
        module=__name__,
    )


# A nested partial policy: the fields given are merged into the stored policy.
EscalationPolicyChange = _partial(EscalationPolicy)

WardName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TimezoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
CrisisMessage = Annotated[str, msgspec.Meta(min_length=1, max_length=600)]


class WardCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: WardName
    timezone: TimezoneName = DEFAULT_TIMEZONE
    # Sent as written, with the ward's own number added when set (wards.service.crisis_reply).
    crisis_message: CrisisMessage = CRISIS_ROUTES
    escalation_policy: EscalationPolicy = msgspec.field(default_factory=EscalationPolicy)


class WardUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; `escalation_policy` may itself be partial."""

    name: WardName | msgspec.UnsetType = msgspec.UNSET
    timezone: TimezoneName | msgspec.UnsetType = msgspec.UNSET
    crisis_message: CrisisMessage | msgspec.UnsetType = msgspec.UNSET
    escalation_policy: EscalationPolicyChange | msgspec.UnsetType = msgspec.UNSET  # type: ignore[valid-type]


class WardOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    timezone: str
    crisis_message: str
    escalation_policy: EscalationPolicy


class WardList(msgspec.Struct):
    items: list[WardOut]
    next_cursor: str | None


class ShiftIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class ShiftOut(msgspec.Struct):
    id: uuid.UUID
    ward_id: uuid.UUID
    user_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    # Whether the shift covers the time of the request (who would be paged now).
    on_call_now: bool


class ShiftList(msgspec.Struct):
    items: list[ShiftOut]
    next_cursor: str | None
