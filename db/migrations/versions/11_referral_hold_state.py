"""referral hold state: on_hold_since on referrals, and a kind on each history row

A readmission used to mark a hold only by a note in the referral's history (same status
before and after), found again by its wording. The hold is now a column, and each history
row says what it records. Existing notes are classified once, here, by the exact wording
the service wrote, and the open referrals whose latest such note is a hold are put on hold
from that note's time. The notes themselves stay in the history as they were.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 09:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The notes as service.referrals.service wrote them up to this revision (frozen here).
PAUSE_NOTE = (
    "On hold: the ward has paused community work with this patient. "
    "Please wait for the ward before further contact."
)
RESUME_NOTE = "Resumed: the ward has resumed community work with this patient."


def upgrade() -> None:
    op.add_column(
        "referral_status_changes",
        sa.Column("kind", sa.String(length=20), server_default="status", nullable=False),
    )
    op.add_column(
        "referrals", sa.Column("on_hold_since", sa.DateTime(timezone=True), nullable=True)
    )
    classify = sa.text(
        "UPDATE referral_status_changes SET kind = :kind"
        " WHERE from_status = to_status AND reason = :note"
    )
    # The history is append-only (a trigger refuses UPDATE). Classifying the rows it already
    # holds is part of this schema change, so the trigger is off for these two statements
    # only; DDL is transactional here, and ALTER TABLE keeps everyone else out until commit.
    op.execute(
        "ALTER TABLE referral_status_changes"
        " DISABLE TRIGGER referral_status_changes_no_update_delete"
    )
    op.execute(classify.bindparams(kind="hold", note=PAUSE_NOTE))
    op.execute(classify.bindparams(kind="resume", note=RESUME_NOTE))
    op.execute(
        "ALTER TABLE referral_status_changes"
        " ENABLE TRIGGER referral_status_changes_no_update_delete"
    )
    op.execute(
        """
        UPDATE referrals r SET on_hold_since = latest.at
        FROM (
            SELECT DISTINCT ON (referral_id) referral_id, kind, at
            FROM referral_status_changes
            WHERE kind IN ('hold', 'resume')
            ORDER BY referral_id, id DESC
        ) latest
        WHERE latest.referral_id = r.id AND latest.kind = 'hold'
          AND r.status IN ('pending', 'accepted')
        """
    )
    op.create_check_constraint(
        op.f("ck_referrals_hold_only_open"),
        "referrals",
        "on_hold_since IS NULL OR status IN ('pending', 'accepted')",
    )
    op.create_check_constraint(
        op.f("ck_referral_status_changes_kind_known"),
        "referral_status_changes",
        "kind IN ('status', 'hold', 'resume')",
    )
    op.create_check_constraint(
        op.f("ck_referral_status_changes_hold_keeps_status"),
        "referral_status_changes",
        "kind = 'status' OR from_status = to_status",
    )


def downgrade() -> None:
    # Nothing is lost: the hold and resume notes are still in the history, in their words.
    op.drop_constraint(
        op.f("ck_referral_status_changes_hold_keeps_status"),
        "referral_status_changes",
        type_="check",
    )
    op.drop_constraint(
        op.f("ck_referral_status_changes_kind_known"), "referral_status_changes", type_="check"
    )
    op.drop_constraint(op.f("ck_referrals_hold_only_open"), "referrals", type_="check")
    op.drop_column("referrals", "on_hold_since")
    op.drop_column("referral_status_changes", "kind")
