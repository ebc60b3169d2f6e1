"""The outbox: every outgoing SMS is a row first, and is sent at most once.

Requests and sweeps only `enqueue` (a unique dedupe key makes a second enqueue a no-op).
`send_due` is the sending pass the outbox sweep runs:

1. claim due `queued` rows with FOR UPDATE SKIP LOCKED and a lease (commit);
2. per chunk: mark the chunk `sending` (commit) BEFORE any call leaves, then call the
   gateway paced to SMS_RATE_PER_SECOND with bounded concurrency, then store each result.

A worker killed after step 1 leaves `queued` rows whose lease expires: another worker sends
them. A worker killed after marking `sending` leaves rows that `reconcile` turns `unknown`:
the call may have reached Twilio, so they are never resent. `unknown` rows are reconciled by
the status callback (its URL carries the outbox id, so it works even without a sid) or,
when we hold a sid, by a lookup. A row whose send nobody can confirm is reported, never
sent a second time.

The outbox imports no domain module. What a failure, an unconfirmed send or a cap means is
decided by the `OutboxHooks` on the channel (service.sms.hooks), and the domain's rule for
"may this patient be texted now" comes from there too, applied in the statement that marks
a row `sending` as the last word.

That statement also asks the domain whether the text may go at this very moment
(`hooks.send_refusal`: for patients, the contact window and whether the words still suit
discreet mode). A text it stops stays `queued`, out of the pass, and the domain says what
becomes of it (`hooks.refused_at_send`): try again at a time (the window's next opening), or
withdraw it with a reason (a check-in question whose reply window would be over by then:
`window_passed`; words for a private phone: `wording_changed`). The per-purpose choices and
their reasons are in service.conversation.delivery.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    TextClause,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import UTCDateTime, new_id
from db.models import OutboxMessage
from service.clock import Clock
from service.send_pass import PassResult
from service.settings import PATIENT_DAILY_SMS_CAP
from service.sms.gateway import OPTED_OUT, LookupResult, SendResult, SmsChannel
from service.sms.hooks import OutboxHooks

log = logging.getLogger("homeward.sms.outbox")

CLAIM_BATCH = 200
LOOKUP_BATCH = 50
MAX_RETRY_ATTEMPTS = 10
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
# How long after a send we confirm delivery by lookup if no callback has said so.
CONFIRM_AFTER = timedelta(minutes=30)
# How long an ambiguous send waits for a callback before staff are told.
UNKNOWN_GRACE = timedelta(minutes=15)
# The shortest wait for a text held at the send step.
HELD_MIN_WAIT = timedelta(seconds=30)
# Stop looking up a message this long after it was sent.
LOOKUP_HORIZON = timedelta(hours=48)

FINAL = frozenset({"delivered", "undelivered", "failed", "cancelled"})
_RANK = {
    "queued": 0,
    "sending": 1,
    "unknown": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "cancelled": 3,
}
# Twilio's message statuses, in the order they happen.
_PROVIDER_RANK = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}


def our_status(provider_status: str) -> str | None:
    """Our outbox status for a provider status (None for ones we do not know)."""
    s = provider_status.lower()
    if s in ("accepted", "scheduled", "queued", "sending", "sent"):
        return "sent"
    if s in ("delivered", "read"):
        return "delivered"
    if s == "undelivered":
        return "undelivered"
    if s in ("failed", "canceled"):
        return "failed"
    return None


# --- writing rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRef:
    """Which template a text's words came from, kept on its row so the history can show it
    (the domain chooses the words: service.message_templates)."""

    purpose: str
    language: str
    source: str
    version: int

    def columns(self) -> dict[str, Any]:
        return {
            "template_purpose": self.purpose,
            "template_language": self.language,
            "template_source": self.source,
            "template_version": self.version,
        }


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    to_number: str,
    body: str,
    purpose: str,
    now: datetime,
    recipient_kind: str = "patient",
    patient_id: uuid.UUID | None = None,
    ward_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    check_in_id: uuid.UUID | None = None,
    prom_survey_id: uuid.UUID | None = None,
    escalation_id: uuid.UUID | None = None,
    escalation_level: int | None = None,
    send_after: datetime | None = None,
    fit_for_discreet: bool | None = None,
    template: TemplateRef | None = None,
) -> uuid.UUID | None:
    """Queue one SMS. Returns its id, or None when this dedupe key was queued before.

    A text about an escalation (a staff page, a carer notice) names it and the level it was
    sent for, so a failure can be reported against that escalation. `fit_for_discreet` says
    whether a patient text's words suit a shared phone (None: not said, not checked), for
    the send step to ask the domain about (`hooks.send_refusal`)."""
    inserted: uuid.UUID | None = await session.scalar(
        insert(OutboxMessage)
        .values(
            id=new_id(),
            dedupe_key=dedupe_key,
            recipient_kind=recipient_kind,
            patient_id=patient_id,
            user_id=user_id,
            ward_id=ward_id,
            check_in_id=check_in_id,
            prom_survey_id=prom_survey_id,
            escalation_id=escalation_id,
            escalation_level=escalation_level,
            purpose=purpose,
            to_number=to_number,
            body=body,
            fit_for_discreet=fit_for_discreet,
            **(template.columns() if template else {}),
            status="queued",
            attempts=0,
            lookups=0,
            next_attempt_at=send_after or now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return inserted


async def record_twiml_reply(
    session: AsyncSession,
    *,
    dedupe_key: str,
    to_number: str,
    body: str,
    purpose: str,
    now: datetime,
    patient_id: uuid.UUID,
    ward_id: uuid.UUID,
    fit_for_discreet: bool | None = None,
    template: TemplateRef | None = None,
) -> uuid.UUID | None:
    """Keep a reply Twilio sends for us from our TwiML answer, so the conversation is whole."""
    inserted: uuid.UUID | None = await session.scalar(
        insert(OutboxMessage)
        .values(
            id=new_id(),
            dedupe_key=dedupe_key,
            recipient_kind="patient",
            patient_id=patient_id,
            ward_id=ward_id,
            purpose=purpose,
            to_number=to_number,
            body=body,
            status="sent",
            provider="twiml",
            fit_for_discreet=fit_for_discreet,
            **(template.columns() if template else {}),
            attempts=1,
            lookups=0,
            created_at=now,
            sent_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return inserted


async def cancel_queued(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    now: datetime,
    reason: str,
    check_in_id: uuid.UUID | None = None,
    prom_survey_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    """Withdraw the patient's texts not yet handed to the gateway (or only one check-in's, or
    only these surveys' items); a row already `sending` cannot be recalled. Returns how many
    were withdrawn."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.patient_id == patient_id,
            OutboxMessage.recipient_kind == "patient",
            OutboxMessage.status == "queued",
            *([OutboxMessage.check_in_id == check_in_id] if check_in_id else []),
            *(
                [OutboxMessage.prom_survey_id.in_(prom_survey_ids)]
                if prom_survey_ids is not None
                else []
            ),
        )
        .values(
            status="cancelled",
            status_reason=reason,
            next_attempt_at=None,
            lease_until=None,
            finished_at=now,
            updated_at=now,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


# --- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    to_number: str
    body: str
    attempts: int


def backoff(attempts: int) -> timedelta:
    factor: int = 2 ** max(0, attempts - 1)
    delay: timedelta = BACKOFF_BASE * factor
    return min(delay, BACKOFF_CAP)


async def claim_batch(
    session: AsyncSession,
    *,
    now: datetime,
    owner: str,
    limit: int,
    lease: timedelta,
    staff_only: bool = False,
) -> list[Claimed]:
    """Lease up to `limit` due queued rows to `owner`. The caller commits."""
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "queued",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
            *([OutboxMessage.recipient_kind == "staff"] if staff_only else []),
        )
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(lease_until=now + lease, leased_by=owner, updated_at=now)
        .returning(
            OutboxMessage.id,
            OutboxMessage.to_number,
            OutboxMessage.body,
            OutboxMessage.attempts,
            OutboxMessage.next_attempt_at,
        )
        .execution_options(synchronize_session=False)
    )
    found = sorted(rows.all(), key=lambda r: (r.next_attempt_at, r.id))
    return [Claimed(r.id, r.to_number, r.body, r.attempts) for r in found]


