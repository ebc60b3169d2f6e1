"""Words fit for a phone someone else may read (a patient's discreet mode).

A patient with discreet messages on is sent nothing that says a health service, a ward or a
clinical idea is behind the text: every text they (or their carer, about them) are sent is
chosen in words that pass `is_discreet_safe`, and each outbox row records whether its words
do, so the send step can withdraw one that no longer suits (service.patient_access.texting).
A leaf: it imports nothing, so every package that words a text can ask it.
"""

from __future__ import annotations

import re

# Words that must never appear in a discreet message (also used to vet a custom question, a
# ward's own crisis message and staff messages to a discreet patient).
CLINICAL_WORDS: tuple[str, ...] = (
    "mental",
    "health",
    "ward",
    "hospital",
    "nhs",
    "clinic",
    "nurse",
    "doctor",
    "psychiatr",
    "therap",
    "mood",
    "medication",
    "meds",
    "discharge",
    "relapse",
    "crisis",
    "recovery",
    "care team",
    "key worker",
    "check-in",
    "check in",
    "homeward",
    "symptom",
    "suicid",
    "self-harm",
    "self harm",
    # A charity known for suicide prevention: naming it says why the text came.
    "samaritan",
)
_CLINICAL = re.compile("|".join(re.escape(w) for w in CLINICAL_WORDS), re.IGNORECASE)


def is_discreet_safe(text: str) -> bool:
    return _CLINICAL.search(text) is None
