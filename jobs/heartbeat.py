"""The heartbeat sweep: proves the worker is alive; also trims old login attempts and keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from db.models import LoginAttempt
from jobs.runner import SweepContext
from service import idempotency

LOGIN_ATTEMPT_RETENTION = timedelta(days=1)
PURGE_BATCH = 1000


async def heartbeat(ctx: SweepContext) -> int:
    # Bounded batch by id, so the cost of one run never grows with the table.
    cutoff = ctx.clock.now() - LOGIN_ATTEMPT_RETENTION
    old_ids = (
        select(LoginAttempt.id)
        .where(LoginAttempt.attempted_at < cutoff)
        .order_by(LoginAttempt.id)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await ctx.session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(old_ids)))
    await idempotency.purge_expired(ctx.session, ctx.clock.now(), PURGE_BATCH)
    return 1
