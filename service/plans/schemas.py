from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

MAX_ITEMS = 30
MAX_CRISIS_CONTACTS = 10

Item = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Items = Annotated[list[Item], msgspec.Meta(max_length=MAX_ITEMS)]
Question = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=300,
        description="the patient's own check-in question, sent by SMS (default wording if null)",
    ),
]


class CrisisContact(msgspec.Struct, forbid_unknown_fields=True):
    """`phone` may be a landline; it is stored in E.164 (UK national form accepted)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    relationship: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    phone: Annotated[str, msgspec.Meta(min_length=3, max_length=32)]


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    """The whole plan: each PUT stores a new version; earlier versions stay readable."""

    early_warning_signs: Items = msgspec.field(default_factory=list)
    triggers: Items = msgspec.field(default_factory=list)
    coping_strategies: Items = msgspec.field(default_factory=list)
    crisis_contacts: Annotated[
        list[CrisisContact], msgspec.Meta(max_length=MAX_CRISIS_CONTACTS)
    ] = msgspec.field(default_factory=list)
    check_in_question: Question | None = None


class PlanOut(msgspec.Struct):
    patient_id: uuid.UUID
    version: int
    created_at: datetime
    created_by: uuid.UUID | None
    early_warning_signs: list[str]
    triggers: list[str]
    coping_strategies: list[str]
    crisis_contacts: list[CrisisContact]
    check_in_question: str | None


class PlanVersionList(msgspec.Struct):
    items: list[PlanOut]
    next_cursor: str | None


class ListChange(msgspec.Struct):
    """One list of the plan between two versions: what is new, what is gone (in their order)."""

    added: list[str]
    removed: list[str]


class ContactChange(msgspec.Struct):
    """A crisis contact kept by name whose relationship or number changed."""

    before: CrisisContact
    after: CrisisContact


class PlanDiff(msgspec.Struct):
    """What changed from version `from_version` to `to_version` (`plans.diff.diff_plans`)."""

    from_version: int
    to_version: int
    early_warning_signs: ListChange
    triggers: ListChange
    coping_strategies: ListChange
    crisis_contacts_added: list[CrisisContact]
    crisis_contacts_removed: list[CrisisContact]
    crisis_contacts_changed: list[ContactChange]
    check_in_question_changed: bool
    check_in_question_before: str | None
    check_in_question_after: str | None

    @property
    def unchanged(self) -> bool:
        lists = (self.early_warning_signs, self.triggers, self.coping_strategies)
        return not (
            any(c.added or c.removed for c in lists)
            or self.crisis_contacts_added
            or self.crisis_contacts_removed
            or self.crisis_contacts_changed
            or self.check_in_question_changed
        )
