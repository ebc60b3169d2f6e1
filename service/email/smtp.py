"""Sending one email over SMTP (aiosmtplib), with each failure classed by what it means.

Like the SMS gateway, a send has four outcomes:
- `accepted`: the server answered 250 to the end of the message;
- `retry`: nothing was handed over (connection refused, TLS or login failed, a 4xx reply, a
  timeout before the message went), so sending again cannot duplicate it;
- `rejected`: the server refused for good (a 5xx reply to the recipient or the message);
- `ambiguous`: the connection dropped or timed out after the message's text was on its way,
  so the server may have taken it. Never resent blindly.
The step that was under way decides between `retry` and `ambiguous`, which is why the
commands are driven one by one rather than through `send_message`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from service.settings import Settings

log = logging.getLogger("homeward.email")

EmailOutcome = Literal["accepted", "retry", "rejected", "ambiguous"]


@dataclass(frozen=True)
class EmailResult:
    outcome: EmailOutcome
    # Why, in words safe for logs ("smtp 550", an exception class); never message data.
    detail: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    to_address: str
    subject: str
    body: str
    message_id: str
    date: datetime


class EmailSender(Protocol):
    name: str

    async def send(self, email: OutgoingEmail) -> EmailResult: ...


def build_message(sender: str, email: OutgoingEmail) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.date)
    # The same id on any copy: a mail system that sees a message twice can tell.
    message["Message-ID"] = email.message_id
    # An alert, not a conversation: no out-of-office replies back to the sender.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body)
    return message.as_bytes()


class SmtpSender:
    """One connection per email: alerts are few, and a dropped connection then leaves at
    most one message in doubt."""

    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_url is not None
        parts = urlsplit(settings.smtp_url)
        implicit_tls = parts.scheme == "smtps"
        self.sender = settings.smtp_from
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = settings.smtp_timeout_seconds
        self.use_tls = implicit_tls
        starttls = {"required": True, "opportunistic": None, "off": False}
        self.start_tls: bool | None = False if implicit_tls else starttls[settings.smtp_starttls]

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            timeout=self.timeout,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
        )

    async def send(self, email: OutgoingEmail) -> EmailResult:
        raw = build_message(self.sender, email)
        client = self._client()
        step = "connect"
        try:
            # Connecting also upgrades to TLS and logs in, as configured.
            await client.connect()
            step = "envelope"
            await client.mail(self.sender)
            await client.rcpt(email.to_address)
            step = "data"
            await client.data(raw)
        except asyncio.CancelledError:
            raise
        except aiosmtplib.SMTPResponseException as exc:
            # The server answered with a refusal, so it did not take the message.
            permanent = exc.code >= 500 and step != "connect"
            return EmailResult("rejected" if permanent else "retry", f"smtp {exc.code}")
        except Exception as exc:
            # Timeouts, dropped connections, TLS and socket errors: harmless before the
            # message went, unknowable after.
            return EmailResult("ambiguous" if step == "data" else "retry", type(exc).__name__)
        finally:
            await _close(client)
        return EmailResult("accepted")


async def _close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except Exception:
        client.close()
