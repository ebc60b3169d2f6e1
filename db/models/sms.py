"""SMS both ways: the outbox (every message we send) and inbound replies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

# queued → sending → sent → delivered | undelivered | failed; unknown when the send was
# ambiguous (timeout, 5xx, dropped connection, lost worker); cancelled before any send.
OUTBOX_STATUSES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "unknown",
    "cancelled",
)
RECIPIENT_KINDS = ("patient", "staff", "carer")
INBOUND_KINDS = ("score", "ok", "help", "stop", "start", "free_text")


class OutboxMessage(UUIDPrimaryKey, Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status_known"),
        CheckConstraint(f"recipient_kind IN {RECIPIENT_KINDS!r}", name="recipient_kind_known"),
        CheckConstraint("to_number ~ '^\\+[1-9][0-9]{6,14}$'", name="to_number_e164"),
        # The sweep's due column: only queued rows wait to be sent.
        Index(
            "ix_sms_outbox_next_attempt_at_queued",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
        # Rows whose delivery we still want to confirm by a lookup.
        Index(
            "ix_sms_outbox_check_due_at",
            "check_due_at",
            postgresql_where=text("check_due_at IS NOT NULL"),
        ),
        # Rows a worker was sending when its lease ran out (found by the reconcile step).
        Index(
            "ix_sms_outbox_lease_until_sending",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
        ),
        Index("ix_sms_outbox_patient_id_created_at_id", "patient_id", "created_at", "id"),
        Index("ix_sms_outbox_check_in_id", "check_in_id"),
        Index(
            "ix_sms_outbox_escalation_id",
            "escalation_id",
            postgresql_where=text("escalation_id IS NOT NULL"),
        ),
        CheckConstraint(
            "escalation_level IS NULL OR escalation_level BETWEEN 1 AND 3",
            name="escalation_level_range",
        ),
        # The spend guard's hourly count reads only the last hour of sends.
        Index("ix_sms_outbox_sending_started_at", "sending_started_at"),
        # The outcome reports read a period's check-in prompts by time, not by probing every
        # patient the trust ever had (bench/scale.py found the cross-ward report at 38x).
        Index(
            "ix_sms_outbox_created_at_prompts",
            "created_at",
            postgresql_where=text("purpose = 'checkin_prompt'"),
        ),
        # The spend guard's daily count per patient reads only that patient's last day of
        # sends, however long their history grows.
        Index(
            "ix_sms_outbox_patient_id_sending_started_at",
            "patient_id",
            "sending_started_at",
            postgresql_where=text("recipient_kind = 'patient'"),
        ),
    )

    # e.g. "checkin:<id>:prompt": a second attempt to queue the same message is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    recipient_kind: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    ward_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("wards.id"))
    # The member of staff who wrote a ward text; NULL for the texts Homeward writes.
    sent_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    check_in_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("check_ins.id"))
    # A survey item's text names its survey, so a text withdrawn at the send step (its words
    # no longer suit the patient) is handed back to that survey to be asked again.
    prom_survey_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prom_surveys.id"))
    # A staff page or carer notice names the escalation it is about and the level it was
    # sent for, so a failure is reported against that escalation (never parsed from a key).
    escalation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("escalations.id"))
    escalation_level: Mapped[int | None] = mapped_column(SmallInteger)
    purpose: Mapped[str] = mapped_column(String(40))
    to_number: Mapped[str] = mapped_column(String(16))
    # Patient data: stored, never logged.
    body: Mapped[str] = mapped_column(Text)
    # Whether the words suit a shared phone (discreet mode), as its queuer chose them; NULL
    # when it did not say. The send step withdraws a text marked false once discreet mode
    # is on.
    fit_for_discreet: Mapped[bool | None] = mapped_column(Boolean)
    # The template the words came from (service.message_templates): its purpose, the
    # language it was in (after falling back from the patient's), its source (`builtin` or
    # `ward`) and version; NULL for texts not worded from a template (staff pages).
    template_purpose: Mapped[str | None] = mapped_column(String(80))
    template_language: Mapped[str | None] = mapped_column(String(16))
    template_source: Mapped[str | None] = mapped_column(String(16))
    template_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    # Why it is in that status, in words safe for logs: "opted_out", "timeout", "21211", ...
    status_reason: Mapped[str | None] = mapped_column(String(40))
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_status: Mapped[str | None] = mapped_column(String(24))
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(120))
    check_due_at: Mapped[datetime | None]
    lookups: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime]
    sending_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class InboundMessage(UUIDPrimaryKey, Base):
    __tablename__ = "sms_inbound"
    __table_args__ = (
        CheckConstraint(f"kind IN {INBOUND_KINDS!r}", name="kind_known"),
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score_range"),
        Index("ix_sms_inbound_patient_id_received_at_id", "patient_id", "received_at", "id"),
    )

    # Twilio retries webhooks: the MessageSid makes a repeat a no-op.
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    from_number: Mapped[str] = mapped_column(String(16))
    to_number: Mapped[str | None] = mapped_column(String(32))
    # Patient data: stored, never logged.
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer)
    check_in_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("check_ins.id"))
    received_at: Mapped[datetime]
    # Sent by the patient's nominated carer (patient_id is the patient they care for): never
    # an answer to the patient's questions.
    from_carer: Mapped[bool] = mapped_column(Boolean, server_default=false())


class UnmatchedInbound(UUIDPrimaryKey, Base):
    """A text from a number that is no patient's, kept for admins to see.

    No patient or ward: the sender may not be who a matching guess would say. The body is
    whatever a stranger sent: stored, never logged."""

    __tablename__ = "sms_unmatched_inbound"
    __table_args__ = (
        CheckConstraint(f"kind IN {INBOUND_KINDS!r}", name="kind_known"),
        Index("ix_sms_unmatched_inbound_received_at_id", "received_at", "id"),
    )

    # Twilio retries webhooks: the MessageSid makes a repeat a no-op.
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # As Twilio gave it (E.164 when it parses; a short code or a name when it does not).
    from_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    # Whether the default crisis routes were sent back (HELP or crisis language).
    crisis_routes_sent: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime]


class SmsNumberFlag(UUIDPrimaryKey, Base):
    """A patient's number the carrier refused as invalid or not mobile: no more prompts to it."""

    __tablename__ = "sms_number_flags"
    __table_args__ = (UniqueConstraint("patient_id", "mobile", name="uq_sms_number_flags_number"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    mobile: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    flagged_at: Mapped[datetime]
