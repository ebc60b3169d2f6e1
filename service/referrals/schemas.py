from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.timezones import AwareDatetime

ReferralStatus = Literal["pending", "accepted", "declined", "withdrawn", "completed"]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class ReferralCreate(msgspec.Struct, forbid_unknown_fields=True):
    patient_id: uuid.UUID
    agency_id: uuid.UUID
    reason: Reason
    goal_id: uuid.UUID | None = None
    # Defaults to 2 working days (Mon-Fri in the ward's time zone) after now.
    respond_by: AwareDatetime | None = None


class ReferralDecline(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class ReferralNote(msgspec.Struct, forbid_unknown_fields=True):
    """Optional note kept in the status history."""

    reason: Reason | None = None


class StatusChangeOut(msgspec.Struct):
    from_status: ReferralStatus | None = msgspec.field(name="from")
    to_status: ReferralStatus = msgspec.field(name="to")
    at: datetime
    # The user who made the change; null when the system did.
    by: uuid.UUID | None
    reason: str | None


class ReferralOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    agency_id: uuid.UUID
    goal_id: uuid.UUID | None
    reason: str
    status: ReferralStatus
    respond_by: datetime
    responded_at: datetime | None
    decline_reason: str | None
    # Set while the ward has paused community work with the patient (from a readmission to
    # the next discharge): wait for the ward before further contact. Null otherwise.
    on_hold_since: datetime | None
    created_at: datetime


class ReferralDetail(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    agency_id: uuid.UUID
    goal_id: uuid.UUID | None
    reason: str
    status: ReferralStatus
    respond_by: datetime
    responded_at: datetime | None
    decline_reason: str | None
    # Set while the ward has paused community work with the patient (from a readmission to
    # the next discharge): wait for the ward before further contact. Null otherwise.
    on_hold_since: datetime | None
    created_at: datetime
    # Every status the referral has had, oldest first (creation has `from: null`).
    history: list[StatusChangeOut]


class ReferralList(msgspec.Struct):
    items: list[ReferralOut]
    next_cursor: str | None
