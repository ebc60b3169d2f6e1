"""foundation: wards, agencies, users, patients, episodes, audit log, job heartbeats, login attempts

Revision ID: 0001
Revises:
Create Date: 2026-11-25 19:42:18.577620
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('housing', 'employment', 'benefits', 'peer_support', 'community_mental_health', 'substance_use', 'gp', 'other')",
            name=op.f("ck_agencies_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("name", name=op.f("uq_agencies_name")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("patient_id", sa.UUID(), nullable=True),
        sa.Column("ward_id", sa.UUID(), nullable=True),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.String(length=80), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('allowed', 'denied')", name=op.f("ck_audit_events_outcome_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_actor_id_occurred_at",
        "audit_events",
        ["actor_id", "occurred_at"],
        unique=False,
    )
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"], unique=False)
    op.create_index(
        "ix_audit_events_patient_id_occurred_at",
        "audit_events",
        ["patient_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_audit_events_ward_id_occurred_at",
        "audit_events",
        ["ward_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "job_heartbeats",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_heartbeats")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_key_attempted_at",
        "login_attempts",
        ["key", "attempted_at"],
        unique=False,
    )
    op.create_table(
        "wards",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("crisis_message", sa.Text(), nullable=False),
        sa.Column("escalation_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wards")),
        sa.UniqueConstraint("name", name=op.f("uq_wards_name")),
    )
    op.create_table(
        "users",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("ward_id", sa.UUID(), nullable=True),
        sa.Column("agency_id", sa.UUID(), nullable=True),
        sa.Column("mobile", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "(role = 'agency_worker') = (agency_id IS NOT NULL)",
            name=op.f("ck_users_agency_role_has_agency"),
        ),
        sa.CheckConstraint(
            "(role IN ('ward_manager', 'ward_staff')) = (ward_id IS NOT NULL)",
            name=op.f("ck_users_ward_role_has_ward"),
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'ward_manager', 'ward_staff', 'agency_worker')",
            name=op.f("ck_users_role_known"),
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lowercase")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_users_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(["ward_id"], ["wards.id"], name=op.f("fk_users_ward_id_wards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_agency_id"), "users", ["agency_id"], unique=False)
    op.create_index(op.f("ix_users_ward_id"), "users", ["ward_id"], unique=False)
    op.create_table(
        "patients",
        sa.Column("ward_id", sa.UUID(), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("mobile", sa.String(length=16), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "contact_window_start", sa.Time(), server_default=sa.text("'09:00'"), nullable=False
        ),
        sa.Column(
            "contact_window_end", sa.Time(), server_default=sa.text("'20:00'"), nullable=False
        ),
        sa.Column("language", sa.String(length=16), server_default="en", nullable=False),
        sa.Column(
            "discreet_messages", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("sms_consent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sms_opted_out", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("key_worker_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="inpatient", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "mobile IS NULL OR mobile ~ '^\\+[1-9][0-9]{6,14}$'",
            name=op.f("ck_patients_mobile_e164"),
        ),
        sa.CheckConstraint(
            "nhs_number ~ '^[0-9]{10}$'", name=op.f("ck_patients_nhs_number_digits")
        ),
        sa.CheckConstraint(
            "status IN ('inpatient', 'discharged', 'readmitted', 'closed')",
            name=op.f("ck_patients_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["key_worker_id"], ["users.id"], name=op.f("fk_patients_key_worker_id_users")
        ),
        sa.ForeignKeyConstraint(["ward_id"], ["wards.id"], name=op.f("fk_patients_ward_id_wards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("nhs_number", name=op.f("uq_patients_nhs_number")),
    )
    op.create_index(op.f("ix_patients_key_worker_id"), "patients", ["key_worker_id"], unique=False)
    op.create_index("ix_patients_mobile", "patients", ["mobile"], unique=False)
    op.create_index(
        "ix_patients_ward_id_created_at_id",
        "patients",
        ["ward_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_patients_ward_id_family_name_lower",
        "patients",
        ["ward_id", sa.literal_column("lower(family_name)")],
        unique=False,
    )
    op.create_table(
        "episodes",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suicide_risk", sa.Boolean(), nullable=True),
        sa.Column("destination", sa.Text(), nullable=True),
        sa.Column("readmission_of_episode_id", sa.UUID(), nullable=True),
        sa.Column(
            "readmitted_within_30_days",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "discharged_at IS NULL OR discharged_at >= admitted_at",
            name=op.f("ck_episodes_discharge_after_admission"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_episodes_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["readmission_of_episode_id"],
            ["episodes.id"],
            name=op.f("fk_episodes_readmission_of_episode_id_episodes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
    )
    op.create_index(
        "ix_episodes_patient_id_admitted_at",
        "episodes",
        ["patient_id", "admitted_at"],
        unique=False,
    )
    op.create_index(
        "uq_episodes_patient_id_open",
        "episodes",
        ["patient_id"],
        unique=True,
        postgresql_where=sa.text("discharged_at IS NULL"),
    )
    # The audit log is append-only, enforced by the database itself.
    op.execute(
        """
        CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    op.execute("DROP TRIGGER audit_events_no_update_delete ON audit_events")
    op.execute("DROP FUNCTION audit_events_refuse_change()")
    op.drop_index(
        "uq_episodes_patient_id_open",
        table_name="episodes",
        postgresql_where=sa.text("discharged_at IS NULL"),
    )
    op.drop_index("ix_episodes_patient_id_admitted_at", table_name="episodes")
    op.drop_table("episodes")
    op.drop_index("ix_patients_ward_id_family_name_lower", table_name="patients")
    op.drop_index("ix_patients_ward_id_created_at_id", table_name="patients")
    op.drop_index("ix_patients_mobile", table_name="patients")
    op.drop_index(op.f("ix_patients_key_worker_id"), table_name="patients")
    op.drop_table("patients")
    op.drop_index(op.f("ix_users_ward_id"), table_name="users")
    op.drop_index(op.f("ix_users_agency_id"), table_name="users")
    op.drop_table("users")
    op.drop_table("wards")
    op.drop_index("ix_login_attempts_key_attempted_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_table("job_heartbeats")
    op.drop_index("ix_audit_events_ward_id_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_patient_id_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id_occurred_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("agencies")
