"""Escalations: one per source and reason, with an owner level, a deadline and a full history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

ESCALATION_REASONS = (
    "no_reply",
    "undeliverable",
    "low_score",
    "help_request",
    "opted_out",
    "follow_up_due",
    "agency_concern",
    "referral_unanswered",
    "unread_reply",
)
ESCALATION_SEVERITIES = ("routine", "urgent")
ESCALATION_STATUSES = ("open", "acknowledged", "resolved")
# What staff found when they closed the loop; the API accepts these from people.
STAFF_OUTCOMES = (
    "contacted_patient_safe",
    "contacted_patient_needs_support",
    "could_not_contact",
    "duplicate",
    "other",
)
# Set only by the system: the source was dealt with elsewhere (a follow-up made, a referral
# answered, a reply read), or the patient was admitted, so nobody is sent to find them.
SYSTEM_OUTCOMES = ("source_dealt_with", "patient_admitted")
RESOLUTION_OUTCOMES = STAFF_OUTCOMES + SYSTEM_OUTCOMES


class Escalation(UUIDPrimaryKey, Base):
    __tablename__ = "escalations"
    __table_args__ = (
        CheckConstraint(f"reason IN {ESCALATION_REASONS!r}", name="reason_known"),
        CheckConstraint(f"severity IN {ESCALATION_SEVERITIES!r}", name="severity_known"),
        CheckConstraint(f"status IN {ESCALATION_STATUSES!r}", name="status_known"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        # NULL only on rows resolved before outcomes were recorded (revision 0101).
        CheckConstraint(
            f"resolution_outcome IS NULL OR resolution_outcome IN {RESOLUTION_OUTCOMES!r}",
            name="resolution_outcome_known",
        ),
        # One source raises one escalation per reason, however often it is reported.
        UniqueConstraint("reason", "source_type", "source_id", name="uq_escalations_source"),
        Index("ix_escalations_ward_id_opened_at_id", "ward_id", "opened_at", "id"),
        Index("ix_escalations_patient_id_opened_at", "patient_id", "opened_at"),
        # The ladder's due column: only open escalations wait for an acknowledgement.
        Index(
            "ix_escalations_ack_due_at_open",
            "ack_due_at",
            postgresql_where=text("status = 'open'"),
        ),
        # The resolve-by sweep's due column: acknowledged is not done.
        Index(
            "ix_escalations_resolve_due_at_acknowledged",
            "resolve_due_at",
            postgresql_where=text("status = 'acknowledged'"),
        ),
        # The ward board's live escalations, without reading the ward's resolved history.
        Index(
            "ix_escalations_ward_id_live",
            "ward_id",
            postgresql_where=text("status IN ('open', 'acknowledged')"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    reason: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, server_default="1")
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    # What raised it, e.g. ("sms_inbound", <id>), ("sms_outbox", <id>), ("check_in", <id>).
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime]
    ack_due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Set on acknowledgement from the ward's resolve deadline; past it the escalation re-opens.
    resolve_due_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolution_outcome: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class EscalationEvent(Base):
    """Append-only history of an escalation: opened, acknowledged, resolved, climbed, notified."""

    __tablename__ = "escalation_events"
    __table_args__ = (Index("ix_escalation_events_escalation_id_id", "escalation_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    escalation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("escalations.id"))
    occurred_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # "system:<name>" for jobs and webhooks, else the user's role.
    actor_role: Mapped[str | None] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
