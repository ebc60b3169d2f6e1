"""Referrals an agency has not answered by `respond_by` go back to the ward as escalations.

`unanswered_escalated_at` is the claim marker: the partial index holds only pending referrals
not yet escalated, so the sweep reads what is due and nothing else; the escalation's unique
source key makes a repeat harmless anyway. A referral on hold (`on_hold_since`) is not chased;
the discharge that resumes it clears the marker, so a deadline still missed then is escalated.
Nor is one without a consent in force: its agency is shown nothing it could answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient, Referral
from service.escalations.service import raise_escalation
from service.referrals.access import consent_in_force
from service.referrals.service import REFERRALS_ACTOR
from service.set_aside import not_set_aside

CLAIM_BATCH = 200


async def claim_unanswered(
    session: AsyncSession, now: datetime, limit: int = CLAIM_BATCH
) -> list[Referral]:
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.status == "pending",
            Referral.unanswered_escalated_at.is_(None),
            Referral.on_hold_since.is_(None),
            Referral.respond_by <= now,
            # Without a consent in force the agency is shown nothing to answer: not chased.
            consent_in_force(now),
            not_set_aside(Referral),
        )
        .order_by(Referral.respond_by, Referral.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def escalate_unanswered(session: AsyncSession, referral: Referral, now: datetime) -> None:
    if (
        referral.status != "pending"
        or referral.unanswered_escalated_at is not None
        or referral.on_hold_since is not None
    ):
        return
    referral.unanswered_escalated_at = now
    ward_id = await session.scalar(select(Patient.ward_id).where(Patient.id == referral.patient_id))
    assert ward_id is not None
    await raise_escalation(
        session,
        patient_id=referral.patient_id,
        ward_id=ward_id,
        reason="referral_unanswered",
        severity="routine",
        source_type="referral",
        source_id=referral.id,
        now=now,
        note="The agency has not answered the referral by its respond-by time.",
        actor=REFERRALS_ACTOR,
    )
