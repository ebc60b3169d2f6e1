"""Server-side sign-in sessions (one per issued access token) and TOTP recovery codes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey


class UserSession(Base):
    """One row per access token a sign-in issued, keyed by the token's jti.

    The authentication middleware reads `last_seen_at` by primary key in the same query as the
    user (one indexed lookup); pages refuse a session idle for longer than BOARD_IDLE_MINUTES.
    Ending a session revokes its jti (revoked_tokens) and deletes the row.
    """

    __tablename__ = "sessions"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # "board" (the pages' cookie) or "api" (a bearer token from POST /auth/login).
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # A short summary of the User-Agent header, for "your sessions" (never used for access).
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class RecoveryCode(UUIDPrimaryKey, Base):
    """A one-time TOTP recovery code, stored as salt and SHA-256 (codes carry 50 random bits)."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
