"""The follow-up clock sweep: warn the key worker a day ahead (earlier, and at once, for a
patient whom no check-in can reach), escalate at breach.

Each part claims with FOR UPDATE SKIP LOCKED through partial indexes on pending rows, and
each step changes the row it claimed (warned_at, unmonitored_warned_at, status), so no row
is handled twice.
"""

from __future__ import annotations

from db.models import FollowUp
from jobs.runner import SweepContext
from service.follow_ups import service, warnings


async def follow_up_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()

    async def breach(follow_up: FollowUp) -> None:
        await service.mark_breached(ctx.session, follow_up, now)

    async def warn(follow_up: FollowUp) -> None:
        await warnings.warn(ctx.session, follow_up, now)

    async def warn_unmonitored(follow_up: FollowUp) -> None:
        await warnings.warn_unmonitored(ctx.session, follow_up, now)

    handled = await ctx.each(await service.claim_overdue(ctx.session, now), breach)
    handled += await ctx.each(await warnings.claim_warnable(ctx.session, now), warn)
    handled += await ctx.each(await warnings.claim_half_time(ctx.session, now), warn)
    return handled + await ctx.each(
        await warnings.claim_unmonitored(ctx.session, now), warn_unmonitored
    )