# The two statements every chunk runs, as plain SQL: built once per process (the refusal
# rules come from the hooks wired at start-up), no per-call compilation.
_MARK_SENDING = """
    UPDATE sms_outbox AS o SET
        status = CASE WHEN t.blocked IS NOT NULL THEN 'cancelled'
                      WHEN t.held IS NOT NULL THEN 'queued' ELSE 'sending' END,
        status_reason = COALESCE(t.blocked, t.held),
        attempts = o.attempts + CASE WHEN t.going THEN 1 ELSE 0 END,
        sending_started_at = CASE WHEN t.going THEN :now
                                  WHEN t.held IS NOT NULL THEN o.sending_started_at END,
        next_attempt_at = CASE WHEN t.blocked IS NOT NULL THEN NULL ELSE o.next_attempt_at END,
        finished_at = CASE WHEN t.blocked IS NOT NULL THEN :now END,
        lease_until = CASE WHEN t.going THEN :lease_until END,
        updated_at = :now
    FROM (
        SELECT s.id, s.held,
               s.refused IS NULL AND s.held IS NULL AND NOT s.capped AS going,
               COALESCE(s.refused, CASE WHEN s.capped THEN 'daily_cap' END) AS blocked
        FROM (
            SELECT r.id, r.refused, CASE WHEN r.refused IS NULL THEN r.held END AS held,
                   -- The spend guard, over the texts that would go: what this patient was
                   -- sent in 24 h plus this one's place among them may not pass the cap.
                   COALESCE(r.patient_text AND r.refused IS NULL AND r.held IS NULL
                       AND (SELECT count(*) FROM sms_outbox y
                            WHERE y.patient_id = r.patient_id
                              AND y.recipient_kind = 'patient'
                              AND y.sending_started_at > :day_ago)
                           + row_number() OVER (
                               PARTITION BY r.patient_id, r.patient_text,
                                            r.refused IS NULL AND r.held IS NULL
                               ORDER BY r.created_at, r.id) > :daily_cap,
                       false) AS capped
            FROM (
                SELECT x.id, x.patient_id, x.created_at,
                       x.recipient_kind = 'patient' AS patient_text,
                       -- The domain's rule first (opted out, no consent, number changed or
                       -- flagged, record closed, back on the ward, ...): withdrawn. Then
                       -- this moment's (outside the contact window, words no longer
                       -- suited): the hooks say what becomes of the text.
                       CASE WHEN x.recipient_kind = 'patient' THEN ({refusal}) END AS refused,
                       CASE WHEN x.recipient_kind = 'patient'
                                 OR (x.recipient_kind = 'carer' AND x.patient_id IS NOT NULL)
                            THEN ({send_refusal}) END AS held
                FROM sms_outbox x
                WHERE x.id = ANY(:ids)
            ) AS r
        ) AS s
    ) AS t
    WHERE o.id = t.id AND o.status = 'queued' AND o.leased_by = :owner
    RETURNING o.id, o.status, o.status_reason, o.patient_id, o.ward_id
"""


