"""Demo history for the outcomes-over-time pages: a year of earlier, finished stays whose
follow-ups make the charts worth reading (issue 22).

The Demo Recovery Ward changed how it works eight months ago: before, about one follow-up in
four was made within the deadline; since, nearly all. Its chart shows a shift (special cause,
improving) and its 72-hour figure is above the funnel's limit. The smaller assessment ward
makes one in six: below the funnel's 99.8% limit, so the page names it, and its settings can
adopt the recovery ward's. These patients' care has ended (status closed): they are history
only, on no board list, and nothing is left for a sweep to do. Built once (found by NHS number).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Episode, FollowUp, Patient
from jobs.demo_stories import nhs_number
from service.standards import FOLLOW_UP_WITHIN

# ward number -> [(months ago, discharges, met within the deadline)], oldest first.
PLAN: dict[int, list[tuple[int, int, int]]] = {
    1: [(m, 4, 1) for m in range(12, 7, -1)] + [(m, 14, 13) for m in range(7, -1, -1)],
    2: [(m, 6, 1) for m in range(12, -1, -1)],
}
# NHS numbers 999 50.. / 999 51.. keep these apart from the story patients' (999 01.., 02..).
NUMBER_BASE = 49


async def seed_outcome_history(
    session: AsyncSession, ward_ids: dict[int, uuid.UUID], now: datetime
) -> list[str]:
    built: list[str] = []
    for ward_number, months in PLAN.items():
        first = nhs_number(NUMBER_BASE + ward_number, 0)
        if await session.scalar(select(Patient.id).where(Patient.nhs_number == first)):
            continue
        n = 0
        rows: list[tuple[Patient, Episode, FollowUp]] = []
        for months_ago, count, met in months:
            for k in range(count):
                discharged = (now - timedelta(days=30 * months_ago + 4 + k * 25 / count)).replace(
                    hour=11, minute=0, second=0, microsecond=0
                )
                rows.append(_rows(ward_ids[ward_number], ward_number, n, discharged, k < met))
                n += 1
        # No ORM relationships between these: each table is written before the next refers to it.
        for column in range(3):
            session.add_all([row[column] for row in rows])
            await session.flush()
        built.append(f"ward {ward_number}: {n} earlier stays for the outcomes-over-time charts")
    return built


def _rows(
    ward_id: uuid.UUID,
    ward_number: int,
    n: int,
    discharged: datetime,
    met: bool,
) -> tuple[Patient, Episode, FollowUp]:
    patient = Patient(
        id=uuid.uuid4(),
        ward_id=ward_id,
        nhs_number=nhs_number(NUMBER_BASE + ward_number, n % 100)
        if n < 100
        else nhs_number(NUMBER_BASE + ward_number + 2, n - 100),
        given_name="Former",
        family_name=f"Patient {ward_number}-{n:03d}",
        date_of_birth=date(1970 + n % 30, 1 + n % 12, 1 + n % 28),
        mobile=None,
        timezone="Europe/London",
        contact_window_start=time(9, 0),
        contact_window_end=time(20, 0),
        language="en",
        discreet_messages=False,
        sms_consent=False,
        sms_opted_out=False,
        status="closed",
    )
    episode = Episode(
        id=uuid.uuid4(),
        patient_id=patient.id,
        admitted_at=discharged - timedelta(days=21),
        discharged_at=discharged,
        suicide_risk=False,
    )
    due = discharged + FOLLOW_UP_WITHIN
    contact = discharged + timedelta(hours=30 if met else 80)
    follow_up = FollowUp(
        patient_id=patient.id,
        episode_id=episode.id,
        due_at=due,
        suicide_risk=False,
        status="completed" if met else "breached",
        completed_at=contact if met else None,
        method="phone" if met else None,
        breached_at=None if met else due,
        created_at=discharged,
    )
    return patient, episode, follow_up
