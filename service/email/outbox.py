"""The staff email outbox: every email is a row first, and is sent at most once.

The same discipline as the SMS outbox (service.sms.outbox):

- `enqueue` inserts under a unique dedupe key, so asking twice queues one email;
- `send_due` claims due `queued` rows with FOR UPDATE SKIP LOCKED and marks them `sending`
  under a lease in one statement, and commits that BEFORE any SMTP call leaves;
- a refusal before the message went is retried with backoff (an SMTP server that is down
  loses nothing), a permanent refusal fails the row, and a send that may have reached the
  server (a timeout or a dropped connection during DATA) becomes `unknown`: never resent;
- `expire_sending_leases` turns rows a vanished worker was sending `unknown` too.

Failures and unknowns are reported through `EmailHooks`; the outbox imports no domain.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import StaffEmail
from service.clock import Clock
from service.email.channel import EmailChannel
from service.email.hooks import EmailHooks
from service.email.smtp import EmailResult, OutgoingEmail
from service.send_pass import PassResult

log = logging.getLogger("homeward.email.outbox")

CLAIM_BATCH = 20
EXPIRE_BATCH = 100
# About an hour and a half of retries (30 s doubling, capped at 10 min) before giving up.
MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=10)


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    user_id: uuid.UUID,
    to_address: str,
    subject: str,
    body: str,
    purpose: str,
    reason: str,
    now: datetime,
    ward_id: uuid.UUID | None = None,
    escalation_id: uuid.UUID | None = None,
    escalation_level: int | None = None,
    sms_outbox_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Queue one email. Returns its id, or None when this dedupe key was queued before."""
    inserted: uuid.UUID | None = await session.scalar(
        insert(StaffEmail)
        .values(
            id=new_id(),
            dedupe_key=dedupe_key,
            user_id=user_id,
            ward_id=ward_id,
            escalation_id=escalation_id,
            escalation_level=escalation_level,
            sms_outbox_id=sms_outbox_id,
            reason=reason,
            purpose=purpose,
            to_address=to_address,
            subject=subject[:200],
            body=body,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(StaffEmail.id)
    )
    return inserted


@dataclass(frozen=True)
class ClaimedEmail:
    id: uuid.UUID
    to_address: str
    subject: str
    body: str
    created_at: datetime


def backoff(attempts: int) -> timedelta:
    delay: timedelta = BACKOFF_BASE * (2 ** max(0, attempts - 1))
    return min(delay, BACKOFF_CAP)


async def claim_and_mark_sending(
    session: AsyncSession, *, now: datetime, owner: str, limit: int, lease: timedelta
) -> list[ClaimedEmail]:
    """Due queued rows, locked past other workers and marked `sending` under `owner`'s
    lease. The caller commits before sending: that commit is the point of no return."""
    due = (
        select(StaffEmail.id)
        .where(
            StaffEmail.status == "queued",
            StaffEmail.next_attempt_at <= now,
            or_(StaffEmail.lease_until.is_(None), StaffEmail.lease_until <= now),
        )
        .order_by(StaffEmail.next_attempt_at, StaffEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(StaffEmail)
        .where(StaffEmail.id.in_(due.scalar_subquery()), StaffEmail.status == "queued")
        .values(
            status="sending",
            attempts=StaffEmail.attempts + 1,
            sending_started_at=now,
            lease_until=now + lease,
            leased_by=owner,
            updated_at=now,
        )
        .returning(
            StaffEmail.id,
            StaffEmail.to_address,
            StaffEmail.subject,
            StaffEmail.body,
            StaffEmail.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    found = sorted(rows.all(), key=lambda r: (r.created_at, r.id))
    return [ClaimedEmail(r.id, r.to_address, r.subject, r.body, r.created_at) for r in found]


async def send_due(
    session: AsyncSession,
    channel: EmailChannel,
    clock: Clock,
    *,
    owner: str | None = None,
    limit: int = CLAIM_BATCH,
) -> PassResult:
    """One sending pass over due emails. Commits as it goes (see the module docstring)."""
    owner = owner or f"email:{uuid.uuid4().hex}"
    outcome = PassResult()
    now = clock.now()
    rounds = math.ceil(limit / channel.concurrency)
    lease = timedelta(seconds=channel.timeout_seconds * 3 * rounds + 60)
    claimed = await claim_and_mark_sending(session, now=now, owner=owner, limit=limit, lease=lease)
    await session.commit()
    outcome.claimed = len(claimed)
    if not claimed:
        return outcome
    gate = asyncio.Semaphore(channel.concurrency)

    async def send(row: ClaimedEmail) -> EmailResult:
        async with gate:
            try:
                return await channel.sender.send(
                    OutgoingEmail(
                        to_address=row.to_address,
                        subject=row.subject,
                        body=row.body,
                        message_id=f"<{row.id}@{channel.message_domain}>",
                        date=now,
                    )
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The sender should class everything; if it did not, the message may have gone.
                return EmailResult("ambiguous", type(exc).__name__)

    results = await asyncio.gather(*(send(r) for r in claimed))
    now = clock.now()
    for row, result in zip(claimed, results, strict=True):
        try:
            async with session.begin_nested():
                await _store_result(session, channel.hooks, row.id, owner, result, now)
        except Exception as exc:
            # The row stays `sending`; its lease expiry turns it `unknown`, never resent.
            outcome.failures += 1
            log.error(
                "storing an email result failed",
                extra={"email_id": str(row.id), "exc_class": type(exc).__name__},
                exc_info=exc,
            )
            continue
        outcome.count(result.outcome)
    await session.commit()
    if outcome.retried:
        log.warning("staff email will be retried", extra={"count": outcome.retried})
    return outcome


async def _store_result(
    session: AsyncSession,
    hooks: EmailHooks,
    email_id: uuid.UUID,
    owner: str,
    result: EmailResult,
    now: datetime,
) -> None:
    row = await session.get(StaffEmail, email_id, with_for_update=True, populate_existing=True)
    if row is None:
        return
    ours = row.status == "sending" and row.leased_by == owner
    if result.outcome == "accepted" and (ours or row.status == "unknown"):
        # Also a row whose lease ran out meanwhile: now we know it went.
        row.status = "sent"
        row.status_reason = None if ours else "reconciled"
        row.sent_at = row.finished_at = now
    elif not ours:
        return
    elif result.outcome == "retry" and row.attempts < MAX_ATTEMPTS:
        row.status = "queued"
        row.status_reason = (result.detail or "retry")[:40]
        row.next_attempt_at = now + backoff(row.attempts)
    elif result.outcome in ("retry", "rejected"):
        row.status = "failed"
        row.status_reason = (result.detail or result.outcome)[:40]
        row.next_attempt_at = None
        row.finished_at = now
        await hooks.failed(session, row, now)
    else:
        row.status = "unknown"
        row.status_reason = (result.detail or "ambiguous")[:40]
        row.next_attempt_at = None
        await hooks.unconfirmed(session, row, now)
    row.lease_until = None
    row.leased_by = None
    row.updated_at = now


async def expire_sending_leases(
    session: AsyncSession, hooks: EmailHooks, now: datetime, *, limit: int = EXPIRE_BATCH
) -> int:
    """`sending` rows whose worker vanished: the email may have left, so `unknown`, reported,
    never resent."""
    rows = (
        await session.scalars(
            select(StaffEmail)
            .where(StaffEmail.status == "sending", StaffEmail.lease_until < now)
            .order_by(StaffEmail.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        row.status = "unknown"
        row.status_reason = "lease_expired"
        row.lease_until = None
        row.leased_by = None
        row.next_attempt_at = None
        row.updated_at = now
        await hooks.unconfirmed(session, row, now)
    return len(rows)
