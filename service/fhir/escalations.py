"""Flag (UKCore-Flag) per escalation not yet resolved: its reason, level and deadline."""

from __future__ import annotations

from fhir.resources.R4B.flag import Flag

from service.fhir.common import Record, Ref, homeward_code, meta, period, reference

CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"


def build(row: Record, ref: Ref) -> Flag:
    return Flag.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Flag", last_updated=row.updated_at),
            # Open and acknowledged are both unresolved: the flag stands until resolved.
            status="active" if row.status != "resolved" else "inactive",
            category=[{"coding": [{"system": CATEGORY, "code": "clinical"}]}],
            code=homeward_code("escalation-reason", row.reason),
            subject=reference(ref, "Patient", row.patient_id),
            period=period(row.opened_at, row.resolved_at),
        )
    )
