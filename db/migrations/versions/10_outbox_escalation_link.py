"""outbox: a staff page or carer notice names its escalation and level in columns

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 09:30:00

Earlier rows carried the escalation only inside their dedupe key
("escalation:<id>:L<level>:<deadline>:<recipient>", "escalation:<id>:carer_notice"); the
upgrade copies it into the new columns once, so nothing reads the key's wording again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sms_outbox", sa.Column("escalation_id", sa.UUID(), nullable=True))
    op.add_column("sms_outbox", sa.Column("escalation_level", sa.SmallInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_sms_outbox_escalation_id_escalations"),
        "sms_outbox",
        "escalations",
        ["escalation_id"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_sms_outbox_escalation_level_range"),
        "sms_outbox",
        "escalation_level IS NULL OR escalation_level BETWEEN 1 AND 3",
    )
    op.execute(
        """
        UPDATE sms_outbox AS o
        SET escalation_id = e.id,
            escalation_level = CASE
                WHEN split_part(o.dedupe_key, ':', 3) ~ '^L[1-3]$'
                THEN substr(split_part(o.dedupe_key, ':', 3), 2)::smallint
            END
        FROM escalations AS e
        WHERE o.dedupe_key LIKE 'escalation:%'
          AND split_part(o.dedupe_key, ':', 2) = e.id::text
        """
    )
    op.create_index(
        "ix_sms_outbox_escalation_id",
        "sms_outbox",
        ["escalation_id"],
        postgresql_where=sa.text("escalation_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_escalation_id", table_name="sms_outbox")
    op.drop_constraint(op.f("ck_sms_outbox_escalation_level_range"), "sms_outbox", type_="check")
    op.drop_constraint(
        op.f("fk_sms_outbox_escalation_id_escalations"), "sms_outbox", type_="foreignkey"
    )
    op.drop_column("sms_outbox", "escalation_level")
    op.drop_column("sms_outbox", "escalation_id")