@functools.cache
def _mark_sending_statement(hooks: OutboxHooks) -> TextClause:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]

    def sql(rule: ColumnElement[Any]) -> str:
        return str(rule.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    refusal = hooks.refusal(literal_column("x.patient_id"), literal_column("x.to_number"))
    # `:now` stays a parameter of the statement: the pass's time, never one compiled in.
    at_send = hooks.send_refusal(
        literal_column("x.patient_id"),
        literal_column("x.recipient_kind"),
        literal_column("x.purpose"),
        literal_column("x.fit_for_discreet"),
        literal_column(":now", type_=UTCDateTime()),
    )
    statement = _MARK_SENDING.replace("{refusal}", sql(refusal))
    return text(statement.replace("{send_refusal}", sql(at_send))).bindparams(
        bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))),
        bindparam("now", type_=UTCDateTime()),
        bindparam("day_ago", type_=UTCDateTime()),
        bindparam("lease_until", type_=UTCDateTime()),
    )


_STORE_ACCEPTED = text(
    """
    UPDATE sms_outbox AS o SET
        status = 'sent', sid = v.sid, provider_status = v.provider_status,
        provider = :provider, status_reason = NULL, sent_at = :now, lease_until = NULL,
        leased_by = NULL, check_due_at = :check_due_at, updated_at = :now
    FROM unnest(:ids, :sids, :statuses) AS v(id, sid, provider_status)
    WHERE o.id = v.id AND o.status = 'sending'
    RETURNING o.id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))),
    bindparam("sids", type_=ARRAY(String)),
    bindparam("statuses", type_=ARRAY(String)),
    bindparam("now", type_=UTCDateTime()),
    bindparam("check_due_at", type_=UTCDateTime()),
)


async def mark_sending(
    session: AsyncSession,
    hooks: OutboxHooks,
    ids: Sequence[uuid.UUID],
    owner: str,
    now: datetime,
    lease: timedelta,
    *,
    daily_cap: int = PATIENT_DAILY_SMS_CAP,
) -> set[uuid.UUID]:
    """Still ours and still queued → `sending`; only these may be handed to the gateway.

    In the same statement, patient messages that must not go become `cancelled` instead,
    with the reason: the domain's rule refuses them now (`hooks.refusal`), or the patient's
    daily cap is reached (the spend guard, reported once per patient per pass). Those that
    may not go at this moment (`hooks.send_refusal`) stay `queued`, out of this pass, and
    the domain says what becomes of each (`hooks.refused_at_send`).
    """
    result = await session.execute(
        _mark_sending_statement(hooks),
        {
            "ids": list(ids),
            "owner": owner,
            "now": now,
            "day_ago": now - timedelta(hours=24),
            "daily_cap": daily_cap,
            "lease_until": now + lease,
        },
    )
    rows = result.all()
    capped = {(r.patient_id, r.ward_id) for r in rows if r.status_reason == "daily_cap"}
    for patient_id, ward_id in capped:
        log.warning("sms daily cap reached", extra={"patient_ref": str(patient_id)[:8]})
        await hooks.daily_cap_reached(session, patient_id, ward_id, now)
    for r in rows:
        if r.status == "queued":
            await _held(session, hooks, r.id, r.status_reason, now)
    return {r.id for r in rows if r.status == "sending"}


async def _held(
    session: AsyncSession, hooks: OutboxHooks, outbox_id: uuid.UUID, reason: str, now: datetime
) -> None:
    """A text stopped at the send step: try again when the domain says, or withdraw it."""
    row = await session.get(OutboxMessage, outbox_id, populate_existing=True)
    assert row is not None
    decision = await hooks.refused_at_send(session, row, reason, now)
    row.leased_by = None
    row.updated_at = now
    if isinstance(decision, datetime):
        # Never sooner than the next pass: a time already past would spin on this row.
        row.next_attempt_at = max(decision, now + HELD_MIN_WAIT)
        return
    row.status = "cancelled"
    row.status_reason = decision[:40]
    row.next_attempt_at = None
    row.finished_at = now


async def sent_in_last_hour(session: AsyncSession, now: datetime) -> int:
    """Texts to patients and carers started in the last hour. Staff alerts are not counted:
    they are never held, and must not keep the pause going."""
    count = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.sending_started_at > now - timedelta(hours=1),
            OutboxMessage.recipient_kind != "staff",
        )
    )
    return int(count or 0)


async def _send_one(channel: SmsChannel, row: Claimed) -> SendResult:
    await channel.limiter.wait()
    try:
        return await channel.gateway.send(
            row.to_number, row.body, channel.status_callback_url(row.id), reference=str(row.id)
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The gateway should classify everything; if it did not, the request may have left.
        return SendResult("ambiguous", detail=type(exc).__name__)


async def send_due(
    session: AsyncSession,
    channel: SmsChannel,
    clock: Clock,
    *,
    owner: str | None = None,
    limit: int = CLAIM_BATCH,
) -> PassResult:
    """One sending pass over due messages. Commits as it goes (see the module docstring)."""
    owner = owner or f"outbox:{uuid.uuid4().hex}"
    outcome = PassResult()
    now = clock.now()
    chunk_size = channel.concurrency
    per_chunk = timedelta(seconds=channel.timeout_seconds + chunk_size / _rate(channel) + 5)
    lease = per_chunk * math.ceil(limit / chunk_size) + timedelta(seconds=60)
    staff_only = False
    if channel.hourly_cap:
        room = channel.hourly_cap - await sent_in_last_hour(session, now)
        if room <= 0:
            # Spend guard: texts to patients and carers wait for the hour to roll on, but
            # staff alerts still go, or a flood would silence the escalation ladder.
            log.error(
                "sms hourly cap reached; only staff alerts are sent",
                extra={"cap": channel.hourly_cap},
            )
            staff_only = True
            await channel.hooks.hourly_cap_reached(session, now)
            await session.commit()
        else:
            limit = min(limit, room)
    claimed = await claim_batch(
        session, now=now, owner=owner, limit=limit, lease=lease, staff_only=staff_only
    )
    await session.commit()
    outcome.claimed = len(claimed)
    chunks = [claimed[i : i + chunk_size] for i in range(0, len(claimed), chunk_size)]
    finished: list[tuple[Claimed, SendResult]] = []
    for chunk in [*chunks, []]:
        now = clock.now()
        if finished:
            await _store_results(
                session, channel.hooks, finished, now, channel.gateway.name, outcome
            )
            finished = []
        going: set[uuid.UUID] = set()
        if chunk:
            going = await mark_sending(
                session,
                channel.hooks,
                [r.id for r in chunk],
                owner,
                now,
                per_chunk + timedelta(seconds=60),
                daily_cap=channel.patient_daily_cap,
            )
        # One commit stores the last chunk's results and makes this chunk `sending`: the point
        # of no return is durable before anything leaves the building.
        await session.commit()
        # Cancelled (channel closed) or no longer ours: either way not sent by this pass.
        outcome.cancelled += len(chunk) - len(going)
        sending = [r for r in chunk if r.id in going]
        if sending:
            results = await asyncio.gather(*(_send_one(channel, r) for r in sending))
            finished = list(zip(sending, results, strict=True))
    return outcome


async def _store_results(
    session: AsyncSession,
    hooks: OutboxHooks,
    pairs: list[tuple[Claimed, SendResult]],
    now: datetime,
    provider: str,
    outcome: PassResult,
) -> None:
    # The common case in one statement; anything else (or a row a callback already moved)
    # goes through the careful per-row path, each row in its own savepoint.
    stored = await _store_accepted(session, pairs, now, provider)
    outcome.sent += len(stored)
    for row, result in pairs:
        if row.id in stored:
            continue
        try:
            async with session.begin_nested():
                await apply_send_result(session, hooks, row.id, result, now, provider)
        except Exception as exc:
            # The row stays `sending`; its lease expiry turns it `unknown`, never resent.
            outcome.failures += 1
            log.error(
                "storing a send result failed",
                extra={"outbox_id": str(row.id), "exc_class": type(exc).__name__},
                exc_info=exc,
            )
            continue
        outcome.count(result.outcome)


async def _store_accepted(
    session: AsyncSession,
    pairs: Sequence[tuple[Claimed, SendResult]],
    now: datetime,
    provider: str,
) -> set[uuid.UUID]:
    """Accepted sends of rows still `sending`: store sid and status in one UPDATE."""
    data = [
        (row.id, result.sid, (result.status or "queued").lower())
        for row, result in pairs
        if result.outcome == "accepted" and result.sid and our_status(result.status or "") == "sent"
    ]
    if not data:
        return set()
    result = await session.execute(
        _STORE_ACCEPTED,
        {
            "ids": [d[0] for d in data],
            "sids": [d[1] for d in data],
            "statuses": [d[2] for d in data],
            "provider": provider,
            "now": now,
            "check_due_at": now + CONFIRM_AFTER,
        },
    )
    return {r.id for r in result}


def _rate(channel: SmsChannel) -> float:
    return 1.0 / channel.limiter.interval


async def apply_send_result(
    session: AsyncSession,
    hooks: OutboxHooks,
    outbox_id: uuid.UUID,
    result: SendResult,
    now: datetime,
    provider: str,
) -> None:
    row = await session.get(OutboxMessage, outbox_id, with_for_update=True, populate_existing=True)
    if row is None:
        return
    row.lease_until = None
    row.leased_by = None
    row.updated_at = now
    row.provider = provider
    if result.outcome == "accepted":
        if row.sid is None:
            row.sid = result.sid
        if row.sent_at is None:
            row.sent_at = now
        row.status_reason = None
        await advance_status(session, hooks, row, result.status or "queued", None, now)
        if row.status not in FINAL and row.check_due_at is None:
            row.check_due_at = now + CONFIRM_AFTER
        return
    if row.status != "sending":
        # A callback got here first and already said what happened.
        return
    row.error_code = result.error_code
    row.status_reason = _reason(result)
    if result.outcome == "retry":
        if row.attempts >= MAX_RETRY_ATTEMPTS:
            row.status = "failed"
            row.finished_at = now
            row.next_attempt_at = None
            await _report_failure(session, hooks, row, result.error_code, now)
            return
        row.status = "queued"
        row.next_attempt_at = now + backoff(row.attempts)
        await hooks.not_accepted(session, row, "retry", now)
        return
    if result.outcome == "rejected":
        row.status = "failed"
        row.finished_at = now
        row.next_attempt_at = None
        await _report_failure(session, hooks, row, result.error_code, now)
        return
    row.status = "unknown"
    row.next_attempt_at = None
    row.check_due_at = now + UNKNOWN_GRACE
    await hooks.not_accepted(session, row, "ambiguous", now)


async def _report_failure(
    session: AsyncSession,
    hooks: OutboxHooks,
    row: OutboxMessage,
    error_code: int | None,
    now: datetime,
) -> None:
    if error_code == OPTED_OUT:
        await hooks.carrier_opted_out(session, row, now)
    else:
        await hooks.failed(session, row, error_code, now)


def _reason(result: SendResult) -> str:
    if result.error_code is not None:
        return str(result.error_code)
    return (result.detail or result.outcome)[:40]


async def advance_status(
    session: AsyncSession,
    hooks: OutboxHooks,
    row: OutboxMessage,
    provider_status: str,
    error_code: int | None,
    now: datetime,
) -> bool:
    """Move a row forward to what the provider reports; never backward. True if it moved."""
    target = our_status(provider_status)
    if target is None:
        return False
    current = row.status
    moved = False
    if current not in FINAL and _RANK[target] > _RANK[current]:
        row.status = target
        moved = True
    reported = _PROVIDER_RANK.get(provider_status.lower(), 0)
    known = _PROVIDER_RANK.get((row.provider_status or "").lower(), 0)
    if moved or (row.status == "sent" and reported > known):
        row.provider_status = provider_status.lower()
    if not moved:
        return False
    row.updated_at = now
    row.lease_until = None
    row.next_attempt_at = None
    if current == "unknown":
        row.status_reason = "reconciled"
    if row.status in FINAL:
        row.finished_at = now
        row.check_due_at = None
        if row.status in ("undelivered", "failed"):
            row.error_code = error_code
            await _report_failure(session, hooks, row, error_code, now)
    return True


# --- reconciling --------------------------------------------------------------------------


async def expire_sending_leases(
    session: AsyncSession, now: datetime, hooks: OutboxHooks | None = None
) -> int:
    """`sending` rows whose worker vanished: the call may have left, so `unknown`, not resent.
    With `hooks`, a staff alert among them is reported at once (`not_accepted`), as an
    ambiguous send is, so the domain need not wait out the confirmation grace."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.lease_until < now)
        .values(
            status="unknown",
            status_reason="lease_expired",
            lease_until=None,
            leased_by=None,
            check_due_at=now + UNKNOWN_GRACE,
            updated_at=now,
        )
        .returning(OutboxMessage.id, OutboxMessage.recipient_kind)
        .execution_options(synchronize_session=False)
    )
    rows = result.all()
    if hooks is not None:
        for row in rows:
            if row.recipient_kind != "staff":
                continue
            message = await session.get(OutboxMessage, row.id, populate_existing=True)
            if message is not None:
                await hooks.not_accepted(session, message, "ambiguous", now)
    return len(rows)


