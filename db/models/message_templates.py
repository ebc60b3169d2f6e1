from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey


class MessageTemplate(UUIDPrimaryKey, Base):
    """One version of a ward's own wording for a purpose in a language. Versions are never
    changed or removed, so the text a patient was sent (whose outbox row names its version)
    can always be shown; the highest version is in force, and one with no body means the
    ward withdrew its wording and the built-in text applies again (service.message_templates).
    """

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("ward_id", "purpose", "language", "version"),)

    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"))
    purpose: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MessageTemplateLanguage(Base):
    """A ward's manager confirmed a built-in language that ships for review (Welsh): until
    then the ward's patients who speak it get English."""

    __tablename__ = "message_template_languages"

    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wards.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime]
