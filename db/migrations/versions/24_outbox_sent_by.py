"""sms outbox: who on the staff wrote a ward text

Revision ID: 0303
Revises: 0103
Create Date: 2026-12-01 15:00:00

A text staff send a patient (`ward_message`) names its writer, so the conversation can say
who answered. NULL for every text Homeward itself writes (prompts, reminders, replies).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0303"
down_revision: str | Sequence[str] | None = "0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sms_outbox", sa.Column("sent_by", postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(
        op.f("fk_sms_outbox_sent_by_users"), "sms_outbox", "users", ["sent_by"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_sms_outbox_sent_by_users"), "sms_outbox", type_="foreignkey")
    op.drop_column("sms_outbox", "sent_by")
