"""Whether suicide risk is recorded for a patient now: the one answer every severity rule asks.

A leaf (it imports only the database layer) so that checkins, the conversation and replies can
all ask it without an import cycle through `service.patients`, which imports them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Episode


async def suicide_risk_recorded(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    """The risk recorded on the last discharge (the stay at home now). Unknown counts as no
    risk here, as before; a discharge must state it, so unknown means an old record."""
    risk = await session.scalar(
        select(Episode.suicide_risk)
        .where(Episode.patient_id == patient_id, Episode.discharged_at.is_not(None))
        .order_by(Episode.discharged_at.desc(), Episode.id.desc())
        .limit(1)
    )
    return bool(risk)
