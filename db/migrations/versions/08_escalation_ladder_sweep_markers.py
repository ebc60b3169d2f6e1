"""escalation ladder: sweep claim markers for follow-up warnings and unanswered referrals

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-25 23:49:52.536205
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("follow_ups", sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_follow_ups_due_at_unwarned",
        "follow_ups",
        ["due_at"],
        postgresql_where=sa.text("status = 'pending' AND warned_at IS NULL"),
    )
    op.add_column(
        "referrals", sa.Column("unanswered_escalated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.drop_index("ix_referrals_respond_by_pending", table_name="referrals")
    op.create_index(
        "ix_referrals_respond_by_unescalated",
        "referrals",
        ["respond_by"],
        postgresql_where=sa.text("status = 'pending' AND unanswered_escalated_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_referrals_respond_by_unescalated", table_name="referrals")
    op.create_index(
        "ix_referrals_respond_by_pending",
        "referrals",
        ["respond_by"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_column("referrals", "unanswered_escalated_at")
    op.drop_index("ix_follow_ups_due_at_unwarned", table_name="follow_ups")
    op.drop_column("follow_ups", "warned_at")
