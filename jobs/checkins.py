"""The check-in sweep: due check-ins take their next step (prompt, reminder, missed).

Claimed with FOR UPDATE SKIP LOCKED, so concurrent sweeps split the work; prompts and
reminders are outbox rows with unique dedupe keys, so nothing is queued twice. A prompt takes
the patient's one open question (service.conversation.questions), setting back a survey item.
"""

from __future__ import annotations

from db.models import CheckIn
from jobs.runner import SweepContext
from service.checkins import dispatch
from service.conversation.questions import make_room_for_check_in


async def checkin_sweep(ctx: SweepContext) -> int:
    now = ctx.clock.now()
    due = await dispatch.claim_due(ctx.session, now)

    async def step(check_in: CheckIn) -> None:
        await dispatch.advance(ctx.session, check_in, now, make_room=make_room_for_check_in)

    return await ctx.each(due, step)
