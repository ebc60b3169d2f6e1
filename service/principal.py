"""Who is calling: the authenticated user as the domain services see them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "ward_manager", "ward_staff", "agency_worker"]
WARD_ROLES: frozenset[str] = frozenset({"ward_manager", "ward_staff"})


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    role: Role
    ward_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    request_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_ward_member(self) -> bool:
        return self.role in WARD_ROLES

    @property
    def is_agency_worker(self) -> bool:
        return self.role == "agency_worker"

    @property
    def staff_ward(self) -> uuid.UUID | None:
        """The ward whose records this caller works on as staff; None for everyone else."""
        return self.ward_id if self.is_ward_member else None


@dataclass(frozen=True, slots=True)
class SystemActor:
    """Jobs and the CLI act as the system; audit rows record them with no user id."""

    name: str
    request_id: str | None = None
