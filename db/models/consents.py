from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey

# Narrowest first: the visibility query ranks scopes by this order.
CONSENT_SCOPES = ("contact_details", "plan", "full")


class Consent(UUIDPrimaryKey, Base):
    """A patient's consent to share with one agency. Rows are never deleted: withdrawal and
    expiry are recorded, so the history of what an agency was allowed to see stays readable."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(f"scope IN {CONSENT_SCOPES!r}", name="scope_known"),
        CheckConstraint("expires_at IS NULL OR expires_at > given_at", name="expires_after_given"),
        CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL)", name="withdrawal_has_author"
        ),
        Index("ix_consents_patient_id_agency_id", "patient_id", "agency_id"),
        Index("ix_consents_patient_id_created_at_id", "patient_id", "created_at", "id"),
        Index("ix_consents_agency_id", "agency_id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    scope: Mapped[str] = mapped_column(String(20))
    given_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    withdrawn_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
