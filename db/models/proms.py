"""Patient-reported outcomes and experience by SMS: DIALOG and the Friends and Family Test.

Item wording is data (`prom_items`, seeded by migration 0007), not code.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

INSTRUMENTS = ("dialog", "fft")
ITEM_GROUPS = ("life", "treatment", "experience", "comment")
TIME_POINTS = ("discharge", "2_weeks", "1_month", "3_months")
SURVEY_STATUSES = ("scheduled", "in_progress", "completed", "partial", "unanswered", "cancelled")


class PromItem(Base):
    __tablename__ = "prom_items"
    __table_args__ = (
        CheckConstraint(f"instrument IN {INSTRUMENTS!r}", name="instrument_known"),
        CheckConstraint(f"item_group IN {ITEM_GROUPS!r}", name="item_group_known"),
        UniqueConstraint("instrument", "position", name="uq_prom_items_position"),
    )

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    instrument: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    item_group: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(60))
    prompt: Mapped[str] = mapped_column(Text)
    # The same item for a patient with discreet messages on: no service named, no clinical
    # word (service.discreet), fit for a phone someone else may read.
    discreet_prompt: Mapped[str] = mapped_column(Text)
    # NULL for a free-text item.
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    licence_note: Mapped[str] = mapped_column(Text)


class PromSurvey(UUIDPrimaryKey, Base):
    """One instrument at one time point after one discharge, sent one item per text."""

    __tablename__ = "prom_surveys"
    __table_args__ = (
        CheckConstraint(f"instrument IN {INSTRUMENTS!r}", name="instrument_known"),
        CheckConstraint(f"time_point IN {TIME_POINTS!r}", name="time_point_known"),
        CheckConstraint(f"status IN {SURVEY_STATUSES!r}", name="status_known"),
        UniqueConstraint(
            "patient_id", "instrument", "time_point", "anchor_at", name="uq_prom_surveys_point"
        ),
        # The sweep's due column.
        Index(
            "ix_prom_surveys_next_action_at_due",
            "next_action_at",
            postgresql_where=text("next_action_at IS NOT NULL"),
        ),
        # "The survey awaiting a reply" for inbound routing.
        Index(
            "ix_prom_surveys_patient_id_awaiting",
            "patient_id",
            postgresql_where=text("awaiting_item_key IS NOT NULL"),
        ),
        Index("ix_prom_surveys_ward_id_anchor_at", "ward_id", "anchor_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    instrument: Mapped[str] = mapped_column(String(16))
    time_point: Mapped[str] = mapped_column(String(16))
    # The discharge it counts from.
    anchor_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), server_default="scheduled")
    next_action_at: Mapped[datetime | None]
    awaiting_item_key: Mapped[str | None] = mapped_column(ForeignKey("prom_items.key"))
    awaiting_since: Mapped[datetime | None]
    # How often an awaiting item was set back to make way for a check-in; a re-asked item
    # needs its own outbox dedupe key, and this count is part of it.
    set_backs: Mapped[int] = mapped_column(Integer, server_default="0")
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PromAnswer(UUIDPrimaryKey, Base):
    __tablename__ = "prom_answers"
    __table_args__ = (
        UniqueConstraint("survey_id", "item_key", name="uq_prom_answers_item"),
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 7", name="score_range"),
    )

    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prom_surveys.id"))
    item_key: Mapped[str] = mapped_column(ForeignKey("prom_items.key"))
    score: Mapped[int | None] = mapped_column(Integer)
    # Patient data: stored for staff, never logged.
    text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]
