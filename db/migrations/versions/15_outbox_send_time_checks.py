"""outbox: whether a text's words suit a shared phone, checked again when it is sent

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00

A patient text's words were fixed when it was queued, so discreet mode switched on while it
waited did not apply. The queuer now says whether the words suit a shared phone, and the
send step withdraws a text marked unsuitable once discreet mode is on. Rows queued before
this revision say nothing (NULL) and are sent as before: what their words were chosen for
is not recorded anywhere to copy from.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sms_outbox", sa.Column("fit_for_discreet", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("sms_outbox", "fit_for_discreet")
