from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

ROLES = ("admin", "ward_manager", "ward_staff", "agency_worker")


class User(UUIDPrimaryKey, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role_known"),
        # Ward roles belong to exactly one ward; agency workers to exactly one agency.
        CheckConstraint(
            "(role IN ('ward_manager', 'ward_staff')) = (ward_id IS NOT NULL)",
            name="ward_role_has_ward",
        ),
        CheckConstraint(
            "(role = 'agency_worker') = (agency_id IS NOT NULL)", name="agency_role_has_agency"
        ),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    ward_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("wards.id"), index=True)
    agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    mobile: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    password_hash: Mapped[str] = mapped_column(String(200))
    # Bumped on deactivation or password change so tokens already issued stop working.
    token_version: Mapped[int] = mapped_column(Integer, server_default="0")
    # Set for a password nobody chose (the first-run admin's): every route but changing it,
    # reading oneself and signing out is refused until it is changed.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # TOTP (RFC 6238): the base32 secret, never returned or logged once enrolment is confirmed;
    # confirmed when a first code was entered (until then the secret is only a pending one).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None]
    # The last time step a code was accepted for: a code (or an older one) is never taken twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
