"""The configured gateway backend and the channel one process sends through."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.settings import Settings
from service.sms.console import ConsoleGateway
from service.sms.gateway import RateLimiter, SmsChannel, SmsGateway
from service.sms.hooks import OutboxHooks
from service.sms.twilio_backend import TwilioGateway

log = logging.getLogger("homeward.sms")


def build_gateway(settings: Settings) -> SmsGateway:
    """Create the configured backend. Call inside a running event loop (lifespan/start-up)."""
    if settings.sms_backend == "twilio":
        return TwilioGateway(settings)
    return ConsoleGateway()


@asynccontextmanager
async def open_channel(
    settings: Settings, hooks: OutboxHooks, gateway: SmsGateway | None = None
) -> AsyncIterator[SmsChannel]:
    """The channel for one process: created at start-up, closed at shutdown."""
    gw = gateway or build_gateway(settings)
    channel = SmsChannel(
        gateway=gw,
        hooks=hooks,
        limiter=RateLimiter(settings.sms_rate_per_second),
        public_base_url=settings.public_base_url.rstrip("/"),
        timeout_seconds=settings.twilio_timeout_seconds,
        # Enough in flight to keep the pace without piling up ambiguous sends on an outage.
        concurrency=max(1, min(16, int(settings.sms_rate_per_second) or 1)),
        patient_daily_cap=settings.sms_patient_daily_cap,
        hourly_cap=settings.sms_hourly_cap,
    )
    log.info("sms channel ready", extra={"backend": gw.name})
    try:
        yield channel
    finally:
        await gw.aclose()
