"""The email channel one process sends staff email through, built at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from service.email.hooks import EmailHooks
from service.email.smtp import EmailSender, SmtpSender
from service.settings import Settings

# The key under which app and worker hand the channel to sweeps (AppResources.extras).
EMAIL_CHANNEL_KEY = "email_channel"


@dataclass
class EmailChannel:
    sender: EmailSender
    # The domain's ears (service.email.hooks), wired by the app and the worker.
    hooks: EmailHooks
    from_address: str
    timeout_seconds: float
    concurrency: int = 4

    @property
    def message_domain(self) -> str:
        return self.from_address.rpartition("@")[2] or "homeward"


def build_email_channel(
    settings: Settings, hooks: EmailHooks, sender: EmailSender | None = None
) -> EmailChannel | None:
    """The channel when SMTP_URL is set, else None (staff email is off)."""
    if settings.smtp_url is None:
        return None
    return EmailChannel(
        sender=sender or SmtpSender(settings),
        hooks=hooks,
        from_address=settings.smtp_from,
        timeout_seconds=settings.smtp_timeout_seconds,
    )
