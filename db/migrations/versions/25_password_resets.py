"""password resets: an admin's one-time sign-in code, single use and expiring

Revision ID: 0304
Revises: 0303
Create Date: 2026-12-01 15:00:00

An admin's reset makes a one-time code the user's password (hashed in users.password_hash as
any password) and forces a change; this table holds when that code expires and whether it
has been used to sign in, so it works once and not after its time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0304"
down_revision: str | Sequence[str] | None = "0303"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_password_resets_created_by_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_password_resets")),
    )


def downgrade() -> None:
    op.drop_table("password_resets")
