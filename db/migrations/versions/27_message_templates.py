"""message templates: a ward's own wording per purpose and language, versioned

Revision ID: 0307
Revises: 0306
Create Date: 2026-12-01 15:00:00

Wards may word patient- and carer-facing texts in their patients' languages. Each save is a
new version (never changed), so the text a patient was sent can always be shown; outbox rows
say which template, language, source and version their words came from. Built-in languages
shipped for review (Welsh) are used by a ward only once its manager confirms them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0307"
down_revision: str | Sequence[str] | None = "0306"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("ward_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("purpose", sa.String(80), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_message_templates_ward_id_wards")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_message_templates_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint(
            "ward_id",
            "purpose",
            "language",
            "version",
            name=op.f("uq_message_templates_ward_id_purpose_language_version"),
        ),
    )
    op.create_table(
        "message_template_languages",
        sa.Column("ward_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("confirmed_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_message_template_languages_ward_id_wards")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["users.id"],
            name=op.f("fk_message_template_languages_confirmed_by_users"),
        ),
        sa.PrimaryKeyConstraint("ward_id", "language", name=op.f("pk_message_template_languages")),
    )
    op.add_column("sms_outbox", sa.Column("template_purpose", sa.String(80), nullable=True))
    op.add_column("sms_outbox", sa.Column("template_language", sa.String(16), nullable=True))
    op.add_column("sms_outbox", sa.Column("template_source", sa.String(16), nullable=True))
    op.add_column("sms_outbox", sa.Column("template_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("sms_outbox", "template_version")
    op.drop_column("sms_outbox", "template_source")
    op.drop_column("sms_outbox", "template_language")
    op.drop_column("sms_outbox", "template_purpose")
    op.drop_table("message_template_languages")
    op.drop_table("message_templates")
