from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Reason = Literal[
    "no_reply",
    "undeliverable",
    "low_score",
    "help_request",
    "opted_out",
    "follow_up_due",
    "agency_concern",
    "referral_unanswered",
    "unread_reply",
]
Severity = Literal["routine", "urgent"]
Status = Literal["open", "acknowledged", "resolved"]
# What staff may record when they resolve (db.models.escalations.STAFF_OUTCOMES).
StaffOutcome = Literal[
    "contacted_patient_safe",
    "contacted_patient_needs_support",
    "could_not_contact",
    "duplicate",
    "other",
]
# Plus what the system records when it closes one (db.models.escalations.SYSTEM_OUTCOMES).
Outcome = Literal[
    "contacted_patient_safe",
    "contacted_patient_needs_support",
    "could_not_contact",
    "duplicate",
    "other",
    "source_dealt_with",
    "patient_admitted",
]


class EscalationEventOut(msgspec.Struct):
    occurred_at: datetime
    kind: str
    actor_id: uuid.UUID | None
    actor_role: str | None
    from_status: str | None
    to_status: str | None
    level: int
    note: str | None


class EscalationOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    ward_id: uuid.UUID
    reason: Reason
    severity: Severity
    level: int
    status: Status
    opened_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    # Set when acknowledged; past it, unresolved, the escalation re-opens one level up.
    resolve_due_at: datetime | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_outcome: Outcome | None
    resolution_note: str | None
    note: str | None
    source_type: str
    source_id: str
    # Set on the follow-on raised when staff could not contact the patient (urgent only).
    follow_on_of: uuid.UUID | None
    # The short reference staff alerts quote (e.g. "3F2A-9C1B"); `?ref=` finds it.
    ref: str


class EscalationDetail(EscalationOut):
    events: list[EscalationEventOut] = msgspec.field(default_factory=list)


class EscalationList(msgspec.Struct):
    items: list[EscalationOut]
    next_cursor: str | None


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    """Both fields are required, for every outcome (`other` and `duplicate` included): the note
    says what was done. `could_not_contact` on an urgent escalation opens a follow-on."""

    resolution_outcome: StaffOutcome
    resolution_note: Annotated[str, msgspec.Meta(max_length=4000)]


class ConcernIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    urgent: bool = False


class ConcernOut(msgspec.Struct):
    """What the raiser learns: the escalation exists and how it is classed, nothing more."""

    escalation_id: uuid.UUID
    patient_id: uuid.UUID
    severity: Severity
    status: Status
    opened_at: datetime
