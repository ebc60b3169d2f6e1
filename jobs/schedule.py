"""The explicit list of scheduled jobs. Nothing registers itself by being imported."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.checkins import checkin_sweep
from jobs.email import email_sweep
from jobs.escalations import ladder_sweep, resolve_by_sweep
from jobs.follow_ups import follow_up_sweep
from jobs.heartbeat import heartbeat
from jobs.inbound import inbound_spool_sweep
from jobs.outbox import outbox_sweep
from jobs.proms import proms_sweep
from jobs.referrals import referral_sweep
from jobs.replies import replies_sweep
from jobs.runner import Sweep
from service.checkins import dispatch as checkin_dispatch
from service.escalations import ladder, resolve_by
from service.follow_ups import warnings as follow_up_warnings
from service.health.sweeps import SWEEPS
from service.sms import outbox as sms_outbox


@dataclass(frozen=True)
class JobSpec:
    name: str
    sweep: Sweep
    # Multiplier of JOBS_INTERVAL_SECONDS, so slow housekeeping can run less often.
    every: float = 1.0
    # Jobs to run at once when this one did something, rather than at their own next tick.
    wakes: tuple[str, ...] = ()
    # A run that handled this many (a full claim batch) runs again at once: a backlog is
    # worked off now, not one batch per interval (bench/alert_latency.py found 200 check-ins
    # a tick falling behind 1,000 windows closing a minute).
    drain_at: int | None = None


# The names, their order and cadences are service.health.sweeps.SWEEPS (what /health/jobs
# expects); this binds each to its function. Order matters within one tick (it is SWEEPS'):
# sweeps that raise escalations run before the ladder, and everything that queues texts
# runs before the outbox sends them. Texts kept during a database outage are replayed first,
# so a reply lands before its check-in is called missed. Staff email goes last, so a text
# the outbox could not send this tick is emailed in the same tick.
_FUNCTIONS: dict[str, Sweep] = {
    "heartbeat": heartbeat,
    "inbound_spool": inbound_spool_sweep,
    "checkins": checkin_sweep,
    "follow_ups": follow_up_sweep,
    "referrals": referral_sweep,
    "replies": replies_sweep,
    "escalation_ladder": ladder_sweep,
    "escalation_resolve_by": resolve_by_sweep,
    "proms": proms_sweep,
    "outbox": outbox_sweep,
    "staff_email": email_sweep,
}
# In the worker each sweep ticks on its own (a slow one holds up no other), so "before the
# outbox" cannot mean "earlier in the same tick". Instead, a sweep that did something wakes
# the senders at once: a staff text queued by an escalation leaves within seconds, not an
# interval later (bench/alert_latency.py measures it). The outbox wakes staff email in turn,
# for the texts it could not send.
_SENDERS = ("outbox", "staff_email")
_WAKES: dict[str, tuple[str, ...]] = {
    **{name: _SENDERS for name in _FUNCTIONS if name not in {"heartbeat", *_SENDERS}},
    "outbox": ("staff_email",),
}
_DRAIN_AT: dict[str, int] = {
    "checkins": checkin_dispatch.SWEEP_BATCH,
    "follow_ups": follow_up_warnings.CLAIM_BATCH,
    "escalation_ladder": ladder.CLAIM_BATCH,
    "escalation_resolve_by": resolve_by.CLAIM_BATCH,
    "outbox": sms_outbox.CLAIM_BATCH,
}
JOBS: tuple[JobSpec, ...] = tuple(
    JobSpec(name, _FUNCTIONS[name], every, _WAKES.get(name, ()), _DRAIN_AT.get(name))
    for name, every in SWEEPS.items()
)
