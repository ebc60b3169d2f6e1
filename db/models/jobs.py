from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class JobHeartbeat(Base):
    """Last run of each scheduled job, so /health/ready can show the worker is alive."""

    __tablename__ = "job_heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_succeeded_at: Mapped[datetime | None]
    # Exception class name only: messages can carry data we must not keep.
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(BigInteger, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(200))
