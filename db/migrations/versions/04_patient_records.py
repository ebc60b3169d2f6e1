"""patient records: goals, relapse-prevention plan versions, follow-ups and attempts

Goals keep a status history; plans are append-only versions; each discharge gets one
follow-up (partial index on due_at for pending rows) with its human contact attempts.

Revision ID: 0002
Revises: 0004
Create Date: 2026-11-25 20:06:21.530934
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("domain", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_agency_id", sa.UUID(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "domain IN ('housing', 'employment_education', 'finances', 'physical_health', 'medication', 'relationships', 'daily_living', 'substance_use', 'other')",
            name=op.f("ck_goals_domain_known"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'active', 'on_hold', 'achieved', 'not_achieved', 'cancelled')",
            name=op.f("ck_goals_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_goals_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"], ["agencies.id"], name=op.f("fk_goals_owner_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_goals_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index(op.f("ix_goals_owner_agency_id"), "goals", ["owner_agency_id"], unique=False)
    op.create_index(
        "ix_goals_patient_id_created_at_id",
        "goals",
        ["patient_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "relapse_prevention_plans",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("early_warning_signs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("triggers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("coping_strategies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("crisis_contacts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("check_in_question", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "version >= 1", name=op.f("ck_relapse_prevention_plans_version_positive")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_relapse_prevention_plans_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_relapse_prevention_plans_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relapse_prevention_plans")),
        sa.UniqueConstraint(
            "patient_id", "version", name=op.f("uq_relapse_prevention_plans_patient_id_version")
        ),
    )
    op.create_index(
        "ix_relapse_prevention_plans_patient_id_created_at",
        "relapse_prevention_plans",
        ["patient_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "follow_ups",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("episode_id", sa.UUID(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suicide_risk", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.UUID(), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL)",
            name=op.f("ck_follow_ups_completed_has_time"),
        ),
        sa.CheckConstraint(
            "method IS NULL OR method IN ('face_to_face', 'phone', 'video', 'other')",
            name=op.f("ck_follow_ups_method_known"),
        ),
        sa.CheckConstraint(
            "status <> 'breached' OR breached_at IS NOT NULL",
            name=op.f("ck_follow_ups_breached_has_time"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'breached')",
            name=op.f("ck_follow_ups_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["completed_by"], ["users.id"], name=op.f("fk_follow_ups_completed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_follow_ups_episode_id_episodes")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_follow_ups_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("episode_id", name=op.f("uq_follow_ups_episode_id")),
    )
    op.create_index(
        "ix_follow_ups_due_at_pending",
        "follow_ups",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_follow_ups_patient_id_due_at", "follow_ups", ["patient_id", "due_at"], unique=False
    )
    op.create_table(
        "goal_status_changes",
        sa.Column("goal_id", sa.UUID(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.UUID(), nullable=True),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "to_status IN ('proposed', 'active', 'on_hold', 'achieved', 'not_achieved', 'cancelled')",
            name=op.f("ck_goal_status_changes_to_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name=op.f("fk_goal_status_changes_changed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_goal_status_changes_goal_id_goals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_status_changes")),
    )
    op.create_index(
        "ix_goal_status_changes_goal_id_changed_at",
        "goal_status_changes",
        ["goal_id", "changed_at"],
        unique=False,
    )
    op.create_table(
        "follow_up_attempts",
        sa.Column("follow_up_id", sa.UUID(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("successful", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.UUID(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "method IN ('face_to_face', 'phone', 'video', 'other')",
            name=op.f("ck_follow_up_attempts_method_known"),
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_id"],
            ["follow_ups.id"],
            name=op.f("fk_follow_up_attempts_follow_up_id_follow_ups"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_follow_up_attempts_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_attempts")),
    )
    op.create_index(
        "ix_follow_up_attempts_follow_up_id_occurred_at",
        "follow_up_attempts",
        ["follow_up_id", "occurred_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_follow_up_attempts_follow_up_id_occurred_at", table_name="follow_up_attempts")
    op.drop_table("follow_up_attempts")
    op.drop_index("ix_goal_status_changes_goal_id_changed_at", table_name="goal_status_changes")
    op.drop_table("goal_status_changes")
    op.drop_index("ix_follow_ups_patient_id_due_at", table_name="follow_ups")
    op.drop_index(
        "ix_follow_ups_due_at_pending",
        table_name="follow_ups",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("follow_ups")
    op.drop_index(
        "ix_relapse_prevention_plans_patient_id_created_at", table_name="relapse_prevention_plans"
    )
    op.drop_table("relapse_prevention_plans")
    op.drop_index("ix_goals_patient_id_created_at_id", table_name="goals")
    op.drop_index(op.f("ix_goals_owner_agency_id"), table_name="goals")
    op.drop_table("goals")
