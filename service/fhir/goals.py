"""Goal (base R4: UK Core has no Goal profile), its lifecycle status mapped."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.goal import Goal

from service.fhir.common import Record, Ref, homeward_code, meta, reference

ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"

# Homeward status -> (lifecycleStatus, achievementStatus code or None). Achieved and not
# achieved are both finished work: "completed", told apart by achievementStatus.
STATUS: dict[str, tuple[str, str | None]] = {
    "proposed": ("proposed", None),
    "active": ("active", "in-progress"),
    "on_hold": ("on-hold", None),
    "achieved": ("completed", "achieved"),
    "not_achieved": ("completed", "not-achieved"),
    "cancelled": ("cancelled", None),
}


def build(row: Record, ref: Ref) -> Goal:
    lifecycle, achievement = STATUS[row.status]
    achievement_status: dict[str, Any] | None = None
    if achievement is not None:
        achievement_status = {"coding": [{"system": ACHIEVEMENT, "code": achievement}]}
    return Goal.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Goal", last_updated=row.updated_at),
            lifecycleStatus=lifecycle,
            achievementStatus=achievement_status,
            category=[homeward_code("goal-domain", row.domain)],
            description={"text": row.description},
            subject=reference(ref, "Patient", row.patient_id),
            startDate=row.created_at.date(),
            target=[{"dueDate": row.target_date}] if row.target_date else None,
            statusDate=row.updated_at.date(),
        )
    )
