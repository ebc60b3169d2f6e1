"""What every builder shares: profile URLs, code systems, references and derived ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# Homeward's own code systems, for values no published code system holds (goal domains,
# escalation reasons, consent share scopes...). A namespace of ours, not a registered one.
HOMEWARD = "https://homeward.example.org/fhir"
CODE_SYSTEM = f"{HOMEWARD}/CodeSystem/"

# The resource types, in the order the bulk export writes them.
TYPES = (
    "Patient",
    "Organization",
    "EpisodeOfCare",
    "Encounter",
    "Goal",
    "CarePlan",
    "Consent",
    "ServiceRequest",
    "Task",
    "Questionnaire",
    "QuestionnaireResponse",
    "Communication",
    "Flag",
)

# UK Core R4 (NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN) has a profile for every type we write
# except Goal, which stays base R4.
PROFILED = (frozenset(TYPES) - {"Goal"}) | {"Bundle"}

# A row as the builders read it: an ORM object, or a Core row with the model's column names
# (the export streams rows, so no identity map grows with the ward).
Record = Any

# (resource type, id) -> the reference text: `urn:uuid:<id>` inside a Bundle, `Type/<id>`
# in the bulk export, where every resource of the ward is one file away.
Ref = Callable[[str, uuid.UUID | str], str]


def bundle_ref(kind: str, id: uuid.UUID | str) -> str:
    del kind
    return f"urn:uuid:{id}"


def relative_ref(kind: str, id: uuid.UUID | str) -> str:
    return f"{kind}/{id}"


def reference(ref: Ref, kind: str, id: uuid.UUID, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": ref(kind, id), "type": kind}
    if display:
        out["display"] = display
    return out


def derived_id(kind: str, source_id: uuid.UUID) -> uuid.UUID:
    """A stable id for a second resource made from one row (an episode's Encounter beside
    its EpisodeOfCare, a referral's Task beside its ServiceRequest): the same every export."""
    return uuid.uuid5(source_id, kind)


def meta(
    kind: str, *, version: int | None = None, last_updated: datetime | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if kind in PROFILED:
        out["profile"] = [f"{UK_CORE}{kind}"]
    if version is not None:
        out["versionId"] = str(version)
    if last_updated is not None:
        out["lastUpdated"] = last_updated
    return out


def homeward_code(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept in one of Homeward's code systems, its text the readable code."""
    text = display or code.replace("_", " ")
    return {
        "coding": [{"system": CODE_SYSTEM + system, "code": code, "display": text}],
        "text": text,
    }


def period(start: datetime | None, end: datetime | None) -> dict[str, Any] | None:
    out = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return out or None
