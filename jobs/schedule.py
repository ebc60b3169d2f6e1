"""The explicit list of scheduled jobs. Nothing registers itself by being imported."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.checkins import checkin_sweep
from jobs.email import email_sweep
from jobs.escalations import ladder_sweep
from jobs.follow_ups import follow_up_sweep
from jobs.heartbeat import heartbeat
from jobs.outbox import outbox_sweep
from jobs.proms import proms_sweep
from jobs.referrals import referral_sweep
from jobs.replies import replies_sweep
from jobs.runner import Sweep


@dataclass(frozen=True)
class JobSpec:
    name: str
    sweep: Sweep
    # Multiplier of JOBS_INTERVAL_SECONDS, so slow housekeeping can run less often.
    every: float = 1.0


# Order matters within one tick: sweeps that raise escalations run before the ladder, and
# everything that queues texts runs before the outbox sends them; staff email goes last, so a
# text the outbox could not send this tick is emailed in the same tick.
JOBS: tuple[JobSpec, ...] = (
    JobSpec("heartbeat", heartbeat),
    JobSpec("checkins", checkin_sweep),
    JobSpec("follow_ups", follow_up_sweep),
    JobSpec("referrals", referral_sweep),
    JobSpec("replies", replies_sweep),
    JobSpec("escalation_ladder", ladder_sweep),
    JobSpec("proms", proms_sweep),
    JobSpec("outbox", outbox_sweep),
    JobSpec("staff_email", email_sweep),
)
