"""The SMS gateway interface, its outcomes, and the channel object jobs send through.

Backends and the channel's construction live in service.sms.backends.

A gateway call has four possible outcomes, and the outbox treats each differently:
- `accepted`: the provider took the message (we have its sid and status);
- `retry`: it refused before creating anything (429, connection refused, bad credentials),
  so sending again later cannot duplicate;
- `rejected`: permanently refused (21610 opted out, 21211 invalid, 21614 not mobile, ...);
- `ambiguous`: the request may have left and been acted on (timeout, 5xx, dropped
  connection). Never resent blindly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from service.settings import HOURLY_SMS_CAP, PATIENT_DAILY_SMS_CAP
from service.sms.hooks import OutboxHooks

log = logging.getLogger("homeward.sms")

Outcome = Literal["accepted", "retry", "rejected", "ambiguous"]

# Twilio error codes with a meaning of their own here.
OPTED_OUT = 21610
INVALID_NUMBER = 21211
NOT_MOBILE = 21614
RATE_LIMITED = 20429
UNDELIVERABLE_NUMBER_CODES = frozenset({INVALID_NUMBER, NOT_MOBILE, 30005, 30006})

# The key under which app and worker hand the channel to sweeps (AppResources.extras).
CHANNEL_KEY = "sms_channel"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    sid: str | None = None
    status: str | None = None
    error_code: int | None = None
    http_status: int | None = None
    # Why, in words safe for logs (an exception class or an error code; never message data).
    detail: str | None = None


@dataclass(frozen=True)
class LookupResult:
    sid: str
    status: str
    error_code: int | None = None


class SmsGateway(Protocol):
    name: str

    async def send(
        self, to: str, body: str, status_callback_url: str | None, *, reference: str | None = None
    ) -> SendResult: ...

    async def lookup(self, sid: str) -> LookupResult | None: ...

    async def aclose(self) -> None: ...


class RateLimiter:
    """Spaces send starts at least 1/rate seconds apart within this process (wall time)."""

    def __init__(self, rate_per_second: float) -> None:
        self.interval = 1.0 / rate_per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class SmsChannel:
    """What sweeps need to send: the gateway, the pacing, and where callbacks come back."""

    gateway: SmsGateway
    # The domain's answers and ears (service.sms.hooks), wired by the app and the worker.
    hooks: OutboxHooks
    limiter: RateLimiter
    public_base_url: str
    timeout_seconds: float
    concurrency: int
    # Spend guard (see service.sms.outbox): per patient per 24 h, and for all messages per hour.
    patient_daily_cap: int = PATIENT_DAILY_SMS_CAP
    hourly_cap: int = HOURLY_SMS_CAP

    def status_callback_url(self, outbox_id: object) -> str:
        return f"{self.public_base_url}/webhooks/twilio/status?outbox_id={outbox_id}"
