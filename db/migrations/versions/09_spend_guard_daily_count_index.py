"""spend guard: index each patient's sends by time, so the daily count reads one day only

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 02:10:03.807850
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sms_outbox_patient_id_sending_started_at",
        "sms_outbox",
        ["patient_id", "sending_started_at"],
        postgresql_where=sa.text("recipient_kind = 'patient'"),
    )


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_patient_id_sending_started_at", table_name="sms_outbox")
