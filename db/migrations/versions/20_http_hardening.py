"""idempotency keys: bound to the caller's access, and the patients their answer concerned

Revision ID: 0107
Revises: 0106
Create Date: 2026-12-01 12:00:00

A replayed answer skipped authorization: a user moved to another ward, or deactivated and
reactivated, got the stored body back. Each key now records the caller's access when it was
claimed (role, ward, agency, token version) and the patients its answer's audit rows named.
A replay is served only while both still hold; otherwise the request runs afresh. Keys
claimed before this revision have no access recorded and so run afresh once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0107"
down_revision: str | Sequence[str] | None = "0106"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("idempotency_keys", sa.Column("access", sa.String(200), nullable=True))
    op.add_column(
        "idempotency_keys",
        sa.Column("patient_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=True)), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "patient_ids")
    op.drop_column("idempotency_keys", "access")
