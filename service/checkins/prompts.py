"""The words of a check-in prompt. Discreet mode says nothing a shared phone should not show."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient
from service.discreet import is_discreet_safe
from service.plans.service import current_plan

DEFAULT_QUESTION = "How are you feeling today?"
DISCREET_QUESTION = "How are things today?"
MAX_QUESTION_CHARS = 300


async def question_for(session: AsyncSession, patient_id: uuid.UUID) -> str | None:
    """The patient's own check-in question from their relapse-prevention plan, if any."""
    plan = await current_plan(session, patient_id)
    return plan.check_in_question if plan is not None else None


def prompt_body(patient: Patient, question: str | None, *, reminder: bool = False) -> str:
    """The SMS text for a check-in prompt (or its one reminder)."""
    own = (question or "").strip()[:MAX_QUESTION_CHARS] or None
    if patient.discreet_messages:
        asked = own if own and is_discreet_safe(own) else DISCREET_QUESTION
        lead = "Just a reminder. " if reminder else "Hi. "
        return (
            f"{lead}{asked} Reply with a number from 1 (not good) to 5 (very good), "
            "or a word. Reply HELP if you need support. Reply STOP to stop these texts."
        )
    asked = own or DEFAULT_QUESTION
    lead = "Reminder from your Homeward care team: " if reminder else "Homeward check-in: "
    return (
        f"{lead}{asked} Reply with a number from 1 (very low) to 5 (very well), or a word. "
        "Reply HELP if you need support now. Reply STOP to opt out."
    )
