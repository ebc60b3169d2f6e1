"""Staff email: the second channel for staff alerts, an outbox of its own like the SMS one."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

# queued → sending → sent | failed; unknown when the server may have taken the message but
# never said so (timeout or dropped connection during DATA, lost worker); cancelled unsent.
EMAIL_STATUSES = ("queued", "sending", "sent", "failed", "unknown", "cancelled")
# Why an email was queued: the ward wants both channels, the person has no mobile, or the
# text it backs up did not go (refused, failed, retrying, or not confirmed).
EMAIL_REASONS = ("both_channels", "no_mobile", "text_not_delivered")


class StaffEmail(UUIDPrimaryKey, Base):
    __tablename__ = "staff_email_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN {EMAIL_STATUSES!r}", name="status_known"),
        CheckConstraint(f"reason IN {EMAIL_REASONS!r}", name="reason_known"),
        CheckConstraint(
            "escalation_level IS NULL OR escalation_level BETWEEN 1 AND 3",
            name="escalation_level_range",
        ),
        # The sweep's due column: only queued rows wait to be sent.
        Index(
            "ix_staff_email_outbox_next_attempt_at_queued",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
        # Rows a worker was sending when its lease ran out.
        Index(
            "ix_staff_email_outbox_lease_until_sending",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
        ),
        Index(
            "ix_staff_email_outbox_escalation_id",
            "escalation_id",
            postgresql_where=text("escalation_id IS NOT NULL"),
        ),
    )

    # "email:" + the dedupe key of the page's text to the same person, so a page is emailed
    # at most once whichever path asked for it (both channels, no mobile, the text failed).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    ward_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("wards.id"))
    escalation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("escalations.id"))
    escalation_level: Mapped[int | None] = mapped_column(SmallInteger)
    # The text this email backs up, when there is one.
    sms_outbox_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sms_outbox.id"))
    reason: Mapped[str] = mapped_column(String(24))
    purpose: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    # Why it is in that status, in words safe for logs: "smtp 550", "timeout", ...
    status_reason: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    sending_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
