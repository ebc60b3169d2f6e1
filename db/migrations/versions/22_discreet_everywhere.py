"""survey items in words for a shared phone; a survey item's text names its survey

Revision ID: 0108
Revises: 0105
Create Date: 2026-12-01 12:10:00

Discreet mode covered check-in prompts only: survey items went in their one wording, which
names Homeward and "mental health", "medication", "care team". Each item now has a
discreet wording as data beside its usual one (Homeward's own paraphrases again, naming no
service, no clinical word). A survey item's outbox row now names its survey, so the send
step can hand a text withdrawn for its words back to that survey to be asked again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0108"
down_revision: str | Sequence[str] | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCALE_7 = "Reply 1 (totally dissatisfied) to 7 (totally satisfied)."
# (key, what the item asks about, in words that name no service and no clinical idea)
DIALOG_DISCREET = [
    ("dialog.mental_health", "how you feel in yourself"),
    ("dialog.physical_health", "how you are physically"),
    ("dialog.job", "your job situation (work or what you do in the day)"),
    ("dialog.accommodation", "where you live"),
    ("dialog.leisure", "your leisure activities"),
    ("dialog.friendships", "your friendships"),
    ("dialog.partner_family", "your relationship with partner or family"),
    ("dialog.safety", "how safe you feel"),
    ("dialog.medication", "any tablets or medicines you take"),
    ("dialog.practical_help", "the practical help you get"),
    ("dialog.meetings", "your meetings with the people who support you"),
]
FFT_DISCREET = {
    "fft.experience": "Overall, how was your experience with us? Reply 1 very good, 2 good, "
    "3 neither good nor poor, 4 poor, 5 very poor.",
    "fft.comment": "Thank you. If you like, reply with a few words on why. Reply SKIP to leave it.",
}


def upgrade() -> None:
    op.add_column("prom_items", sa.Column("discreet_prompt", sa.Text(), nullable=True))
    items = sa.table("prom_items", sa.column("key", sa.String), sa.column("discreet_prompt"))
    wording = {
        key: f"({n}/11) How satisfied are you with {what}? {SCALE_7}"
        for n, (key, what) in enumerate(DIALOG_DISCREET, start=1)
    } | FFT_DISCREET
    for key, prompt in wording.items():
        op.execute(items.update().where(items.c.key == key).values(discreet_prompt=prompt))
    op.alter_column("prom_items", "discreet_prompt", nullable=False)

    op.add_column("sms_outbox", sa.Column("prom_survey_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_sms_outbox_prom_survey_id_prom_surveys"),
        "sms_outbox",
        "prom_surveys",
        ["prom_survey_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_sms_outbox_prom_survey_id_prom_surveys"), "sms_outbox", type_="foreignkey"
    )
    op.drop_column("sms_outbox", "prom_survey_id")
    op.drop_column("prom_items", "discreet_prompt")
