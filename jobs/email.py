"""The staff email sweep: turn abandoned sends `unknown`, then send what is due.

Without an email channel in the worker's extras (SMTP_URL unset) it does nothing.
"""

from __future__ import annotations

import logging

from jobs.runner import SweepContext
from service.email import outbox
from service.email.channel import EMAIL_CHANNEL_KEY, EmailChannel

log = logging.getLogger("homeward.jobs.email")


async def email_sweep(ctx: SweepContext) -> int:
    channel: EmailChannel | None = ctx.extras.get(EMAIL_CHANNEL_KEY)
    if channel is None:
        return 0
    expired = await outbox.expire_sending_leases(ctx.session, channel.hooks, ctx.clock.now())
    await ctx.session.commit()
    if expired:
        log.warning("emails abandoned by a worker marked unknown", extra={"count": expired})
    result = await outbox.send_due(ctx.session, channel, ctx.clock)
    ctx.failures += result.failures
    return expired + result.handled
