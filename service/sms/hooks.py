"""What the outbox asks of the domain and tells it: one small interface, wired at start-up.

The outbox is plumbing: it queues, claims, sends and tracks texts, and imports no domain
module. Two things it cannot decide alone go through `OutboxHooks`, which the app and the
worker hand it (on the `SmsChannel`) when they start:

- whether a patient text may still go now, as SQL (`refusal`), so the send step applies the
  domain's one "may we text this patient" rule in the same statement that marks a row
  `sending`;
- whether it may go at this very moment, as SQL too (`send_refusal`: the contact window,
  words that no longer suit the patient), and, for a text it stops, what becomes of it
  (`refused_at_send`: a time to try again, or withdrawn with a reason);
- what happened to a message (failed, not accepted on this attempt, unconfirmed, refused because the carrier says the
  person opted out, held by the daily or hourly cap), so the domain decides what that means.

Each report is awaited inside the outbox's own transaction, so its effects commit with the
status change that caused them, exactly once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OutboxMessage


class OutboxHooks(Protocol):
    # Hashable: the outbox builds its send statement once per hooks object.
    def __hash__(self) -> int: ...

    def refusal(
        self, patient_id: ColumnElement[uuid.UUID], to_number: ColumnElement[str]
    ) -> ColumnElement[str | None]:
        """SQL: why a text to this patient at this number may not go now; NULL when it may."""
        ...

    def send_refusal(
        self,
        patient_id: ColumnElement[uuid.UUID],
        recipient_kind: ColumnElement[str],
        purpose: ColumnElement[str],
        fit_for_discreet: ColumnElement[bool | None],
        now: ColumnElement[datetime],
    ) -> ColumnElement[str | None]:
        """SQL: why a patient text `refusal` allows, or a carer's text about a patient, may
        still not go at `now` (the pass's time, a bound parameter); NULL when it may."""
        ...

    async def refused_at_send(
        self, session: AsyncSession, message: OutboxMessage, reason: str, now: datetime
    ) -> datetime | str:
        """A text `send_refusal` stopped, for `reason`: when to try it again (it stays
        queued), or the reason to withdraw it with (it is cancelled)."""
        ...

    async def failed(
        self,
        session: AsyncSession,
        message: OutboxMessage,
        error_code: int | None,
        now: datetime,
    ) -> None:
        """The message was refused for good or not delivered."""
        ...

    async def not_accepted(
        self, session: AsyncSession, message: OutboxMessage, outcome: str, now: datetime
    ) -> None:
        """A send attempt was not taken: it will be tried again (`retry`), or it may or may
        not have left and will not be sent again (`ambiguous`, now `unknown`)."""
        ...

    async def carrier_opted_out(
        self, session: AsyncSession, message: OutboxMessage, now: datetime
    ) -> None:
        """The carrier refused the message because the recipient opted out (Twilio 21610)."""
        ...

    async def unconfirmed(
        self, session: AsyncSession, message: OutboxMessage, now: datetime
    ) -> None:
        """Nobody could confirm whether an ambiguous send left; it will not be sent again."""
        ...

    async def daily_cap_reached(
        self, session: AsyncSession, patient_id: uuid.UUID, ward_id: uuid.UUID | None, now: datetime
    ) -> None:
        """The patient's daily cap held back one or more of their texts."""
        ...

    async def hourly_cap_reached(self, session: AsyncSession, now: datetime) -> None:
        """The hourly cap is holding back texts to patients and carers (staff alerts still go)."""
        ...
