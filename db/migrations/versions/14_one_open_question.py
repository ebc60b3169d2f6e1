"""one open question: prom_surveys.set_backs

A survey item that was awaiting its answer when a check-in took over is set back (asked
again later). The count of set-backs is part of the re-asked item's outbox dedupe key, so a
re-ask is a new text while a repeated sweep still queues it only once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "prom_surveys",
        sa.Column("set_backs", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("prom_surveys", "set_backs")
