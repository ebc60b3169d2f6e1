from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String, func, true
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

AGENCY_KINDS = (
    "housing",
    "employment",
    "benefits",
    "peer_support",
    "community_mental_health",
    "substance_use",
    "gp",
    "other",
)


class Agency(UUIDPrimaryKey, Base):
    __tablename__ = "agencies"
    __table_args__ = (CheckConstraint(f"kind IN {AGENCY_KINDS!r}", name="kind_known"),)

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
