from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

SUPPORT_ACTION_KINDS = (
    "visit",
    "phone_call",
    "appointment",
    "housing_secured",
    "employment_started",
    "benefits_claimed",
    "peer_session",
    "did_not_attend",
    "other",
)


class SupportAction(UUIDPrimaryKey, Base):
    """Something an agency did for a patient, logged by one of its workers."""

    __tablename__ = "support_actions"
    __table_args__ = (
        CheckConstraint(f"kind IN {SUPPORT_ACTION_KINDS!r}", name="kind_known"),
        Index("ix_support_actions_patient_id_occurred_at_id", "patient_id", "occurred_at", "id"),
        Index("ix_support_actions_agency_id", "agency_id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    kind: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
