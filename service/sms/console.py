"""The default backend: nothing leaves the machine. Messages are kept in memory and announced
on stdout by outbox reference and length only (bodies and numbers are patient data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from service.sms.gateway import LookupResult, SendResult


@dataclass
class ConsoleMessage:
    sid: str
    to: str
    body: str
    status_callback_url: str | None
    reference: str | None


@dataclass
class ConsoleGateway:
    name: str = "console"
    sent: list[ConsoleMessage] = field(default_factory=list)
    echo: bool = True

    async def send(
        self, to: str, body: str, status_callback_url: str | None, *, reference: str | None = None
    ) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        self.sent.append(ConsoleMessage(sid, to, body, status_callback_url, reference))
        if self.echo:
            print(f"[sms console] outbox {reference or '-'}: {len(body)} characters", flush=True)
        return SendResult(outcome="accepted", sid=sid, status="sent")

    async def lookup(self, sid: str) -> LookupResult | None:
        for message in self.sent:
            if message.sid == sid:
                return LookupResult(sid=sid, status="delivered")
        return None

    async def aclose(self) -> None:
        return None
