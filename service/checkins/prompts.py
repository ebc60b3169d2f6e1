"""The words of a check-in prompt. Discreet mode says nothing a shared phone should not show.

The wording is the ward's template in the patient's language (service.message_templates);
the question in the patient's relapse-prevention plan stays theirs and is sent as written.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient
from service.discreet import is_discreet_safe
from service.message_templates.service import Wording, wording
from service.plans.service import current_plan

MAX_QUESTION_CHARS = 300


async def question_for(session: AsyncSession, patient_id: uuid.UUID) -> str | None:
    """The patient's own check-in question from their relapse-prevention plan, if any."""
    plan = await current_plan(session, patient_id)
    return plan.check_in_question if plan is not None else None


async def prompt_body(
    session: AsyncSession, patient: Patient, question: str | None, *, reminder: bool = False
) -> Wording:
    """The SMS text for a check-in prompt (or its one reminder), and its template."""
    own = (question or "").strip()[:MAX_QUESTION_CHARS] or None
    variant = ".discreet" if patient.discreet_messages else ""
    if own is not None and patient.discreet_messages and not is_discreet_safe(own):
        own = None
    if own is None:
        default = await wording(
            session, patient.ward_id, patient.language, f"checkin.question{variant}"
        )
        own = default.body
    purpose = ("checkin.reminder" if reminder else "checkin.prompt") + variant
    return await wording(session, patient.ward_id, patient.language, purpose, {"question": own})
