"""sms check-ins, outbox, inbound replies and escalations

Check-in schedules and check-ins, the SMS outbox (partial index on the due column
`next_attempt_at` for queued rows), inbound messages (unique MessageSid), numbers flagged as
undeliverable, and escalations with their event history (unique per reason and source).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:20:33.997823
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "check_in_schedules",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("offsets_hours", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("reply_window_minutes", sa.Integer(), nullable=False),
        sa.Column("reminder_after_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint(
            "reminder_after_minutes > 0 AND reminder_after_minutes < reply_window_minutes",
            name=op.f("ck_check_in_schedules_reminder_inside_window"),
        ),
        sa.CheckConstraint(
            "reply_window_minutes > 0", name=op.f("ck_check_in_schedules_reply_window_positive")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_check_in_schedules_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_check_in_schedules")),
    )
    op.create_table(
        "check_ins",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offset_hours", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("status_reason", sa.String(length=40), nullable=True),
        sa.Column("reply_window_minutes", sa.Integer(), nullable=False),
        sa.Column("reminder_after_minutes", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
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
        sa.CheckConstraint("kind IN ('scheduled', 'extra')", name=op.f("ck_check_ins_kind_known")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'reminded', 'answered', 'missed', 'cancelled', 'skipped')",
            name=op.f("ck_check_ins_status_known"),
        ),
        sa.CheckConstraint(
            "reminder_after_minutes > 0 AND reminder_after_minutes < reply_window_minutes",
            name=op.f("ck_check_ins_reminder_inside_window"),
        ),
        sa.CheckConstraint(
            "score IS NULL OR score BETWEEN 1 AND 5", name=op.f("ck_check_ins_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_check_ins_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_check_ins_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
        sa.UniqueConstraint("patient_id", "anchor_at", "offset_hours", name="uq_check_ins_offset"),
    )
    op.create_index(
        "ix_check_ins_next_action_at_due",
        "check_ins",
        ["next_action_at"],
        unique=False,
        postgresql_where=sa.text("next_action_at IS NOT NULL"),
    )
    op.create_index(
        "ix_check_ins_patient_id_due_at_id",
        "check_ins",
        ["patient_id", "due_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_check_ins_patient_id_open",
        "check_ins",
        ["patient_id", "sent_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('sent', 'reminded')"),
    )
    op.create_table(
        "escalations",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("ward_id", sa.UUID(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("source_type", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.UUID(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
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
            "reason IN ('no_reply', 'undeliverable', 'low_score', 'help_request', 'opted_out', 'follow_up_due', 'agency_concern', 'referral_unanswered')",
            name=op.f("ck_escalations_reason_known"),
        ),
        sa.CheckConstraint(
            "severity IN ('routine', 'urgent')", name=op.f("ck_escalations_severity_known")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved')",
            name=op.f("ck_escalations_status_known"),
        ),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_escalations_level_range")),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_escalations_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_escalations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_escalations_resolved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_escalations_ward_id_wards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("reason", "source_type", "source_id", name="uq_escalations_source"),
    )
    op.create_index(
        "ix_escalations_ack_due_at_open",
        "escalations",
        ["ack_due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_escalations_patient_id_opened_at",
        "escalations",
        ["patient_id", "opened_at"],
        unique=False,
    )
    op.create_index(
        "ix_escalations_ward_id_opened_at_id",
        "escalations",
        ["ward_id", "opened_at", "id"],
        unique=False,
    )
    op.create_table(
        "sms_number_flags",
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("mobile", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sms_number_flags_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_number_flags")),
        sa.UniqueConstraint("patient_id", "mobile", name="uq_sms_number_flags_number"),
    )
    op.create_table(
        "escalation_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.UUID(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_role", sa.String(length=40), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_escalation_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_events_escalation_id_escalations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_events")),
    )
    op.create_index(
        "ix_escalation_events_escalation_id_id",
        "escalation_events",
        ["escalation_id", "id"],
        unique=False,
    )
    op.create_table(
        "sms_inbound",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("ward_id", sa.UUID(), nullable=False),
        sa.Column("from_number", sa.String(length=16), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("check_in_id", sa.UUID(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('score', 'ok', 'help', 'stop', 'start', 'free_text')",
            name=op.f("ck_sms_inbound_kind_known"),
        ),
        sa.CheckConstraint(
            "score IS NULL OR score BETWEEN 1 AND 5", name=op.f("ck_sms_inbound_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["check_in_id"], ["check_ins.id"], name=op.f("fk_sms_inbound_check_in_id_check_ins")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sms_inbound_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_sms_inbound_ward_id_wards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound")),
        sa.UniqueConstraint("message_sid", name=op.f("uq_sms_inbound_message_sid")),
    )
    op.create_index(
        "ix_sms_inbound_patient_id_received_at_id",
        "sms_inbound",
        ["patient_id", "received_at", "id"],
        unique=False,
    )
    op.create_table(
        "sms_outbox",
        sa.Column("dedupe_key", sa.String(length=160), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("ward_id", sa.UUID(), nullable=True),
        sa.Column("check_in_id", sa.UUID(), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("to_number", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("status_reason", sa.String(length=40), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_status", sa.String(length=24), nullable=True),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=120), nullable=True),
        sa.Column("check_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lookups", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sending_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "recipient_kind IN ('patient', 'staff')",
            name=op.f("ck_sms_outbox_recipient_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'unknown', 'cancelled')",
            name=op.f("ck_sms_outbox_status_known"),
        ),
        sa.CheckConstraint(
            "to_number ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_sms_outbox_to_number_e164")
        ),
        sa.ForeignKeyConstraint(
            ["check_in_id"], ["check_ins.id"], name=op.f("fk_sms_outbox_check_in_id_check_ins")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sms_outbox_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sms_outbox_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_sms_outbox_ward_id_wards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_outbox_dedupe_key")),
        sa.UniqueConstraint("sid", name=op.f("uq_sms_outbox_sid")),
    )
    op.create_index(
        "ix_sms_outbox_check_due_at",
        "sms_outbox",
        ["check_due_at"],
        unique=False,
        postgresql_where=sa.text("check_due_at IS NOT NULL"),
    )
    op.create_index("ix_sms_outbox_check_in_id", "sms_outbox", ["check_in_id"], unique=False)
    op.create_index(
        "ix_sms_outbox_lease_until_sending",
        "sms_outbox",
        ["lease_until"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.create_index(
        "ix_sms_outbox_next_attempt_at_queued",
        "sms_outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_sms_outbox_patient_id_created_at_id",
        "sms_outbox",
        ["patient_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_patient_id_created_at_id", table_name="sms_outbox")
    op.drop_index(
        "ix_sms_outbox_next_attempt_at_queued",
        table_name="sms_outbox",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.drop_index(
        "ix_sms_outbox_lease_until_sending",
        table_name="sms_outbox",
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.drop_index("ix_sms_outbox_check_in_id", table_name="sms_outbox")
    op.drop_index(
        "ix_sms_outbox_check_due_at",
        table_name="sms_outbox",
        postgresql_where=sa.text("check_due_at IS NOT NULL"),
    )
    op.drop_table("sms_outbox")
    op.drop_index("ix_sms_inbound_patient_id_received_at_id", table_name="sms_inbound")
    op.drop_table("sms_inbound")
    op.drop_index("ix_escalation_events_escalation_id_id", table_name="escalation_events")
    op.drop_table("escalation_events")
    op.drop_table("sms_number_flags")
    op.drop_index("ix_escalations_ward_id_opened_at_id", table_name="escalations")
    op.drop_index("ix_escalations_patient_id_opened_at", table_name="escalations")
    op.drop_index(
        "ix_escalations_ack_due_at_open",
        table_name="escalations",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("escalations")
    op.drop_index(
        "ix_check_ins_patient_id_open",
        table_name="check_ins",
        postgresql_where=sa.text("status IN ('sent', 'reminded')"),
    )
    op.drop_index("ix_check_ins_patient_id_due_at_id", table_name="check_ins")
    op.drop_index(
        "ix_check_ins_next_action_at_due",
        table_name="check_ins",
        postgresql_where=sa.text("next_action_at IS NOT NULL"),
    )
    op.drop_table("check_ins")
    op.drop_table("check_in_schedules")