async def confirm_due(
    session: AsyncSession, channel: SmsChannel, clock: Clock, *, limit: int = LOOKUP_BATCH
) -> int:
    """Rows waiting for confirmation: look up those with a sid, tell staff about the rest."""
    now = clock.now()
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.check_due_at <= now)
        .order_by(OutboxMessage.check_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # Push the check out first (commit), so a parallel worker does not look up the same rows.
    rows = (
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(check_due_at=now + timedelta(minutes=5))
            .returning(OutboxMessage.id, OutboxMessage.sid)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await session.commit()
    if not rows:
        return 0

    async def look(sid: str) -> LookupResult | BaseException | None:
        try:
            return await channel.gateway.lookup(sid)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc

    with_sid = [r for r in rows if r.sid]
    found = await asyncio.gather(*(look(r.sid) for r in with_sid))
    lookups = {r.id: f for r, f in zip(with_sid, found, strict=True)}
    now = clock.now()
    for r in rows:
        async with session.begin_nested():
            await _confirm_one(session, channel.hooks, r.id, lookups.get(r.id), now)
    await session.commit()
    return len(rows)


async def _confirm_one(
    session: AsyncSession,
    hooks: OutboxHooks,
    outbox_id: uuid.UUID,
    found: LookupResult | BaseException | None,
    now: datetime,
) -> None:
    row = await session.get(OutboxMessage, outbox_id, with_for_update=True, populate_existing=True)
    if row is None or row.status in FINAL:
        if row is not None:
            row.check_due_at = None
        return
    if row.sid is None:
        # Ambiguous and unconfirmed: staff decide. A late callback can still reconcile it.
        row.check_due_at = None
        row.updated_at = now
        await hooks.unconfirmed(session, row, now)
        return
    row.lookups += 1
    if isinstance(found, LookupResult):
        await advance_status(session, hooks, row, found.status, found.error_code, now)
    if row.status in FINAL:
        return
    started = row.sent_at or row.sending_started_at or row.created_at
    if now - started > LOOKUP_HORIZON:
        row.check_due_at = None
        if row.status == "unknown":
            await hooks.unconfirmed(session, row, now)
        return
    row.check_due_at = now + min(CONFIRM_AFTER * (2 ** min(row.lookups, 6)), timedelta(hours=6))


async def apply_status_callback(
    session: AsyncSession,
    hooks: OutboxHooks,
    *,
    outbox_id: uuid.UUID | None,
    message_sid: str | None,
    message_status: str,
    error_code: int | None,
    now: datetime,
) -> bool:
    """A delivery report from Twilio. Moves a row forward only; unknown rows learn their sid."""
    row: OutboxMessage | None = None
    if outbox_id is not None:
        row = await session.get(
            OutboxMessage, outbox_id, with_for_update=True, populate_existing=True
        )
    if row is None and message_sid:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.sid == message_sid).with_for_update()
        )
    if row is None:
        return False
    if message_sid:
        if row.sid is None:
            clash = await session.scalar(
                select(OutboxMessage.id).where(
                    and_(OutboxMessage.sid == message_sid, OutboxMessage.id != row.id)
                )
            )
            if clash is not None:
                return False
            row.sid = message_sid
            row.updated_at = now
        elif row.sid != message_sid:
            return False
    if row.status == "sending":
        # The report overtook our own create response: it answers the ambiguity too.
        row.sent_at = row.sent_at or now
    return await advance_status(session, hooks, row, message_status, error_code, now)
