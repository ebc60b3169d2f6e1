from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

FOLLOW_UP_STATUSES = ("pending", "completed", "breached")
CONTACT_METHODS = ("face_to_face", "phone", "video", "other")


class FollowUp(UUIDPrimaryKey, Base):
    """The post-discharge follow-up: due 72 h after discharge (48 h with suicide risk).

    Only a recorded human contact completes it. `breached_at` keeps the fact that the clock
    ran out even if a late contact completes it afterwards.
    """

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint(f"status IN {FOLLOW_UP_STATUSES!r}", name="status_known"),
        CheckConstraint(f"method IS NULL OR method IN {CONTACT_METHODS!r}", name="method_known"),
        CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL)", name="completed_has_time"
        ),
        CheckConstraint(
            "status <> 'breached' OR breached_at IS NOT NULL", name="breached_has_time"
        ),
        # The breach sweep reads only what is still pending, oldest due first.
        Index(
            "ix_follow_ups_due_at_pending", "due_at", postgresql_where=text("status = 'pending'")
        ),
        # The 24-hour warning sweep reads only pending follow-ups not yet warned about.
        Index(
            "ix_follow_ups_due_at_unwarned",
            "due_at",
            postgresql_where=text("status = 'pending' AND warned_at IS NULL"),
        ),
        # The early warning for a patient who cannot be texted: pending, not yet warned.
        Index(
            "ix_follow_ups_due_at_unmonitored_unwarned",
            "due_at",
            postgresql_where=text("status = 'pending' AND unmonitored_warned_at IS NULL"),
        ),
        Index("ix_follow_ups_patient_id_due_at", "patient_id", "due_at"),
        # The ward board's breaches, without reading every follow-up the ward's patients had.
        Index(
            "ix_follow_ups_patient_id_breached",
            "patient_id",
            postgresql_where=text("status = 'breached'"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    # One follow-up per discharge.
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.id"), unique=True)
    due_at: Mapped[datetime]
    suicide_risk: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(Text)
    breached_at: Mapped[datetime | None]
    # When the key worker was told that 24 hours remain (once per follow-up).
    warned_at: Mapped[datetime | None]
    # When the key worker was told the patient cannot be monitored by SMS while this clock
    # runs (once per follow-up; service.follow_ups.warnings).
    unmonitored_warned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class FollowUpAttempt(UUIDPrimaryKey, Base):
    """A contact attempt by a person (never an automated SMS)."""

    __tablename__ = "follow_up_attempts"
    __table_args__ = (
        CheckConstraint(f"method IN {CONTACT_METHODS!r}", name="method_known"),
        Index("ix_follow_up_attempts_follow_up_id_occurred_at", "follow_up_id", "occurred_at"),
    )

    follow_up_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("follow_ups.id"))
    occurred_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(20))
    successful: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
