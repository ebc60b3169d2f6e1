"""The clinical standards the product is measured against, each defined once.

Services apply them; reports count against them and print them in their labels and rules,
so a change here changes both (tests spell the numbers out by hand).
"""

from __future__ import annotations

from datetime import timedelta

# Post-discharge follow-up: within 72 hours (NHS standard contract), 48 hours when suicide
# risk is recorded (NICE NG53). Elapsed hours, never wall-clock hours.
FOLLOW_UP_WITHIN = timedelta(hours=72)
FOLLOW_UP_WITHIN_SUICIDE_RISK = timedelta(hours=48)
# The national ambition for follow-ups met in time.
NATIONAL_FOLLOW_UP_AMBITION = 0.8

# An admission at most this long (to the second) after the previous discharge is a
# readmission: 30 days of 24 elapsed hours.
READMISSION_WINDOW = timedelta(days=30)

# What a person in crisis is told by text when the ward has not written its own words, and
# all an unknown number is told: NHS 111's mental health option, Samaritans, 999. Plain
# GSM-7 and short: with the ward's number added it still fits one SMS segment.
CRISIS_ROUTES = (
    "Need help now? Call NHS 111 and choose option 2 for mental health, or Samaritans "
    "free on 116 123, any time. In an emergency call 999."
)
# The same routes for a patient with discreet messages on, whose phone others may read: every
# number stays (111 option 2 is the mental health line, 116 123 the Samaritans, 999), only
# the names that say what they are for go. A person in crisis still gets three numbers to
# ring, any time; someone glancing at the phone sees no service and no clinical word.
DISCREET_CRISIS_ROUTES = (
    "Need to talk to someone now? Call 111 and choose option 2, or call 116 123 free, "
    "any time. In an emergency call 999."
)


def whole_hours(span: timedelta) -> int:
    """A standard's span in whole hours, for labels, notes and SQL intervals."""
    return int(span.total_seconds()) // 3600
