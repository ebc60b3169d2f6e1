from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey


class RelapsePreventionPlan(UUIDPrimaryKey, Base):
    """One version of a patient's relapse-prevention plan. Rows are only ever added:
    a PUT writes version n+1 and every earlier version stays readable."""

    __tablename__ = "relapse_prevention_plans"
    __table_args__ = (
        UniqueConstraint("patient_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_relapse_prevention_plans_patient_id_created_at", "patient_id", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    version: Mapped[int] = mapped_column(Integer)
    early_warning_signs: Mapped[list[str]] = mapped_column(JSONB)
    triggers: Mapped[list[str]] = mapped_column(JSONB)
    coping_strategies: Mapped[list[str]] = mapped_column(JSONB)
    # [{"name", "relationship", "phone" (E.164)}]
    crisis_contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    check_in_question: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
