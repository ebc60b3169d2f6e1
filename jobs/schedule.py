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
from service.health.sweeps import SWEEPS


@dataclass(frozen=True)
class JobSpec:
    name: str
    sweep: Sweep
    # Multiplier of JOBS_INTERVAL_SECONDS, so slow housekeeping can run less often.
    every: float = 1.0


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
JOBS: tuple[JobSpec, ...] = tuple(
    JobSpec(name, _FUNCTIONS[name], every) for name, every in SWEEPS.items()
)
