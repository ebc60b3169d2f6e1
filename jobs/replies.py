"""The replies sweep: replies unread past their read-by time raise `unread_reply`."""

from __future__ import annotations

from db.models import ReplyToRead
from jobs.runner import SweepContext
from service.replies import overdue


async def replies_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()

    async def escalate(reply: ReplyToRead) -> None:
        await overdue.escalate_overdue(ctx.session, reply, now)

    return await ctx.each(await overdue.claim_overdue(ctx.session, now), escalate)
