from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from service.principal import Role

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    full_name: Name
    role: Role
    password: Password
    ward_id: uuid.UUID | None = None
    agency_id: uuid.UUID | None = None
    mobile: Phone | None = None
    active: bool = True


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change; `null` clears an optional field."""

    email: Email | msgspec.UnsetType = msgspec.UNSET
    full_name: Name | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET
    ward_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    agency_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    mobile: Phone | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class UserOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    ward_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    mobile: str | None
    active: bool


class UserList(msgspec.Struct):
    items: list[UserOut]
    next_cursor: str | None


class PasswordResetOut(msgspec.Struct):
    """Shown once: the code is stored only as the user's password hash."""

    code: str
    expires_at: datetime
