"""Check-in schedules (one per patient) and the check-ins they generate."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

CHECK_IN_STATUSES = ("scheduled", "sent", "reminded", "answered", "missed", "cancelled", "skipped")
CHECK_IN_KINDS = ("scheduled", "extra")


class CheckInSchedule(Base):
    __tablename__ = "check_in_schedules"
    __table_args__ = (
        CheckConstraint("reply_window_minutes > 0", name="reply_window_positive"),
        CheckConstraint(
            "reminder_after_minutes > 0 AND reminder_after_minutes < reply_window_minutes",
            name="reminder_inside_window",
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    offsets_hours: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    reply_window_minutes: Mapped[int] = mapped_column(Integer)
    reminder_after_minutes: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    # The discharge the current run of offsets counts from; NULL until the first discharge.
    anchor_at: Mapped[datetime | None]
    # Set by a readmission; cleared when the next discharge starts the schedule again.
    paused_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CheckIn(UUIDPrimaryKey, Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        CheckConstraint(f"status IN {CHECK_IN_STATUSES!r}", name="status_known"),
        CheckConstraint(f"kind IN {CHECK_IN_KINDS!r}", name="kind_known"),
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score_range"),
        CheckConstraint(
            "reminder_after_minutes > 0 AND reminder_after_minutes < reply_window_minutes",
            name="reminder_inside_window",
        ),
        # One check-in per offset of one run of the schedule (NULLs for extras never clash).
        UniqueConstraint("patient_id", "anchor_at", "offset_hours", name="uq_check_ins_offset"),
        Index("ix_check_ins_patient_id_due_at_id", "patient_id", "due_at", "id"),
        # Outcome series by month: a few months of a long history start from the time range.
        Index("ix_check_ins_due_at", "due_at"),
        # The sweep's due column: only check-ins with something left to do carry one.
        Index(
            "ix_check_ins_next_action_at_due",
            "next_action_at",
            postgresql_where=text("next_action_at IS NOT NULL"),
        ),
        # "The open check-in" a reply answers.
        Index(
            "ix_check_ins_patient_id_open",
            "patient_id",
            "sent_at",
            postgresql_where=text("status IN ('sent', 'reminded')"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(16))
    anchor_at: Mapped[datetime | None]
    offset_hours: Mapped[int | None] = mapped_column(Integer)
    # When it is due by the schedule; the prompt waits for the patient's contact window.
    due_at: Mapped[datetime]
    # When the sweep next has something to do: send, remind, or close as missed.
    next_action_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), server_default="scheduled")
    status_reason: Mapped[str | None] = mapped_column(String(40))
    reply_window_minutes: Mapped[int] = mapped_column(Integer)
    reminder_after_minutes: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(Integer)
    # Patient data: stored for staff, never logged.
    reply: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
