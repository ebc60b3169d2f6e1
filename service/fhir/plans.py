"""CarePlan (UKCore-CarePlan): the relapse-prevention plan. One logical CarePlan per patient
(a stable id), each stored version as `meta.versionId`; the patient's goals are its goals.

Coping strategies are its activities (what the patient does); warning signs, triggers,
crisis contacts and the check-in question are notes, each prefixed with what it is, as
R4 CarePlan has no elements of their own for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from fhir.resources.R4B.careplan import CarePlan

from service.fhir.common import Record, Ref, derived_id, meta, reference


def plan_id(patient_id: uuid.UUID) -> uuid.UUID:
    return derived_id("CarePlan", patient_id)


def _notes(row: Record) -> list[dict[str, Any]]:
    notes = [{"text": f"Early warning sign: {s}"} for s in row.early_warning_signs]
    notes += [{"text": f"Trigger: {s}"} for s in row.triggers]
    for c in row.crisis_contacts:
        notes.append(
            {"text": f"Crisis contact: {c.get('name')} ({c.get('relationship')}), {c.get('phone')}"}
        )
    if row.check_in_question:
        notes.append({"text": f"Check-in question: {row.check_in_question}"})
    return notes


def build(row: Record, ref: Ref, goal_ids: Iterable[uuid.UUID], *, current: bool) -> CarePlan:
    """One version; `current` False for an earlier one (status `revoked`: replaced by the
    next version, still readable as history)."""
    activities = [
        {"detail": {"status": "unknown", "description": s}} for s in row.coping_strategies
    ]
    return CarePlan.model_validate(
        dict(
            id=str(plan_id(row.patient_id)),
            meta=meta("CarePlan", version=row.version, last_updated=row.created_at),
            status="active" if current else "revoked",
            intent="plan",
            title="Relapse-prevention plan",
            subject=reference(ref, "Patient", row.patient_id),
            created=row.created_at,
            goal=[reference(ref, "Goal", g) for g in goal_ids] or None,
            activity=activities or None,
            note=_notes(row) or None,
        )
    )
