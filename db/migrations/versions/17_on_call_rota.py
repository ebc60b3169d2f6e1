"""on-call rota: shifts that decide who is paged at levels 1 and 2

Revision ID: 0102
Revises: 0101
Create Date: 2026-12-01 12:00:00

A ward's on-call shifts. Paging asks for the shifts covering now at every page, through the
(ward_id, ends_at) index: shifts that have ended fall outside the range scanned.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0102"
down_revision: str | Sequence[str] | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "on_call_shifts",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("ward_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_on_call_shifts_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["ward_id"], ["wards.id"], name=op.f("fk_on_call_shifts_ward_id_wards")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_on_call_shifts_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_on_call_shifts_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_shifts")),
        sa.UniqueConstraint(
            "ward_id",
            "user_id",
            "starts_at",
            "ends_at",
            name=op.f("uq_on_call_shifts_ward_id_user_id_starts_at_ends_at"),
        ),
    )
    op.create_index(
        "ix_on_call_shifts_ward_id_ends_at",
        "on_call_shifts",
        ["ward_id", "ends_at"],
        postgresql_include=["starts_at", "user_id"],
    )
    op.create_index("ix_on_call_shifts_user_id_ends_at", "on_call_shifts", ["user_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_on_call_shifts_user_id_ends_at", table_name="on_call_shifts")
    op.drop_index("ix_on_call_shifts_ward_id_ends_at", table_name="on_call_shifts")
    op.drop_table("on_call_shifts")
