from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

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
    """A patient as an agency sees them: only what the widest consent in force allows.

    `contact_details` fields are always present. hook: when goals and the relapse-prevention
    plan land, add `goals` and `crisis_contacts` (scope `plan`) and `relapse_prevention_plan`
    and `check_ins` (scope `full`) here as `msgspec.UNSET`-able fields, filled through
    `service.agencies.visibility.project_patient`.
    """

    id: uuid.UUID
    scope: ConsentScope
    given_name: str
    family_name: str
    mobile: str | None
    key_worker_id: uuid.UUID | None
    key_worker_name: str | None


class AgencyPatientList(msgspec.Struct):
    items: list[AgencyPatientOut]
    next_cursor: str | None
