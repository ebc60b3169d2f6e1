"""sweeps watched: cadence and totals on heartbeats; failing rows counted and set aside

Revision ID: 0104
Revises: 0102
Create Date: 2026-12-01 12:00:00

`/health/jobs` judges each sweep against the interval its worker runs it at, and metrics
read running totals from the heartbeat row. A row that fails on every tick is counted in
`sweep_item_failures` and, after a few failures, set aside (claims skip it) and admins paged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0104"
down_revision: str | Sequence[str] | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_heartbeats", sa.Column("interval_seconds", sa.Float(), nullable=True))
    op.add_column(
        "job_heartbeats",
        sa.Column("items_handled", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "job_heartbeats",
        sa.Column("item_failures", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table(
        "sweep_item_failures",
        sa.Column("item_kind", sa.String(length=64), nullable=False),
        sa.Column("item_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sweep", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("item_kind", "item_id", name=op.f("pk_sweep_item_failures")),
    )
    op.create_index(
        "ix_sweep_item_failures_set_aside",
        "sweep_item_failures",
        ["sweep"],
        postgresql_where=sa.text("set_aside_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sweep_item_failures_set_aside", table_name="sweep_item_failures")
    op.drop_table("sweep_item_failures")
    op.drop_column("job_heartbeats", "item_failures")
    op.drop_column("job_heartbeats", "items_handled")
    op.drop_column("job_heartbeats", "interval_seconds")
