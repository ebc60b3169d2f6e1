"""you said, we did: a ward's log of what it heard and what it changed

Revision ID: 0309
Revises: 0305
Create Date: 2026-12-01 15:35:00

One row per change a ward made in answer to feedback (issue 22), optionally pointing at the
carer/family feedback or the FFT survey it answers. With it, plain time indexes for the
outcome series (discharges, check-ins, referrals by time), so a few months of a five-year
history are read from the time range rather than every patient's rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0309"
down_revision: str | Sequence[str] | None = "0305"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "you_said_we_did",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("ward_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("heard", sa.Text(), nullable=False),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("feedback_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("survey_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("recorded_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_you_said_we_did_ward_id_wards")
        ),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["patient_feedback.id"],
            name=op.f("fk_you_said_we_did_feedback_id_patient_feedback"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["prom_surveys.id"],
            name=op.f("fk_you_said_we_did_survey_id_prom_surveys"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_you_said_we_did_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_you_said_we_did")),
    )
    op.create_index(
        "ix_you_said_we_did_ward_id_changed_on",
        "you_said_we_did",
        ["ward_id", "changed_on"],
        unique=False,
    )
    op.create_index(
        "ix_episodes_discharged_at",
        "episodes",
        ["discharged_at"],
        unique=False,
        postgresql_where=sa.text("discharged_at IS NOT NULL"),
    )
    op.create_index("ix_check_ins_due_at", "check_ins", ["due_at"], unique=False)
    op.create_index("ix_referrals_created_at", "referrals", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_referrals_created_at", table_name="referrals")
    op.drop_index("ix_check_ins_due_at", table_name="check_ins")
    op.drop_index("ix_episodes_discharged_at", table_name="episodes")
    op.drop_index("ix_you_said_we_did_ward_id_changed_on", table_name="you_said_we_did")
    op.drop_table("you_said_we_did")
