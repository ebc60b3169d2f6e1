from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class JobHeartbeat(Base):
    """Last run of each scheduled job, so /health/jobs can tell a live worker from a dead one."""

    __tablename__ = "job_heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_succeeded_at: Mapped[datetime | None]
    # Exception class name only: messages can carry data we must not keep.
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(BigInteger, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(200))
    # The cadence the worker runs this sweep at, so a reader needs no copy of the job list's
    # settings to judge how late it is.
    interval_seconds: Mapped[float | None] = mapped_column(Float)
    # Running totals over every worker, for metrics read from the database.
    items_handled: Mapped[int] = mapped_column(BigInteger, server_default="0")
    item_failures: Mapped[int] = mapped_column(BigInteger, server_default="0")


class SweepItemFailure(Base):
    """A swept row that failed: how often in a row, and whether it has been set aside.

    Keyed by the row (its table and id), not the sweep, so every claim of that table can
    leave a set-aside row out. A success deletes the record; so the count is consecutive
    failures."""

    __tablename__ = "sweep_item_failures"

    item_kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sweep: Mapped[str] = mapped_column(String(100))
    failures: Mapped[int] = mapped_column(Integer)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(200))
    set_aside_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_sweep_item_failures_set_aside",
            "sweep",
            postgresql_where=text("set_aside_at IS NOT NULL"),
        ),
    )
