"""Feedback heard by ward staff (carers, family, the patient), and a patient's nominated carer."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

FEEDBACK_SOURCES = ("carer", "family", "patient", "other")


class PatientFeedback(UUIDPrimaryKey, Base):
    __tablename__ = "patient_feedback"
    __table_args__ = (
        CheckConstraint(f"source IN {FEEDBACK_SOURCES!r}", name="source_known"),
        Index("ix_patient_feedback_patient_id_received_at_id", "patient_id", "received_at", "id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    source: Mapped[str] = mapped_column(String(16))
    relationship: Mapped[str | None] = mapped_column(String(100))
    # Patient data: stored for staff, never logged.
    given_by: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Carer(Base):
    """A patient's nominated carer (one per patient). Contact only while consent is in force."""

    __tablename__ = "carers"
    __table_args__ = (
        CheckConstraint("mobile IS NULL OR mobile ~ '^\\+[1-9][0-9]{6,14}$'", name="mobile_e164"),
        CheckConstraint(
            "NOT consent_to_contact OR consent_given_at IS NOT NULL", name="consent_has_time"
        ),
        # An inbound text is matched to a carer by number before it is matched to a patient.
        Index("ix_carers_mobile", "mobile", postgresql_where=text("mobile IS NOT NULL")),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str | None] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(16))
    consent_to_contact: Mapped[bool] = mapped_column(Boolean, server_default=false())
    consent_given_at: Mapped[datetime | None]
    consent_withdrawn_at: Mapped[datetime | None]
    # The carer texted STOP: no carer notices until they text START (consent is untouched).
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, server_default=false())
    sms_opted_out_at: Mapped[datetime | None]
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class YouSaidWeDid(UUIDPrimaryKey, Base):
    """A ward's answer to what it heard: what was said, what changed, and when. Written by the
    ward's managers in general terms (the page says: no names or other identifiers). It may
    point at the feedback it answers: a carer's or family's feedback, or an FFT survey."""

    __tablename__ = "you_said_we_did"
    __table_args__ = (Index("ix_you_said_we_did_ward_id_changed_on", "ward_id", "changed_on"),)

    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    heard: Mapped[str] = mapped_column(Text)
    changed: Mapped[str] = mapped_column(Text)
    changed_on: Mapped[date]
    feedback_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patient_feedback.id"))
    survey_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prom_surveys.id"))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
