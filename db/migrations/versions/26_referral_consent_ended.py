"""referrals: closed because consent ended

Revision ID: 0306
Revises: 0304
Create Date: 2026-12-01 15:00:00

What an agency learns follows consent. Withdrawing the last consent to share with an agency
closes that agency's open referrals of the patient in the same transaction: status
`withdrawn` with `closed_reason = 'consent_ended'`. (Expiry has no event: the query-time rule
in service.referrals.access shows such a referral the same way.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0306"
down_revision: str | Sequence[str] | None = "0304"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("referrals", sa.Column("closed_reason", sa.String(20), nullable=True))
    op.create_check_constraint(
        op.f("ck_referrals_closed_reason_known"),
        "referrals",
        "closed_reason IS NULL OR closed_reason IN ('consent_ended')",
    )
    op.create_check_constraint(
        op.f("ck_referrals_closed_reason_only_withdrawn"),
        "referrals",
        "closed_reason IS NULL OR status = 'withdrawn'",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_referrals_closed_reason_only_withdrawn"), "referrals")
    op.drop_constraint(op.f("ck_referrals_closed_reason_known"), "referrals")
    op.drop_column("referrals", "closed_reason")
