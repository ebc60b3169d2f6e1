"""What the email outbox tells the domain: one small interface, wired at start-up.

Each report is awaited inside the outbox's own transaction, so its effects commit with the
status change that caused them, exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import StaffEmail


class EmailHooks(Protocol):
    async def failed(self, session: AsyncSession, email: StaffEmail, now: datetime) -> None:
        """The server refused the email for good, or it could not be sent after every retry."""
        ...

    async def unconfirmed(self, session: AsyncSession, email: StaffEmail, now: datetime) -> None:
        """The server may have taken the email but never said so; it will not be sent again."""
        ...
