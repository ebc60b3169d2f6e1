"""ServiceRequest and Task (UKCore-ServiceRequest, UKCore-Task) per referral, as in the
closed-loop referral pattern of the HL7 SDOH Clinical Care guide: the ServiceRequest is what
the ward asks for, the Task is the agency's handling of it (requested → accepted or rejected
with a reason → completed; cancelled when the ward withdraws it)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from service.fhir.common import Record, Ref, derived_id, meta, reference

# Homeward status -> ServiceRequest.status: the request stands while the agency has it
# (pending or accepted); a decline or a withdrawal revokes it (a referral names one agency,
# so a declined one is not re-routed); completed work completes it.
REQUEST_STATUS = {
    "pending": "active",
    "accepted": "active",
    "declined": "revoked",
    "withdrawn": "revoked",
    "completed": "completed",
}
# Homeward status -> Task.status (SDOH CC closed loop).
TASK_STATUS = {
    "pending": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "withdrawn": "cancelled",
    "completed": "completed",
}


def task_id(row: Record) -> str:
    return str(derived_id("Task", row.id))


def service_request(row: Record, ref: Ref) -> ServiceRequest:
    return ServiceRequest.model_validate(
        dict(
            id=str(row.id),
            meta=meta("ServiceRequest", last_updated=row.updated_at),
            status=REQUEST_STATUS[row.status],
            intent="order",
            subject=reference(ref, "Patient", row.patient_id),
            authoredOn=row.created_at,
            performer=[reference(ref, "Organization", row.agency_id)],
            reasonCode=[{"text": row.reason}],
            supportingInfo=[reference(ref, "Goal", row.goal_id)] if row.goal_id else None,
        )
    )


def task(row: Record, ref: Ref) -> Task:
    fields: dict[str, Any] = {}
    if row.status == "declined":
        fields["statusReason"] = {"text": row.decline_reason}
    if row.on_hold_since is not None:
        # The ward paused community work at a readmission; the Task keeps its status.
        fields["businessStatus"] = {"text": "On hold while the patient is back on the ward"}
    return Task.model_validate(
        dict(
            id=task_id(row),
            meta=meta("Task", last_updated=row.updated_at),
            status=TASK_STATUS[row.status],
            intent="order",
            code={
                "coding": [
                    {"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}
                ]
            },
            focus=reference(ref, "ServiceRequest", row.id),
            for_fhir=reference(ref, "Patient", row.patient_id),
            authoredOn=row.created_at,
            lastModified=row.responded_at or row.updated_at,
            owner=reference(ref, "Organization", row.agency_id),
            restriction={"period": {"end": row.respond_by}},
            **fields,
        )
    )
