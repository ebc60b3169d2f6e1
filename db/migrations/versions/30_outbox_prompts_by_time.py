"""The check-in prompts sent in a period, read by time: the outcome reports' delivery measure.

Revision ID: 0310
Revises: 0309
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0310"
down_revision: str | Sequence[str] | None = "0309"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sms_outbox_created_at_prompts",
        "sms_outbox",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("purpose = 'checkin_prompt'"),
    )


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_created_at_prompts", table_name="sms_outbox")
