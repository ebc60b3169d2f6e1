from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

PATIENT_STATUSES = ("inpatient", "discharged", "readmitted", "closed")


class Patient(UUIDPrimaryKey, Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(f"status IN {PATIENT_STATUSES!r}", name="status_known"),
        CheckConstraint("nhs_number ~ '^[0-9]{10}$'", name="nhs_number_digits"),
        CheckConstraint("mobile IS NULL OR mobile ~ '^\\+[1-9][0-9]{6,14}$'", name="mobile_e164"),
        Index("ix_patients_ward_id_created_at_id", "ward_id", "created_at", "id"),
        Index("ix_patients_ward_id_family_name_lower", "ward_id", text("lower(family_name)")),
        Index("ix_patients_mobile", "mobile"),
    )

    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    nhs_number: Mapped[str] = mapped_column(String(10), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    mobile: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    contact_window_start: Mapped[time] = mapped_column(Time, server_default=text("'09:00'"))
    contact_window_end: Mapped[time] = mapped_column(Time, server_default=text("'20:00'"))
    language: Mapped[str] = mapped_column(String(16), server_default="en")
    discreet_messages: Mapped[bool] = mapped_column(Boolean, server_default=false())
    sms_consent: Mapped[bool] = mapped_column(Boolean, server_default=false())
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, server_default=false())
    key_worker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), server_default="inpatient")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Episode(UUIDPrimaryKey, Base):
    """One stay on the ward, admission to discharge (FHIR EpisodeOfCare in spirit)."""

    __tablename__ = "episodes"
    __table_args__ = (
        CheckConstraint(
            "discharged_at IS NULL OR discharged_at >= admitted_at",
            name="discharge_after_admission",
        ),
        # At most one open stay per patient.
        Index(
            "uq_episodes_patient_id_open",
            "patient_id",
            unique=True,
            postgresql_where=text("discharged_at IS NULL"),
        ),
        Index("ix_episodes_patient_id_admitted_at", "patient_id", "admitted_at"),
        # Outcome series by month: discharges in a few months of a long history.
        Index(
            "ix_episodes_discharged_at",
            "discharged_at",
            postgresql_where=text("discharged_at IS NOT NULL"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    admitted_at: Mapped[datetime]
    discharged_at: Mapped[datetime | None]
    suicide_risk: Mapped[bool | None] = mapped_column(Boolean)
    destination: Mapped[str | None] = mapped_column(Text)
    # Set when this admission came within 30 days of the previous discharge.
    readmission_of_episode_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("episodes.id"))
    readmitted_within_30_days: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
