from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.agencies.schemas import ConsentScope
from service.patient_access.referral_sharing import Sharing  # in_force | none | ended
from service.timezones import AwareDatetime

ReferralStatus = Literal["pending", "accepted", "declined", "withdrawn", "completed"]
ClosedReason = Literal["consent_ended"]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class ReferralConsent(msgspec.Struct, forbid_unknown_fields=True):
    """The patient's consent to share with the referred agency, recorded with the referral
    (the same rules as POST .../consents; the agency is the referral's)."""

    scope: ConsentScope
    given_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None


class ReferralCreate(msgspec.Struct, forbid_unknown_fields=True):
    patient_id: uuid.UUID
    agency_id: uuid.UUID
    reason: Reason
    goal_id: uuid.UUID | None = None
    # Defaults to 2 working days (Mon-Fri in the ward's time zone) after now.
    respond_by: AwareDatetime | None = None
    # Needed unless a consent to share with the agency is already in force (else 422).
    consent: ReferralConsent | None = None


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
    # goal_id, reason, decline_reason, on_hold_since and history are null/empty for an
    # agency while no consent to share with it is in force (`sharing` is not "in_force").
    goal_id: uuid.UUID | None
    reason: str | None
    status: ReferralStatus
    # "consent_ended": closed because the consent to share with the agency ended.
    closed_reason: ClosedReason | None
    sharing: Sharing
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
    # goal_id, reason, decline_reason, on_hold_since and history are null/empty for an
    # agency while no consent to share with it is in force (`sharing` is not "in_force").
    goal_id: uuid.UUID | None
    reason: str | None
    status: ReferralStatus
    # "consent_ended": closed because the consent to share with the agency ended.
    closed_reason: ClosedReason | None
    sharing: Sharing
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
