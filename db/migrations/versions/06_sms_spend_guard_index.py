"""sms spend guard: index the send time so the hourly cap reads only the last hour

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-25 21:15:34.648566
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sms_outbox_sending_started_at", "sms_outbox", ["sending_started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_sending_started_at", table_name="sms_outbox")
