"""A loopback SMTP server (aiosmtpd) for the staff email tests: real SMTP on a real socket.

Every message the server takes is recorded, so tests count exactly what would have reached
a mailbox. Failures are programmable per message (`fail_next`): `reject` (550 to the
recipient: refused for good), `busy` (451 to the recipient: try later), `drop` (takes the
message, then closes the connection before answering: the client cannot know), `slow`
(takes the message, answers after `slow_seconds`: a client timeout in doubt). `stop` and
`start` take the server down and bring it back on the same port.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import Envelope, Session

BEHAVIOURS = frozenset({"reject", "busy", "drop", "slow"})


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content()).strip()  # type: ignore[attr-defined]


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_MAIL(
        self, server: SMTPProtocol, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        envelope.mail_from = address
        # The behaviour for this message, decided as its envelope opens.
        session.homeward_behaviour = self.fake._next.popleft() if self.fake._next else None  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTPProtocol, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        behaviour = getattr(session, "homeward_behaviour", None)
        if behaviour == "reject":
            self.fake.refused += 1
            return "550 5.1.1 No such mailbox"
        if behaviour == "busy":
            self.fake.refused += 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPProtocol, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.fake.received.append(
            ReceivedEmail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed)
        )
        behaviour = getattr(session, "homeward_behaviour", None)
        if behaviour == "drop" and server.transport is not None:
            server.transport.close()
        elif behaviour == "slow":
            await asyncio.sleep(self.fake.slow_seconds)
        return "250 2.0.0 Queued"


class FakeSmtp:
    def __init__(self, *, slow_seconds: float = 2.0) -> None:
        self.slow_seconds = slow_seconds
        self.received: list[ReceivedEmail] = []
        self.refused = 0
        self._next: deque[str] = deque()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def fail_next(self, *behaviours: str) -> None:
        for behaviour in behaviours:
            assert behaviour in BEHAVIOURS, behaviour
            self._next.append(behaviour)

    def to(self, address: str) -> list[ReceivedEmail]:
        return [m for m in self.received if address in m.rcpt_to]

    async def start(self) -> FakeSmtp:
        loop = asyncio.get_running_loop()
        handler = _Handler(self)
        self._server = await loop.create_server(
            lambda: SMTPProtocol(handler, hostname="fake-smtp.test"), "127.0.0.1", self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Down: new connections are refused (the port stays ours for `start`)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
