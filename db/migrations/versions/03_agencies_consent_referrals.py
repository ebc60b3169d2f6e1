"""agencies: consents to share, referrals with status history, support actions

Reviewed after autogenerate: partial indexes for the pending-referral deadline sweep and the
visibility join; referral_status_changes is append-only (trigger, like audit_events).

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-25 20:05:19.881968
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_id", sa.UUID(), nullable=False),
        sa.Column("withdrawn_by_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('contact_details', 'plan', 'full')", name=op.f("ck_consents_scope_known")
        ),
        sa.CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL)",
            name=op.f("ck_consents_withdrawal_has_author"),
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > given_at",
            name=op.f("ck_consents_expires_after_given"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_consents_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_consents_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_consents_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"], ["users.id"], name=op.f("fk_consents_withdrawn_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_agency_id", "consents", ["agency_id"], unique=False)
    op.create_index(
        "ix_consents_patient_id_agency_id", "consents", ["patient_id", "agency_id"], unique=False
    )
    op.create_index(
        "ix_consents_patient_id_created_at_id",
        "consents",
        ["patient_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "referrals",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("goal_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.UUID(), nullable=False),
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
            "(status = 'declined') = (decline_reason IS NOT NULL)",
            name=op.f("ck_referrals_decline_has_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'withdrawn', 'completed')",
            name=op.f("ck_referrals_status_known"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('accepted', 'declined', 'completed') OR responded_at IS NOT NULL",
            name=op.f("ck_referrals_response_has_time"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_referrals_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_referrals_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_referrals_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    op.create_index(
        "ix_referrals_agency_id_created_at_id",
        "referrals",
        ["agency_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_referrals_agency_id_patient_id_open",
        "referrals",
        ["agency_id", "patient_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'accepted')"),
    )
    op.create_index(
        "ix_referrals_patient_id_created_at_id",
        "referrals",
        ["patient_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_referrals_respond_by_pending",
        "referrals",
        ["respond_by"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "support_actions",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("agency_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('visit', 'phone_call', 'appointment', 'housing_secured', 'employment_started', 'benefits_claimed', 'peer_session', 'did_not_attend', 'other')",
            name=op.f("ck_support_actions_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_support_actions_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_support_actions_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_support_actions_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_actions")),
    )
    op.create_index("ix_support_actions_agency_id", "support_actions", ["agency_id"], unique=False)
    op.create_index(
        "ix_support_actions_patient_id_occurred_at_id",
        "support_actions",
        ["patient_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_table(
        "referral_status_changes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "to_status IN ('pending', 'accepted', 'declined', 'withdrawn', 'completed')",
            name=op.f("ck_referral_status_changes_to_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_referral_status_changes_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_status_changes_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_status_changes")),
    )
    op.create_index(
        "ix_referral_status_changes_referral_id_id",
        "referral_status_changes",
        ["referral_id", "id"],
        unique=False,
    )
    op.execute(
        """
        CREATE FUNCTION referral_status_changes_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'referral_status_changes is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER referral_status_changes_no_update_delete "
        "BEFORE UPDATE OR DELETE ON referral_status_changes "
        "FOR EACH ROW EXECUTE FUNCTION referral_status_changes_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER referral_status_changes_no_update_delete ON referral_status_changes")
    op.execute("DROP FUNCTION referral_status_changes_refuse_change()")
    op.drop_index("ix_referral_status_changes_referral_id_id", table_name="referral_status_changes")
    op.drop_table("referral_status_changes")
    op.drop_index("ix_support_actions_patient_id_occurred_at_id", table_name="support_actions")
    op.drop_index("ix_support_actions_agency_id", table_name="support_actions")
    op.drop_table("support_actions")
    op.drop_index(
        "ix_referrals_respond_by_pending",
        table_name="referrals",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_referrals_patient_id_created_at_id", table_name="referrals")
    op.drop_index(
        "ix_referrals_agency_id_patient_id_open",
        table_name="referrals",
        postgresql_where=sa.text("status IN ('pending', 'accepted')"),
    )
    op.drop_index("ix_referrals_agency_id_created_at_id", table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_consents_patient_id_created_at_id", table_name="consents")
    op.drop_index("ix_consents_patient_id_agency_id", table_name="consents")
    op.drop_index("ix_consents_agency_id", table_name="consents")
    op.drop_table("consents")
