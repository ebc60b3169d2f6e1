"""Communication (UKCore-Communication) per SMS with the patient, both ways.

Texts to the patient: sender none (the ward is not a resource here), recipient the Patient,
status from the outbox (delivered → completed; queued → preparation; sending or sent, not
yet confirmed → in-progress; undelivered, failed or cancelled → not-done with the reason;
unknown → unknown). Texts from the patient: completed, sender the Patient, and
`inResponseTo` the check-in text they answered when they answered one."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.communication import Communication

from service.fhir.common import Record, Ref, meta, reference

PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
CONTACT_METHOD = "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod"
# v3 ParticipationMode has no SMS code: electronic, with UK Core's own "SMS" beside it.
SMS = {
    "coding": [
        {"system": PARTICIPATION_MODE, "code": "ELECTRONIC", "display": "electronic data"},
        {"system": CONTACT_METHOD, "code": "9", "display": "SMS"},
    ],
    "text": "SMS",
}
OUTBOUND_STATUS = {
    "queued": "preparation",
    "sending": "in-progress",
    "sent": "in-progress",
    "delivered": "completed",
    "undelivered": "not-done",
    "failed": "not-done",
    "cancelled": "not-done",
    "unknown": "unknown",
}


def outbound(row: Record, ref: Ref) -> Communication:
    fields: dict[str, Any] = {}
    if OUTBOUND_STATUS[row.status] == "not-done":
        fields["statusReason"] = {"text": row.status_reason or row.status}
    return Communication.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Communication", last_updated=row.updated_at),
            status=OUTBOUND_STATUS[row.status],
            category=[{"text": row.purpose}],
            medium=[SMS],
            subject=reference(ref, "Patient", row.patient_id),
            recipient=[reference(ref, "Patient", row.patient_id)],
            sent=row.sent_at,
            received=row.finished_at if row.status == "delivered" else None,
            payload=[{"contentString": row.body}],
            **fields,
        )
    )


def inbound(row: Record, ref: Ref, in_response_to: uuid.UUID | None) -> Communication:
    return Communication.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Communication"),
            status="completed",
            category=[{"text": row.kind}],
            medium=[SMS],
            subject=reference(ref, "Patient", row.patient_id),
            sender=reference(ref, "Patient", row.patient_id),
            inResponseTo=[reference(ref, "Communication", in_response_to)]
            if in_response_to
            else None,
            received=row.received_at,
            payload=[{"contentString": row.body}],
        )
    )
