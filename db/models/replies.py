"""Replies to read: patients' and carers' texts that only a person can understand."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

REPLY_STATUSES = ("unread", "read")
REPLY_SEVERITIES = ("routine", "urgent")


class ReplyToRead(UUIDPrimaryKey, Base):
    """One inbound text waiting for (or read by) a member of the ward's staff.

    The body stays on the inbound row (one copy of patient data); this row holds the reading.
    """

    __tablename__ = "replies_to_read"
    __table_args__ = (
        CheckConstraint(f"status IN {REPLY_STATUSES!r}", name="status_known"),
        CheckConstraint(f"severity IN {REPLY_SEVERITIES!r}", name="severity_known"),
        CheckConstraint(
            "(status = 'read') = (read_at IS NOT NULL AND read_by IS NOT NULL)",
            name="read_has_reader",
        ),
        # The overdue sweep reads only unread replies not yet escalated, by deadline: its
        # cost follows the work due, not the table.
        Index(
            "ix_replies_to_read_read_due_at_unescalated",
            "read_due_at",
            postgresql_where=text("status = 'unread' AND escalated_at IS NULL"),
        ),
        Index("ix_replies_to_read_ward_id_received_at_id", "ward_id", "received_at", "id"),
        Index("ix_replies_to_read_patient_id_received_at_id", "patient_id", "received_at", "id"),
    )

    # One inbound text is one reply to read, however often Twilio retries it.
    inbound_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sms_inbound.id"), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    from_carer: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Decided when the text arrives (a low score with it, suicide risk at the last discharge),
    # so the sweep raises without re-reading the patient's record.
    severity: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), server_default="unread")
    read_due_at: Mapped[datetime]
    read_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime | None]
    read_note: Mapped[str | None] = mapped_column(Text)
    # Set when the read-by deadline passed unread and `unread_reply` was raised (the claim
    # marker: each reply is raised once).
    escalated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
