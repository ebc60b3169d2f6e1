from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

GOAL_DOMAINS = (
    "housing",
    "employment_education",
    "finances",
    "physical_health",
    "medication",
    "relationships",
    "daily_living",
    "substance_use",
    "other",
)
GOAL_STATUSES = ("proposed", "active", "on_hold", "achieved", "not_achieved", "cancelled")


class Goal(UUIDPrimaryKey, Base):
    """A recovery goal in a patient's discharge plan, optionally owned by a partner agency."""

    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint(f"domain IN {GOAL_DOMAINS!r}", name="domain_known"),
        CheckConstraint(f"status IN {GOAL_STATUSES!r}", name="status_known"),
        Index("ix_goals_patient_id_created_at_id", "patient_id", "created_at", "id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    domain: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    owner_agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GoalStatusChange(UUIDPrimaryKey, Base):
    """Every status a goal has had: who moved it, when, from what (NULL at creation) to what."""

    __tablename__ = "goal_status_changes"
    __table_args__ = (
        CheckConstraint(f"to_status IN {GOAL_STATUSES!r}", name="to_status_known"),
        Index("ix_goal_status_changes_goal_id_changed_at", "goal_id", "changed_at"),
        # The outcome reports read a period's goal closings by time, not every goal of a ward.
        Index(
            "ix_goal_status_changes_changed_at_closing",
            "changed_at",
            postgresql_where=text("to_status IN ('achieved', 'not_achieved', 'cancelled')"),
        ),
    )

    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id"))
    changed_at: Mapped[datetime]
    changed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
