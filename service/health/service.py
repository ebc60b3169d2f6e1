"""Readiness: the database answers and its schema is at the migrations' head."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.migrate import current_revisions, head_revisions
from db.models import JobHeartbeat


@dataclass(frozen=True)
class JobStatus:
    name: str
    last_started_at: datetime | None
    last_succeeded_at: datetime | None
    last_error: str | None
    runs: int


@dataclass(frozen=True)
class Readiness:
    database: bool
    migrations_current: bool
    jobs: list[JobStatus]

    @property
    def ready(self) -> bool:
        return self.database and self.migrations_current


_HEADS = head_revisions()


async def check_readiness(engine: AsyncEngine) -> Readiness:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await current_revisions(conn)
            migrations_current = current == _HEADS
            jobs: list[JobStatus] = []
            if migrations_current:
                session = AsyncSession(bind=conn)
                rows = await session.scalars(select(JobHeartbeat).order_by(JobHeartbeat.name))
                jobs = [
                    JobStatus(
                        name=r.name,
                        last_started_at=r.last_started_at,
                        last_succeeded_at=r.last_succeeded_at,
                        last_error=r.last_error,
                        runs=r.runs,
                    )
                    for r in rows
                ]
            return Readiness(database=True, migrations_current=migrations_current, jobs=jobs)
    except Exception:
        return Readiness(database=False, migrations_current=False, jobs=[])
