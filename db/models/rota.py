from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey


class OnCallShift(UUIDPrimaryKey, Base):
    """One person on call for a ward from `starts_at` until `ends_at` (half-open).

    Paging (service.paging.recipients) asks "who holds a shift covering now" at each page;
    the rules for writing shifts live in service.wards.rota.
    """

    __tablename__ = "on_call_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        UniqueConstraint("ward_id", "user_id", "starts_at", "ends_at"),
        # "Shifts covering now for a ward": ends_at > now leaves only current and coming
        # shifts, so the scan grows with the rota ahead, not with every shift ever held.
        Index(
            "ix_on_call_shifts_ward_id_ends_at",
            "ward_id",
            "ends_at",
            postgresql_include=["starts_at", "user_id"],
        ),
        Index("ix_on_call_shifts_user_id_ends_at", "user_id", "ends_at"),
    )

    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
