"""follow-ups: the early warning for a patient at home who cannot be monitored by SMS

Revision ID: 0105
Revises: 0107
Create Date: 2026-12-01 12:10:00

A patient who cannot be texted (no consent, no mobile, opted out, a number the carrier
refused) has no check-ins to notice a relapse, so their follow-up clock warns at once: the
key worker is told when the clock starts (or when the patient stops being textable while it
runs), once per follow-up. `unmonitored_warned_at` is that warning's claim marker; the
partial index keeps the sweep's read to pending follow-ups not yet warned about.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0105"
down_revision: str | Sequence[str] | None = "0107"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "follow_ups", sa.Column("unmonitored_warned_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_follow_ups_due_at_unmonitored_unwarned",
        "follow_ups",
        ["due_at"],
        postgresql_where=sa.text("status = 'pending' AND unmonitored_warned_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_follow_ups_due_at_unmonitored_unwarned", table_name="follow_ups")
    op.drop_column("follow_ups", "unmonitored_warned_at")
