"""Who is calling: the authenticated user as the domain services see them, and the role sets.

Role names and the sets of roles that routes and rules allow are spelled here and nowhere
else in the service (the users table's CHECK constraint keeps its own copy in db/, which a
test holds equal to `ROLES`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Role = Literal["admin", "ward_manager", "ward_staff", "agency_worker"]
ROLES: tuple[Role, ...] = get_args(Role)

# The sets that route guards (service.http.auth.roles) and domain rules name.
ADMIN: frozenset[Role] = frozenset({"admin"})
WARD: frozenset[Role] = frozenset({"ward_manager", "ward_staff"})
AGENCY: frozenset[Role] = frozenset({"agency_worker"})
MANAGER_AND_ADMIN: frozenset[Role] = frozenset({"ward_manager", "admin"})
WARD_AND_ADMIN: frozenset[Role] = WARD | ADMIN
ANY_USER: frozenset[Role] = frozenset(ROLES)

# System actors are recorded as "system:<name>", cut to the audit log's actor_role column.
ACTOR_ROLE_LENGTH = 20


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    role: Role
    ward_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    request_id: str | None = None
    # Until a forced password change is done, only a few routes answer (service.http.auth).
    must_change_password: bool = False
    # The bearer token this caller came with, so signing out can revoke exactly it.
    token_id: str | None = None
    token_expires_at: datetime | None = None
    # The user's token version when this request was authenticated (bumped on deactivation,
    # a password change and a role change): idempotency keys end when it moves.
    token_version: int = 0
    # Signed in where TOTP is required but not yet set up: only enrolment pages answer.
    must_enrol_totp: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN

    @property
    def is_ward_member(self) -> bool:
        return self.role in WARD

    @property
    def is_ward_manager(self) -> bool:
        return self.role == "ward_manager"

    @property
    def is_agency_worker(self) -> bool:
        return self.role in AGENCY

    @property
    def staff_ward(self) -> uuid.UUID | None:
        """The ward whose records this caller works on as staff; None for everyone else."""
        return self.ward_id if self.is_ward_member else None


@dataclass(frozen=True, slots=True)
class SystemActor:
    """Jobs and the CLI act as the system; audit rows record them with no user id."""

    name: str
    request_id: str | None = None


Actor = Principal | SystemActor | None


def actor_identity(actor: Actor) -> tuple[uuid.UUID | None, str | None]:
    """(user id, role) to record for whoever acted: a user's id and role, a system actor as
    "system:<name>" (no id), nobody as (None, None). The role fits every actor_role column."""
    if isinstance(actor, Principal):
        return actor.user_id, actor.role
    if isinstance(actor, SystemActor):
        return None, f"system:{actor.name}"[:ACTOR_ROLE_LENGTH]
    return None, None
