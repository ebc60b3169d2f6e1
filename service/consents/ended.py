"""When the last consent to share with an agency is withdrawn, that agency's open referrals of
the patient close in the same transaction: `withdrawn`, `closed_reason` `consent_ended`, a
history row, and the ward's "unanswered" escalation settled (the agency can no longer answer).

Expiry has no event: the query-time rule of service.referrals.access shows such referrals the
same way to the agency at once. It lives with consents (and writes the referral rows
itself) because referrals build on consents: a referral records the consent given with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Referral, ReferralStatusChange
from db.models.referrals import OPEN_REFERRAL_STATUSES, REFERRAL_CLOSED_REASONS
from service.escalations.service import resolve_for_source
from service.patient_access.referral_sharing import consent_in_force
from service.principal import Principal

CONSENT_ENDED = REFERRAL_CLOSED_REASONS[0]
CONSENT_ENDED_NOTE = "Closed: the patient's consent to share with the agency ended."


async def close_for_ended_consent(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    agency_id: uuid.UUID,
    now: datetime,
) -> list[uuid.UUID]:
    """Close the pair's open referrals unless another consent of the pair is still in force
    (call after the withdrawal is flushed). Returns the ids closed."""
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.patient_id == patient_id,
            Referral.agency_id == agency_id,
            Referral.status.in_(OPEN_REFERRAL_STATUSES),
            ~consent_in_force(now),
        )
        .order_by(Referral.created_at, Referral.id)
        .with_for_update(of=Referral)
        .execution_options(populate_existing=True)
    )
    closed: list[uuid.UUID] = []
    for referral in rows.all():
        previous = referral.status
        referral.status = "withdrawn"
        referral.closed_reason = CONSENT_ENDED
        referral.on_hold_since = None
        referral.updated_at = now
        session.add(
            ReferralStatusChange(
                referral_id=referral.id,
                from_status=previous,
                to_status="withdrawn",
                at=now,
                by_id=caller.user_id,
                reason=CONSENT_ENDED_NOTE,
                kind="status",
            )
        )
        await resolve_for_source(
            session,
            reason="referral_unanswered",
            source_type="referral",
            source_id=referral.id,
            now=now,
            note="The referral closed: consent to share with the agency ended.",
            actor=caller,
        )
        closed.append(referral.id)
    await session.flush()
    return closed
