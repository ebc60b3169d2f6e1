"""sms_unmatched_inbound: texts from numbers that are no patient's, kept for admins

Until now a text from an unknown number was dropped unread. It is kept here (no patient,
no ward), with what it was read as and whether the crisis routes were sent back.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_unmatched_inbound",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("crisis_routes_sent", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('score', 'ok', 'help', 'stop', 'start', 'free_text')",
            name=op.f("ck_sms_unmatched_inbound_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_unmatched_inbound")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_sms_unmatched_inbound_message_sid")),
    )
    op.create_index(
        "ix_sms_unmatched_inbound_received_at_id",
        "sms_unmatched_inbound",
        ["received_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    # The texts kept here go with the table: they belong to no patient's record.
    op.drop_index("ix_sms_unmatched_inbound_received_at_id", table_name="sms_unmatched_inbound")
    op.drop_table("sms_unmatched_inbound")
