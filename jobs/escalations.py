"""The escalation sweeps: past their acknowledge deadline open escalations climb; past their
resolve-by deadline acknowledged ones re-open a level up. Each is announced again."""

from __future__ import annotations

from db.models import Escalation
from jobs.runner import SweepContext
from service.escalations import ladder, resolve_by


async def ladder_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()

    async def climb(escalation: Escalation) -> None:
        await ladder.climb(ctx.session, escalation, now)

    return await ctx.each(await ladder.claim_due(ctx.session, now), climb)


async def resolve_by_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()

    async def reopen(escalation: Escalation) -> None:
        await resolve_by.reopen(ctx.session, escalation, now)

    return await ctx.each(await resolve_by.claim_overdue(ctx.session, now), reopen)
