"""The outcome reports read a period's goal closings by time; the ward board reads its live
escalations and its breached follow-ups without the ward's finished history.

Revision ID: 0312
Revises: 0311
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0312"
down_revision: str | Sequence[str] | None = "0311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_goal_status_changes_changed_at_closing",
        "goal_status_changes",
        ["changed_at"],
        unique=False,
        postgresql_where=sa.text("to_status IN ('achieved', 'not_achieved', 'cancelled')"),
    )
    op.create_index(
        "ix_escalations_ward_id_live",
        "escalations",
        ["ward_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('open', 'acknowledged')"),
    )
    op.create_index(
        "ix_follow_ups_patient_id_breached",
        "follow_ups",
        ["patient_id"],
        unique=False,
        postgresql_where=sa.text("status = 'breached'"),
    )


def downgrade() -> None:
    op.drop_index("ix_follow_ups_patient_id_breached", table_name="follow_ups")
    op.drop_index("ix_escalations_ward_id_live", table_name="escalations")
    op.drop_index("ix_goal_status_changes_changed_at_closing", table_name="goal_status_changes")
