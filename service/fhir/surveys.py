"""Questionnaire and QuestionnaireResponse (UKCore-Questionnaire, UKCore-QuestionnaireResponse)
for DIALOG and the Friends and Family Test, answered one item per text.

The Questionnaire is built from the items table (`prom_items`), its source and licence note
as publisher text and copyright, so a reader sees the wording is Homeward's SMS paraphrase.
A response is `completed` when the survey completed, else `in-progress` (a partial set:
some items answered, the rest never will or not yet)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from service.fhir.common import HOMEWARD, Record, Ref, derived_id, meta, reference

NAMES = {"dialog": "DIALOG", "fft": "Friends and Family Test"}
_NAMESPACE = uuid.UUID("6f1c1d0e-2a8e-4b7e-9c1a-5d0f7a3b2e10")


def questionnaire_id(instrument: str) -> uuid.UUID:
    return derived_id(f"Questionnaire:{instrument}", _NAMESPACE)


def canonical(instrument: str) -> str:
    return f"{HOMEWARD}/Questionnaire/{instrument}"


def questionnaire(instrument: str, items: Sequence[Record]) -> Questionnaire:
    """`items`: that instrument's rows of `prom_items`, in position order."""
    first = items[0]
    return Questionnaire.model_validate(
        dict(
            id=str(questionnaire_id(instrument)),
            meta=meta("Questionnaire"),
            url=canonical(instrument),
            name=instrument.upper(),
            title=NAMES.get(instrument, instrument),
            status="active",
            subjectType=["Patient"],
            publisher=first.source,
            copyright=first.licence_note,
            item=[
                {
                    "linkId": i.key,
                    "text": i.prompt,
                    "type": "string" if i.scale_min is None else "integer",
                }
                for i in items
            ],
        )
    )


def response(
    row: Record, ref: Ref, answers: Iterable[Mapping[str, Any]], prompts: Mapping[str, str]
) -> QuestionnaireResponse:
    """`answers`: {item_key, score, text, answered_at} per answered item, in item order."""
    items = []
    last = None
    for a in answers:
        value: dict[str, Any] = (
            {"valueInteger": a["score"]} if a["score"] is not None else {"valueString": a["text"]}
        )
        items.append(
            {"linkId": a["item_key"], "text": prompts.get(a["item_key"]), "answer": [value]}
        )
        last = a["answered_at"] if last is None or a["answered_at"] > last else last
    return QuestionnaireResponse.model_validate(
        dict(
            id=str(row.id),
            meta=meta("QuestionnaireResponse", last_updated=row.updated_at),
            questionnaire=canonical(row.instrument),
            status="completed" if row.status == "completed" else "in-progress",
            subject=reference(ref, "Patient", row.patient_id),
            authored=row.completed_at or last or row.updated_at,
            source=reference(ref, "Patient", row.patient_id),
            item=items or None,
        )
    )
