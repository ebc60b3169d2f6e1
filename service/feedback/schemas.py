from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from service.timezones import AwareDatetime

Source = Literal["carer", "family", "patient", "other"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Relationship = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    source: Source
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    received_at: AwareDatetime
    relationship: Relationship | None = None
    given_by: Name | None = None


class FeedbackOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    source: Source
    relationship: str | None
    given_by: str | None
    text: str
    received_at: datetime
    recorded_by: uuid.UUID | None
    created_at: datetime


class FeedbackList(msgspec.Struct):
    items: list[FeedbackOut]
    next_cursor: str | None


class CarerIn(msgspec.Struct, forbid_unknown_fields=True):
    """The nominated carer. Contact needs `consent_to_contact` with `consent_given_at`;
    setting `consent_withdrawn_at` ends it."""

    name: Name
    relationship: Relationship | None = None
    mobile: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    consent_to_contact: bool = False
    consent_given_at: AwareDatetime | None = None
    consent_withdrawn_at: AwareDatetime | None = None


class CarerOut(msgspec.Struct):
    patient_id: uuid.UUID
    name: str
    relationship: str | None
    mobile: str | None
    consent_to_contact: bool
    consent_given_at: datetime | None
    consent_withdrawn_at: datetime | None
    consent_in_force: bool
    # The carer texted STOP (START undoes it): no carer notices meanwhile.
    sms_opted_out: bool
    updated_at: datetime
