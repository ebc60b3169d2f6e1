"""The planner sees how few rows a recent period holds: a finer histogram (1000 buckets, not
the default 100) on the time columns the outcome reports read a period by.

With 100 buckets over five years of check-ins, the last bucket spans months, so a 90-day
window is guessed at ~11,000 check-ins trust-wide when it holds ~250 (bench/scale.py, full
size): the reports then probe every patient the ward ever had (2,148) instead of reading the
window by time. With 1000 buckets the guess is ~1,200 and the plan reads the window; a year
of history still goes through the ward's patients, as it should. Statistics only: no data or
index changes; ANALYZE refreshes the three columns at once (a second or two on millions of rows).

Revision ID: 0313
Revises: 0312
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0313"
down_revision: str | Sequence[str] | None = "0312"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column): the period columns of the measures that drive from a patient's records.
COLUMNS = (
    ("check_ins", "due_at"),
    ("sms_outbox", "created_at"),
    ("episodes", "discharged_at"),
)


def _set(target: int) -> None:
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {target}")
        op.execute(f"ANALYZE {table} ({column})")


def upgrade() -> None:
    _set(1000)


def downgrade() -> None:
    _set(-1)  # back to default_statistics_target
