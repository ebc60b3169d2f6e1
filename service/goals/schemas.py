from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

GoalDomain = Literal[
    "housing",
    "employment_education",
    "finances",
    "physical_health",
    "medication",
    "relationships",
    "daily_living",
    "substance_use",
    "other",
]
GoalStatus = Literal["proposed", "active", "on_hold", "achieved", "not_achieved", "cancelled"]
Description = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class GoalCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new goal starts `proposed` unless another open status (`active`, `on_hold`) is given."""

    domain: GoalDomain
    description: Description
    target_date: date | None = None
    status: GoalStatus = "proposed"
    owner_agency_id: uuid.UUID | None = None


class GoalUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change; `null` clears an optional field. `achieved`,
    `not_achieved` and `cancelled` are final: moving a goal out of them answers 409."""

    domain: GoalDomain | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    target_date: date | msgspec.UnsetType | None = msgspec.UNSET
    status: GoalStatus | msgspec.UnsetType = msgspec.UNSET
    owner_agency_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET


class StatusChangeOut(msgspec.Struct):
    at: datetime
    by: uuid.UUID | None
    from_: GoalStatus | None = msgspec.field(name="from")
    to: GoalStatus = msgspec.field(name="to")


class GoalOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    domain: GoalDomain
    description: str
    target_date: date | None
    status: GoalStatus
    owner_agency_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class GoalDetail(GoalOut):
    """A goal with every status it has had, oldest first (`from` is null at creation)."""

    status_history: list[StatusChangeOut]


class GoalList(msgspec.Struct):
    items: list[GoalOut]
    next_cursor: str | None
