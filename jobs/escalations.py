"""The ladder sweep: escalations past their acknowledge deadline climb and are announced."""

from __future__ import annotations

from db.models import Escalation
from jobs.runner import SweepContext
from service.escalations import ladder


async def ladder_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()

    async def climb(escalation: Escalation) -> None:
        await ladder.climb(ctx.session, escalation, now)

    return await ctx.each(await ladder.claim_due(ctx.session, now), climb)
