"""staff email outbox: the second channel for staff alerts

Revision ID: 0103
Revises: 0108
Create Date: 2026-12-01 12:00:00

Staff alerts also go by email when their text fails, cannot be confirmed, the person has no
mobile, or the ward asks for both channels. Each email is a row first, with a unique dedupe
key, sent at most once like a text: claimed under a lease, committed `sending` before the
SMTP call, an ambiguous send marked `unknown` and never sent again. Partial indexes keep
the sweep's cost to the rows that are due.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0103"
down_revision: str | Sequence[str] | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("queued", "sending", "sent", "failed", "unknown", "cancelled")
REASONS = ("both_channels", "no_mobile", "text_not_delivered")


def upgrade() -> None:
    op.create_table(
        "staff_email_outbox",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("ward_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("escalation_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("escalation_level", sa.SmallInteger(), nullable=True),
        sa.Column("sms_outbox_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="queued", nullable=False),
        sa.Column("status_reason", sa.String(40), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sending_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"status IN {STATUSES!r}", name=op.f("ck_staff_email_outbox_status_known")
        ),
        sa.CheckConstraint(
            f"reason IN {REASONS!r}", name=op.f("ck_staff_email_outbox_reason_known")
        ),
        sa.CheckConstraint(
            "escalation_level IS NULL OR escalation_level BETWEEN 1 AND 3",
            name=op.f("ck_staff_email_outbox_escalation_level_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_email_outbox_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_staff_email_outbox_ward_id_wards")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_staff_email_outbox_escalation_id_escalations"),
        ),
        sa.ForeignKeyConstraint(
            ["sms_outbox_id"],
            ["sms_outbox.id"],
            name=op.f("fk_staff_email_outbox_sms_outbox_id_sms_outbox"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_email_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_staff_email_outbox_dedupe_key")),
    )
    op.create_index(
        "ix_staff_email_outbox_next_attempt_at_queued",
        "staff_email_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_staff_email_outbox_lease_until_sending",
        "staff_email_outbox",
        ["lease_until"],
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.create_index(
        "ix_staff_email_outbox_escalation_id",
        "staff_email_outbox",
        ["escalation_id"],
        postgresql_where=sa.text("escalation_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_staff_email_outbox_escalation_id", table_name="staff_email_outbox")
    op.drop_index("ix_staff_email_outbox_lease_until_sending", table_name="staff_email_outbox")
    op.drop_index("ix_staff_email_outbox_next_attempt_at_queued", table_name="staff_email_outbox")
    op.drop_table("staff_email_outbox")
