from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from service.timezones import AwareDatetime

PatientStatus = Literal["inpatient", "discharged", "readmitted", "closed"]
# Checked in the service (length, digits, modulus 11) so each failure names its reason.
NhsNumberIn = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]
TimeZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ClockTime = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="local time HH:MM (24-hour)",
        examples=["09:00"],
    ),
]
Language = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        max_length=16,
        description="BCP 47 language tag, e.g. en, cy, pl, pa-IN",
    ),
]
Destination = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PatientCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Registers a patient on the caller's ward and opens their first stay (episode).

    `ward_id` may be omitted; if given it must be the caller's own ward. `timezone` defaults
    to the ward's. `admitted_at` (default: now) starts the first episode.
    """

    nhs_number: NhsNumberIn
    given_name: Name
    family_name: Name
    date_of_birth: date
    mobile: Phone | None = None
    timezone: TimeZoneName | None = None
    contact_window_start: ClockTime = "09:00"
    contact_window_end: ClockTime = "20:00"
    language: Language = "en"
    discreet_messages: bool = False
    sms_consent: bool = False
    key_worker_id: uuid.UUID | None = None
    ward_id: uuid.UUID | None = None
    admitted_at: AwareDatetime | None = None


class PatientUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change; `null` clears an optional field.

    `status` accepts only `closed` (closing the record; refused while the patient is on the
    ward). Other statuses follow admissions and discharges.
    """

    nhs_number: NhsNumberIn | msgspec.UnsetType = msgspec.UNSET
    given_name: Name | msgspec.UnsetType = msgspec.UNSET
    family_name: Name | msgspec.UnsetType = msgspec.UNSET
    date_of_birth: date | msgspec.UnsetType = msgspec.UNSET
    mobile: Phone | msgspec.UnsetType | None = msgspec.UNSET
    timezone: TimeZoneName | msgspec.UnsetType = msgspec.UNSET
    contact_window_start: ClockTime | msgspec.UnsetType = msgspec.UNSET
    contact_window_end: ClockTime | msgspec.UnsetType = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    discreet_messages: bool | msgspec.UnsetType = msgspec.UNSET
    sms_consent: bool | msgspec.UnsetType = msgspec.UNSET
    key_worker_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    status: Literal["closed"] | msgspec.UnsetType = msgspec.UNSET


# `?monitoring=none`: patients at home who cannot be monitored by SMS; `sms`: those who can.
MonitoringFilter = Literal["none", "sms"]
MonitoringGapReason = Literal["opted_out", "no_consent", "no_mobile", "undeliverable"]


class MonitoringGapOut(msgspec.Struct):
    """Why a patient at home cannot be monitored by SMS (no check-ins reach them)."""

    reason: MonitoringGapReason
    # The same words staff see when a text to the patient is refused.
    detail: str


class PatientOut(msgspec.Struct):
    id: uuid.UUID
    ward_id: uuid.UUID
    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    mobile: str | None
    timezone: str
    contact_window_start: str
    contact_window_end: str
    language: str
    discreet_messages: bool
    sms_consent: bool
    sms_opted_out: bool
    key_worker_id: uuid.UUID | None
    status: PatientStatus
    created_at: datetime
    updated_at: datetime
    # Lists only (left out of single-patient answers): for a patient at home, why they cannot
    # be monitored by SMS; null when they can be, or are not at home.
    monitoring_gap: MonitoringGapOut | msgspec.UnsetType | None = msgspec.UNSET


class PatientList(msgspec.Struct):
    items: list[PatientOut]
    next_cursor: str | None


class AdmissionIn(msgspec.Struct, forbid_unknown_fields=True):
    admitted_at: AwareDatetime


class DischargeIn(msgspec.Struct, forbid_unknown_fields=True):
    """`suicide_risk` must be stated: with it the follow-up is due in 48 h, else 72 h."""

    discharged_at: AwareDatetime
    suicide_risk: bool
    destination: Destination | None = None


class SuicideRiskIn(msgspec.Struct, forbid_unknown_fields=True):
    """Risk recorded or cleared for the stay at home; the note goes to the audit trail only."""

    suicide_risk: bool
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class EpisodeOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    admitted_at: datetime
    discharged_at: datetime | None
    suicide_risk: bool | None
    destination: str | None
    readmission_of_episode_id: uuid.UUID | None
    readmitted_within_30_days: bool


class EpisodeList(msgspec.Struct):
    items: list[EpisodeOut]
    next_cursor: str | None
