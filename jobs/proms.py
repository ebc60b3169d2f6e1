"""The PROMs sweep: due surveys send their next item, time out, or finish.

Claimed with FOR UPDATE SKIP LOCKED; each item is an outbox row with a dedupe key per
survey and item, so nothing is queued twice. Runs before the outbox sweep.
"""

from __future__ import annotations

from db.models import PromSurvey
from jobs.runner import SweepContext
from service.proms import service


async def proms_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()
    due = await service.claim_due(ctx.session, now)

    async def step(survey: PromSurvey) -> None:
        await service.advance(ctx.session, survey, now)

    return await ctx.each(due, step)
