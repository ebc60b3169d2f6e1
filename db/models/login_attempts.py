from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class LoginAttempt(Base):
    """Sign-in attempts, keyed by hashes (never the raw email or address).

    A row is written as a failure before the password is checked (under a lock on its key), so
    concurrent guesses cannot slip past the limit; a verified login turns its row into a success,
    which forgives the failures claimed before it.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_attempted_at", "key", "attempted_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    attempted_at: Mapped[datetime]
    succeeded: Mapped[bool] = mapped_column(Boolean)


class RevokedToken(Base):
    """Access tokens ended by signing out, until they would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PasswordReset(Base):
    """An admin's password reset waiting to be used: the one-time code is the user's password
    (hashed there, argon2id, like any password) until it has signed in once; this row says
    until when it may, and whether it has."""

    __tablename__ = "password_resets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
