"""replies to read: free text waiting for a person, carers' texts, the unread_reply reason

Adds `replies_to_read` (one row per inbound text only a person can read, with its read-by
deadline and the sweep's claim marker), `sms_inbound.from_carer`, the carer's own SMS
opt-out, an index to match an inbound number to a carer, and `unread_reply` to the
escalation reasons.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS_BEFORE = (
    "no_reply",
    "undeliverable",
    "low_score",
    "help_request",
    "opted_out",
    "follow_up_due",
    "agency_concern",
    "referral_unanswered",
)
REASONS_AFTER = (*REASONS_BEFORE, "unread_reply")


def _reason_check(reasons: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_escalations_reason_known"), "escalations", type_="check")
    op.create_check_constraint(
        op.f("ck_escalations_reason_known"), "escalations", f"reason IN {reasons!r}"
    )


def upgrade() -> None:
    _reason_check(REASONS_AFTER)
    op.add_column(
        "sms_inbound",
        sa.Column("from_carer", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "carers",
        sa.Column("sms_opted_out", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "carers", sa.Column("sms_opted_out_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_carers_mobile",
        "carers",
        ["mobile"],
        postgresql_where=sa.text("mobile IS NOT NULL"),
    )
    op.create_table(
        "replies_to_read",
        sa.Column("inbound_id", sa.UUID(), nullable=False),
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("ward_id", sa.UUID(), nullable=False),
        sa.Column("from_carer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unread", nullable=False),
        sa.Column("read_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_by", sa.UUID(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_note", sa.Text(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "status IN ('unread', 'read')", name=op.f("ck_replies_to_read_status_known")
        ),
        sa.CheckConstraint(
            "severity IN ('routine', 'urgent')", name=op.f("ck_replies_to_read_severity_known")
        ),
        sa.CheckConstraint(
            "(status = 'read') = (read_at IS NOT NULL AND read_by IS NOT NULL)",
            name=op.f("ck_replies_to_read_read_has_reader"),
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["sms_inbound.id"],
            name=op.f("fk_replies_to_read_inbound_id_sms_inbound"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_replies_to_read_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["read_by"], ["users.id"], name=op.f("fk_replies_to_read_read_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_replies_to_read_ward_id_wards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies_to_read")),
        sa.UniqueConstraint("inbound_id", name=op.f("uq_replies_to_read_inbound_id")),
    )
    op.create_index(
        "ix_replies_to_read_read_due_at_unescalated",
        "replies_to_read",
        ["read_due_at"],
        postgresql_where=sa.text("status = 'unread' AND escalated_at IS NULL"),
    )
    op.create_index(
        "ix_replies_to_read_ward_id_received_at_id",
        "replies_to_read",
        ["ward_id", "received_at", "id"],
    )
    op.create_index(
        "ix_replies_to_read_patient_id_received_at_id",
        "replies_to_read",
        ["patient_id", "received_at", "id"],
    )


def downgrade() -> None:
    # Going back would turn carers' texts into the patient's own and leave unread_reply
    # escalations outside the reasons the old code knows: refuse rather than mislead.
    conn = op.get_bind()
    kept = conn.scalar(
        sa.text(
            "SELECT (SELECT count(*) FROM escalations WHERE reason = 'unread_reply')"
            " + (SELECT count(*) FROM sms_inbound WHERE from_carer)"
        )
    )
    if kept:
        raise RuntimeError(
            "refusing to downgrade past 0014: unread_reply escalations or carers' texts exist"
        )
    op.drop_index("ix_replies_to_read_patient_id_received_at_id", table_name="replies_to_read")
    op.drop_index("ix_replies_to_read_ward_id_received_at_id", table_name="replies_to_read")
    op.drop_index("ix_replies_to_read_read_due_at_unescalated", table_name="replies_to_read")
    op.drop_table("replies_to_read")
    op.drop_index("ix_carers_mobile", table_name="carers")
    op.drop_column("carers", "sms_opted_out_at")
    op.drop_column("carers", "sms_opted_out")
    op.drop_column("sms_inbound", "from_carer")
    _reason_check(REASONS_BEFORE)
