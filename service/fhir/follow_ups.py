"""The post-discharge follow-up as a Task (UKCore-Task): due time, status and outcome.

pending → requested; completed → completed; breached → in-progress with a business status:
the clock ran out but the contact is still owed (a late contact completes it), so not
`failed`, which would read as work given up."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.task import Task

from service.fhir.common import Record, Ref, derived_id, meta, reference

STATUS = {"pending": "requested", "completed": "completed", "breached": "in-progress"}


def build(row: Record, ref: Ref) -> Task:
    fields: dict[str, Any] = {}
    if row.status == "breached":
        fields["businessStatus"] = {"text": "Due time passed without a contact"}
    elif row.breached_at is not None:
        fields["businessStatus"] = {"text": "Completed after its due time"}
    if row.status == "completed":
        fields["executionPeriod"] = {"end": row.completed_at}
        output = [{"type": {"text": "method"}, "valueString": row.method}] if row.method else []
        if row.outcome:
            output.append({"type": {"text": "outcome"}, "valueString": row.outcome})
        fields["output"] = output or None
    return Task.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Task"),
            status=STATUS[row.status],
            intent="order",
            priority="urgent" if row.suicide_risk else "routine",
            description="Post-discharge follow-up by a person",
            focus=reference(ref, "Encounter", derived_id("Encounter", row.episode_id)),
            for_fhir=reference(ref, "Patient", row.patient_id),
            authoredOn=row.created_at,
            restriction={"period": {"end": row.due_at}},
            **fields,
        )
    )
