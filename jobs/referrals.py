"""The referral deadline sweep: unanswered referrals past `respond_by` go back to the ward."""

from __future__ import annotations

from db.models import Referral
from jobs.runner import SweepContext
from service.referrals import unanswered


async def referral_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()

    async def escalate(referral: Referral) -> None:
        await unanswered.escalate_unanswered(ctx.session, referral, now)

    return await ctx.each(await unanswered.claim_unanswered(ctx.session, now), escalate)
