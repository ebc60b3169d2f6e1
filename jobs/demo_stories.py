"""The demo's made-up patients: who they are and what happens to them, as plain data.

Deterministic for a given ward number and `now`, so the history reads the same every time it
is built; the players in demo_history turn each story into rows through the services.
Names are invented; mobiles are in Ofcom's drama range (07700 900xxx), never real phones;
NHS numbers start 999 (never issued) with a valid check digit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from service.patients.service import nhs_check_digit

GIVEN = ["Alex", "Bea", "Cal", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kit", "Lia",
         "Max", "Noor", "Olu", "Pip"]  # fmt: skip
FAMILY = ["Ashby", "Brook", "Carver", "Dale", "Ember", "Frost", "Grove", "Heath", "Irwin",
          "Jolly", "Keane", "Lowe", "Marsh", "North", "Oakes", "Pryce"]  # fmt: skip
DECLINE_REASONS = ("No capacity", "Outside our area", "Needs better met elsewhere")


@dataclass(frozen=True)
class Stay:
    admitted_at: datetime
    discharged_at: datetime | None
    suicide_risk: bool
    # Hours from discharge to the first successful human contact; None: nobody got through.
    contact_after_hours: float | None


@dataclass(frozen=True)
class Story:
    number: int
    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    mobile: str
    stays: list[Stay]
    # Behaviour by text: how likely a check-in is answered, the patient's usual score.
    answer_rate: float
    usual_score: int
    opts_out_after_days: int | None
    goals: int
    dialog_base: float
    seed: int


def nhs_number(ward_number: int, n: int) -> str:
    """The n-th valid 999-prefixed NHS number for this ward."""
    k = 0
    while True:
        first_nine = f"999{ward_number:02d}{n:02d}{k:02d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
        k += 1


def _at(rng: random.Random, now: datetime, days_ago: float) -> datetime:
    """A daytime moment `days_ago` before now, whole minutes."""
    moment = now - timedelta(days=days_ago)
    moment = moment.replace(hour=rng.randint(9, 16), minute=rng.choice((0, 15, 30, 45)))
    moment = moment.replace(second=0, microsecond=0)
    return min(moment, now - timedelta(hours=1))


def _contact_hours(rng: random.Random, n: int, suicide_risk: bool) -> float | None:
    if n % 7 == 3:
        return None  # nobody reached the patient: a breach
    if n % 5 == 4:
        return (48 if suicide_risk else 72) + rng.randint(3, 30)  # late
    return float(rng.randint(4, 44 if suicide_risk else 66))


def _stays(rng: random.Random, now: datetime, n: int, discharged_days_ago: float) -> list[Stay]:
    discharged = _at(rng, now, discharged_days_ago)
    risk = n % 4 == 1
    first = Stay(
        admitted_at=discharged - timedelta(days=rng.randint(12, 40), hours=rng.randint(0, 5)),
        discharged_at=discharged,
        suicide_risk=risk,
        contact_after_hours=_contact_hours(rng, n, risk),
    )
    if n % 5 != 2 or discharged_days_ago < 20:
        return [first]
    # Back on the ward within 30 days; discharged again if there has been time.
    again = discharged + timedelta(days=rng.randint(6, 24), hours=rng.randint(1, 6))
    out: datetime | None = again + timedelta(days=rng.randint(8, 14))
    if out is not None and out > now - timedelta(days=4):
        out = None
    second = Stay(again, out, True, float(rng.randint(5, 40)) if out else None)
    return [first, second]


def stories(ward_number: int, now: datetime, count: int) -> list[Story]:
    """`count` patients discharged across the last ~170 days, most recent last."""
    rng = random.Random(7919 * ward_number)  # noqa: S311 - made-up demo data, not secrets
    out = []
    for n in range(count):
        days_ago = 170 - n * (164 / max(count - 1, 1))
        out.append(
            Story(
                number=n,
                nhs_number=nhs_number(ward_number, n),
                given_name=GIVEN[(n + ward_number) % len(GIVEN)],
                family_name=FAMILY[(n * 3 + ward_number) % len(FAMILY)],
                date_of_birth=date(
                    1960 + rng.randint(0, 40), rng.randint(1, 12), rng.randint(1, 28)
                ),
                mobile=f"+447700900{ward_number}{n:02d}",
                stays=_stays(rng, now, n, days_ago),
                answer_rate=rng.choice((0.6, 0.75, 0.85, 0.95)),
                usual_score=rng.choice((3, 4, 4, 4, 5)),
                opts_out_after_days=20 if n % 6 == 5 else None,
                goals=3,
                dialog_base=rng.uniform(2.6, 4.2),
                seed=rng.randint(0, 10**9),
            )
        )
    return out
