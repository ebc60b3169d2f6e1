"""The outbox sweep: reconcile abandoned sends, confirm deliveries, then send what is due.

Without an SMS channel in the worker's extras it does nothing (e.g. a bare test worker).
"""

from __future__ import annotations

import logging

from jobs.runner import SweepContext
from service.sms import outbox
from service.sms.gateway import CHANNEL_KEY, SmsChannel

log = logging.getLogger("homeward.jobs.outbox")


async def outbox_sweep(ctx: SweepContext) -> int:
    channel: SmsChannel | None = ctx.extras.get(CHANNEL_KEY)
    if channel is None:
        return 0
    expired = await outbox.expire_sending_leases(ctx.session, ctx.clock.now(), channel.hooks)
    await ctx.session.commit()
    if expired:
        log.warning("sends abandoned by a worker marked unknown", extra={"count": expired})
    confirmed = await outbox.confirm_due(ctx.session, channel, ctx.clock)
    result = await outbox.send_due(ctx.session, channel, ctx.clock)
    ctx.failures += result.failures
    return expired + confirmed + result.handled
