from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from service.goals.schemas import GoalOut
from service.plans.schemas import CrisisContact, PlanOut

AgencyKind = Literal[
    "housing",
    "employment",
    "benefits",
    "peer_support",
    "community_mental_health",
    "substance_use",
    "gp",
    "other",
]
ConsentScope = Literal["contact_details", "plan", "full"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]


class AgencyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: AgencyKind
    email: Email | None = None
    phone: Phone | None = None
    active: bool = True


class AgencyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change; `null` clears email or phone."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    kind: AgencyKind | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType | None = msgspec.UNSET
    phone: Phone | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class AgencyOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    kind: AgencyKind
    email: str | None
    phone: str | None
    active: bool


class AgencyList(msgspec.Struct):
    items: list[AgencyOut]
    next_cursor: str | None


class AgencyPatientOut(msgspec.Struct):
    """A patient as an agency worker sees them: only what the widest consent in force allows.

    * `contact_details`: id, name, mobile, key worker (always present);
    * `plan`: + `goals` (only those owned by the caller's agency) and `crisis_contacts` (of
      the current relapse-prevention plan; empty when there is no plan);
    * `full`: + `relapse_prevention_plan` (the current version, null when there is none).

    Fields outside the scope are absent, not null. Never: NHS number, date of birth, ward,
    status, other agencies' goals. (Check-in history joins `full` with the check-ins work.)
    """

    id: uuid.UUID
    scope: ConsentScope
    given_name: str
    family_name: str
    mobile: str | None
    key_worker_id: uuid.UUID | None
    key_worker_name: str | None
    goals: list[GoalOut] | msgspec.UnsetType = msgspec.UNSET
    crisis_contacts: list[CrisisContact] | msgspec.UnsetType = msgspec.UNSET
    relapse_prevention_plan: PlanOut | msgspec.UnsetType | None = msgspec.UNSET


class AgencyPatientList(msgspec.Struct):
    items: list[AgencyPatientOut]
    next_cursor: str | None
