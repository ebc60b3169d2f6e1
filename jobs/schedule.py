"""The explicit list of scheduled jobs. Nothing registers itself by being imported."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.heartbeat import heartbeat
from jobs.runner import Sweep


@dataclass(frozen=True)
class JobSpec:
    name: str
    sweep: Sweep
    # Multiplier of JOBS_INTERVAL_SECONDS, so slow housekeeping can run less often.
    every: float = 1.0


JOBS: tuple[JobSpec, ...] = (JobSpec("heartbeat", heartbeat),)
