"""escalations: a resolve-by deadline once acknowledged, and the outcome a resolution records

Revision ID: 0101
Revises: 0016
Create Date: 2026-12-01 12:00:00

Acknowledged is not done: acknowledging now sets `resolve_due_at` from the ward's policy and
a sweep re-opens the escalation one level up when it passes (read through a partial index on
acknowledged rows, so the sweep's cost follows the work due). Resolving records an outcome
from a short list. Rows already acknowledged get one full default allowance from the upgrade
(urgent 4 h, routine 24 h; no ward had resolve deadlines to read yet): they are exactly the
forgotten ones, but dating the deadline from their old acknowledgement would page them all
at once. Rows resolved before it keep a NULL outcome: what staff found was not recorded
anywhere to copy from.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = (
    "contacted_patient_safe",
    "contacted_patient_needs_support",
    "could_not_contact",
    "duplicate",
    "other",
    "source_dealt_with",
    "patient_admitted",
)


def upgrade() -> None:
    op.add_column(
        "escalations", sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "escalations", sa.Column("resolution_outcome", sa.String(length=40), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_escalations_resolution_outcome_known"),
        "escalations",
        f"resolution_outcome IS NULL OR resolution_outcome IN {OUTCOMES!r}",
    )
    op.execute(
        """
        UPDATE escalations
        SET resolve_due_at = now() + CASE severity WHEN 'urgent' THEN interval '4 hours'
                                                   ELSE interval '24 hours' END
        WHERE status = 'acknowledged'
        """
    )
    op.create_index(
        "ix_escalations_resolve_due_at_acknowledged",
        "escalations",
        ["resolve_due_at"],
        postgresql_where=sa.text("status = 'acknowledged'"),
    )


def downgrade() -> None:
    op.drop_index("ix_escalations_resolve_due_at_acknowledged", table_name="escalations")
    op.drop_constraint(
        op.f("ck_escalations_resolution_outcome_known"), "escalations", type_="check"
    )
    op.drop_column("escalations", "resolution_outcome")
    op.drop_column("escalations", "resolve_due_at")
