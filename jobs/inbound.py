"""The inbound spool sweep: texts kept on this host's disk while the database was down go
through the usual inbound handling, each once (service.conversation.spool)."""

from __future__ import annotations

from jobs.runner import SweepContext
from service.conversation.spool import SPOOL_KEY, InboundSpool, replay


async def inbound_spool_sweep(ctx: SweepContext) -> int:
    spool: InboundSpool | None = ctx.extras.get(SPOOL_KEY)
    if spool is None or not spool.pending():
        return 0  # a directory listing: nothing to do costs nothing
    return (await replay(ctx.session, spool, ctx.clock.now())).handled
