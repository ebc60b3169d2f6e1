from __future__ import annotations

import uuid
from datetime import date, datetime
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


Said = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class YouSaidIn(msgspec.Struct, forbid_unknown_fields=True):
    """What the ward heard, what it changed and when; in general terms, with no names or other
    identifiers. `feedback_id` / `survey_id` point at the feedback it answers (optional)."""

    heard: Said
    changed: Said
    changed_on: date
    feedback_id: uuid.UUID | None = None
    survey_id: uuid.UUID | None = None


class YouSaidOut(msgspec.Struct):
    id: uuid.UUID
    ward_id: uuid.UUID
    heard: str
    changed: str
    changed_on: date
    feedback_id: uuid.UUID | None
    survey_id: uuid.UUID | None
    recorded_by: uuid.UUID | None
    created_at: datetime


class YouSaidList(msgspec.Struct):
    items: list[YouSaidOut]


class AnswerCount(msgspec.Struct):
    score: int
    label: str
    count: int


class Comment(msgspec.Struct):
    """A free-text answer: the words and the date, never who said them. `id` is the record
    behind it (an FFT survey or a feedback record)."""

    id: uuid.UUID
    kind: Literal["fft", "carer", "family", "patient", "other"]
    received_on: date
    text: str
    # "You said, we did" entries that answer this comment.
    answered_by: list[uuid.UUID]


class ListeningReport(msgspec.Struct):
    ward_id: uuid.UUID
    ward_name: str
    from_: datetime = msgspec.field(name="from")
    to: datetime
    generated_at: datetime
    # FFT surveys sent in the period (not scheduled or cancelled) and those answered.
    fft_sent: int
    fft_answered: int
    fft_response_rate: float | None
    fft_positive: int
    fft_positive_share: float | None
    fft_answers: list[AnswerCount]
    comments: list[Comment]
    you_said_we_did: list[YouSaidOut]
