from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

REFERRAL_STATUSES = ("pending", "accepted", "declined", "withdrawn", "completed")
# A referral in one of these states keeps the patient visible to the agency (with consent).
OPEN_REFERRAL_STATUSES = ("pending", "accepted")
# What a history row records: a status (creation or a transition), or the ward putting the
# referral on hold at a readmission and resuming it at the next discharge (status unchanged).
REFERRAL_CHANGE_KINDS = ("status", "hold", "resume")
# Why a referral was closed, when the system closed it: the last consent to share with the
# agency was withdrawn (service.consents.service.withdraw_consent).
REFERRAL_CLOSED_REASONS = ("consent_ended",)


class Referral(UUIDPrimaryKey, Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(f"status IN {REFERRAL_STATUSES!r}", name="status_known"),
        CheckConstraint(
            "(status = 'declined') = (decline_reason IS NOT NULL)", name="decline_has_reason"
        ),
        CheckConstraint(
            "status NOT IN ('accepted', 'declined', 'completed') OR responded_at IS NOT NULL",
            name="response_has_time",
        ),
        # Only open work can be on hold; closing a held referral ends the hold.
        CheckConstraint(
            "on_hold_since IS NULL OR status IN ('pending', 'accepted')", name="hold_only_open"
        ),
        CheckConstraint(
            f"closed_reason IS NULL OR closed_reason IN ('{REFERRAL_CLOSED_REASONS[0]}')",
            name="closed_reason_known",
        ),
        CheckConstraint(
            "closed_reason IS NULL OR status = 'withdrawn'", name="closed_reason_only_withdrawn"
        ),
        # The sweep that escalates unanswered referrals reads only pending ones it has not
        # escalated yet, by deadline: its cost follows the work due, not the table.
        Index(
            "ix_referrals_respond_by_unescalated",
            "respond_by",
            postgresql_where=text("status = 'pending' AND unanswered_escalated_at IS NULL"),
        ),
        # The visibility rule joins open referrals by agency and patient.
        Index(
            "ix_referrals_agency_id_patient_id_open",
            "agency_id",
            "patient_id",
            postgresql_where=text("status IN ('pending', 'accepted')"),
        ),
        Index("ix_referrals_agency_id_created_at_id", "agency_id", "created_at", "id"),
        Index("ix_referrals_patient_id_created_at_id", "patient_id", "created_at", "id"),
        # Outcome series by month: a few months of a long history start from the time range.
        Index("ix_referrals_created_at", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    # A goal of the same patient, checked by service.referrals.service.create_referral
    # (422 otherwise). No foreign key: goals are never deleted and never change patient, so
    # the check at creation holds, and a key alone could not say "of the same patient".
    goal_id: Mapped[uuid.UUID | None]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    respond_by: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    # Set once the deadline passed unanswered and the ward was told (the sweep's claim marker).
    unanswered_escalated_at: Mapped[datetime | None]
    # Set while the patient is back on the ward (readmission to the next discharge): the ward
    # has paused community work, and the deadline sweep does not chase the agency.
    on_hold_since: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    closed_reason: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ReferralStatusChange(Base):
    """Append-only history of a referral: creation (from NULL) and every transition."""

    __tablename__ = "referral_status_changes"
    __table_args__ = (
        CheckConstraint(f"to_status IN {REFERRAL_STATUSES!r}", name="to_status_known"),
        CheckConstraint(f"kind IN {REFERRAL_CHANGE_KINDS!r}", name="kind_known"),
        # A hold or a resumption leaves the status as it is.
        CheckConstraint("kind = 'status' OR from_status = to_status", name="hold_keeps_status"),
        Index("ix_referral_status_changes_referral_id_id", "referral_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    # NULL when the system acted (e.g. a future sweep); otherwise the user.
    by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), server_default="status")
