"""Demo history: the story clock, with the worker, the carrier and the patients' phones.

A ward's story is a queue of dated events (an admission, a reply, an acknowledgement...).
The clock moves to whichever comes first: the next event, or the next moment the worker
would find something due for the ward's demo patients (a check-in step, an escalation
deadline, a follow-up clock, a survey step, a referral's respond-by). At such a moment the
worker's own sweeps run, in the worker's order, with that moment as their clock.

All calls into the SMS plumbing and the sweeps are made here, so the demo shows only what the
product does by itself: queued texts are sent through the console gateway and stored by the
outbox (`mark_sending`, `apply_send_result`), the carrier's report comes back through the status callback,
and the patients' texts come in through the inbound handler with made-up MessageSids.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    CheckIn,
    Escalation,
    FollowUp,
    InboundMessage,
    OutboxMessage,
    PromSurvey,
    Referral,
    ReplyToRead,
)
from jobs.runner import SweepContext
from jobs.schedule import JOBS
from service.clock import ManualClock
from service.conversation.delivery import DELIVERY_HOOKS
from service.conversation.inbound import handle_inbound
from service.follow_ups.warnings import WARN_BEFORE
from service.sms import outbox
from service.sms.console import ConsoleGateway

Event = Callable[[datetime], Awaitable[None]]
# The carrier's word on one text: (Twilio status, error code).
Report = tuple[str, int | None]
# The outbox sweep is left out: `send_due` claims every due row in the database and commits
# as it goes, so at a past story time it would send other wards' overdue texts to the console
# and expose a half-built ward to a running worker. `_send` does its steps for demo rows only.
SWEEPS = tuple(job for job in JOBS if job.name not in ("heartbeat", "outbox"))
ZERO = timedelta(0)
BEGINNING = datetime.min.replace(tzinfo=UTC)
WARD_NUMBER = "+447700900000"  # the number patients text (Ofcom's drama range too)
# The demo sends its own patients' texts (see World._send) under a lease of its own.
DEMO_OWNER = "demo-seed"
DEMO_LEASE = timedelta(minutes=5)
MAX_TICKS_AT_ONCE = 4


@dataclass(frozen=True)
class _Look:
    sweeps: dict[str, datetime]
    texts_due: datetime | None
    escalations: int


@dataclass(order=True)
class _Pending:
    at: datetime
    seq: int
    run: Event = field(compare=False)


@dataclass
class World:
    """One ward's story played from its first event to `end` (the real now)."""

    session: AsyncSession
    end: datetime
    # How the carrier answers a text, and what happens once it reached the phone.
    report: Callable[[OutboxMessage], Report]
    on_delivered: Callable[[OutboxMessage, datetime], Awaitable[None]]
    on_escalation: Callable[[Escalation], None]
    # A text the inbound handler held for a person to read.
    on_reply: Callable[[ReplyToRead], None]
    now: datetime = BEGINNING
    patient_ids: list[uuid.UUID] = field(default_factory=list)
    _queue: list[_Pending] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _seen: set[uuid.UUID] = field(default_factory=set)
    _gateway: ConsoleGateway = field(default_factory=lambda: ConsoleGateway(echo=False))
    _last_tick: datetime | None = None
    _ticks_at_once: int = 0

    def at(self, when: datetime, run: Event) -> None:
        """Something happens at `when`; dropped if that is not in the past yet."""
        if when < self.end:
            heapq.heappush(self._queue, _Pending(when, next(self._seq), run))

    async def run(self) -> None:
        look = await self._look()
        while True:
            due = min(look.sweeps.values(), default=None)
            event = self._queue[0].at if self._queue else None
            if due is not None and (event is None or due <= event) and due < self.end:
                at = max(due, self.now)
                await self._tick(at, [job for job, when in look.sweeps.items() if when <= at])
            elif event is not None:
                pending = heapq.heappop(self._queue)
                self.now = max(pending.at, self.now)
                self._last_tick = None
                await pending.run(self.now)
            else:
                break
            # What the step queued or raised. Sending moves no sweep's due time, so this look
            # also serves the next turn.
            look = await self._look()
            if look.texts_due is not None and look.texts_due <= self.now:
                await self._send()
            if look.escalations != len(self._seen):
                await self._noticed()

    async def text_in(self, from_number: str, body: str, at: datetime) -> None:
        """The patient's text reaches the webhook."""
        sid = f"SMdemo{uuid.uuid4().hex}"
        await handle_inbound(
            self.session,
            message_sid=sid,
            from_number=from_number,
            to_number=WARD_NUMBER,
            body=body,
            now=at,
        )
        held = await self.session.scalar(
            select(ReplyToRead)
            .join(InboundMessage, InboundMessage.id == ReplyToRead.inbound_id)
            .where(InboundMessage.message_sid == sid)
        )
        if held is not None:
            self.on_reply(held)

    async def _tick(self, at: datetime, jobs: list[str]) -> None:
        # One sweep's step can make another's work due at the same moment (a survey item that
        # timed out lets a waiting check-in go, which holds the next survey back one tick), so
        # a few ticks at one moment are normal; many with nothing in between mean a sweep is
        # not moving a row.
        self._ticks_at_once = self._ticks_at_once + 1 if self._last_tick == at else 1
        if self._ticks_at_once > MAX_TICKS_AT_ONCE:
            raise RuntimeError(f"demo: the sweeps {jobs} left work due at {at.isoformat()}")
        self._last_tick = at
        self.now = at
        ctx = SweepContext(session=self.session, clock=ManualClock(at), extras={})
        for job in SWEEPS:
            if job.name in jobs:
                await job.sweep(ctx)
        if ctx.failures:
            # The runner would log and retry; a demo must not hide a failing step.
            raise RuntimeError(f"demo: {ctx.failures} sweep item(s) failed")

    async def _look(self) -> _Look:
        """In one query: when each sweep next has something of the demo patients' to do, when
        their next queued text is due, and how many escalations they have had."""
        ids = self.patient_ids
        # (sweep, earliest time, how long after it the sweep acts): a follow-up is breached
        # only once past due, and warned about a day ahead.
        firsts = (
            (
                "checkins",
                select(func.min(CheckIn.next_action_at)).where(CheckIn.patient_id.in_(ids)),
                ZERO,
            ),
            (
                "follow_ups",
                select(func.min(FollowUp.due_at)).where(
                    FollowUp.status == "pending", FollowUp.patient_id.in_(ids)
                ),
                timedelta(seconds=1),
            ),
            (
                "follow_ups",
                select(func.min(FollowUp.due_at)).where(
                    FollowUp.status == "pending",
                    FollowUp.warned_at.is_(None),
                    FollowUp.due_at > self.now + WARN_BEFORE,
                    FollowUp.patient_id.in_(ids),
                ),
                -WARN_BEFORE,
            ),
            (
                "referrals",
                select(func.min(Referral.respond_by)).where(
                    Referral.status == "pending",
                    Referral.unanswered_escalated_at.is_(None),
                    Referral.patient_id.in_(ids),
                ),
                ZERO,
            ),
            (
                "escalation_ladder",
                select(func.min(Escalation.ack_due_at)).where(
                    Escalation.status == "open", Escalation.patient_id.in_(ids)
                ),
                ZERO,
            ),
            (
                "escalation_resolve_by",
                select(func.min(Escalation.resolve_due_at)).where(
                    Escalation.status == "acknowledged", Escalation.patient_id.in_(ids)
                ),
                ZERO,
            ),
            (
                "proms",
                select(func.min(PromSurvey.next_action_at)).where(PromSurvey.patient_id.in_(ids)),
                ZERO,
            ),
            (
                "replies",
                select(func.min(ReplyToRead.read_due_at)).where(
                    ReplyToRead.status == "unread",
                    ReplyToRead.escalated_at.is_(None),
                    ReplyToRead.patient_id.in_(ids),
                ),
                ZERO,
            ),
        )
        texts = select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "queued", OutboxMessage.patient_id.in_(ids)
        )
        raised = select(func.count()).where(Escalation.patient_id.in_(ids))
        columns = [q.scalar_subquery() for _, q, _ in firsts]
        row = (
            await self.session.execute(
                select(*columns, texts.scalar_subquery(), raised.scalar_subquery())
            )
        ).one()
        sweeps: dict[str, datetime] = {}
        for (job, _, after), at in zip(firsts, row[: len(firsts)], strict=True):
            if at is not None:
                sweeps[job] = min(at + after, sweeps.get(job, at + after))
        texts_due, raised_count = row[-2:]
        assert isinstance(raised_count, int)
        return _Look(sweeps, texts_due, raised_count)

    async def _send(self) -> None:
        """The outbox sweep's sending step for the demo patients' queued texts, and the
        carrier's report through the status callback. The report is applied at the same
        moment: the seconds a real one takes matter to nothing the demo shows, and a step of
        its own for each text would double the story's steps."""
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "queued",
                OutboxMessage.next_attempt_at <= self.now,
                OutboxMessage.patient_id.in_(self.patient_ids),
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
        queued = list(rows.all())
        if not queued:
            return
        # The sweep's last word before a text leaves: lease the rows to the demo, then let
        # mark_sending apply the texting rule and the daily cap exactly as the sweep does.
        ids = [row.id for row in queued]
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(leased_by=DEMO_OWNER, lease_until=self.now + DEMO_LEASE)
            .execution_options(synchronize_session=False)
        )
        going = await outbox.mark_sending(
            self.session, DELIVERY_HOOKS, ids, DEMO_OWNER, self.now, DEMO_LEASE
        )
        for row in queued:
            if row.id not in going:
                continue
            result = await self._gateway.send(row.to_number, row.body, None, reference=str(row.id))
            await outbox.apply_send_result(
                self.session, DELIVERY_HOOKS, row.id, result, self.now, self._gateway.name
            )
            status, code = self.report(row)
            await outbox.apply_status_callback(
                self.session,
                DELIVERY_HOOKS,
                outbox_id=row.id,
                message_sid=result.sid,
                message_status=status,
                error_code=code,
                now=self.now,
            )
            if row.status == "delivered":
                await self.on_delivered(row, self.now)

    async def _noticed(self) -> None:
        """Escalations the services raised since the last look reach the ward's staff."""
        rows = await self.session.scalars(
            select(Escalation)
            .where(
                Escalation.patient_id.in_(self.patient_ids),
                Escalation.id.not_in(self._seen),
            )
            .order_by(Escalation.opened_at, Escalation.id)
        )
        for row in rows.all():
            if row.id not in self._seen:
                self._seen.add(row.id)
                self.on_escalation(row)
