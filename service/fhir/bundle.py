"""One patient's record as a FHIR `collection` Bundle, for ward staff of the patient's ward.

Every reference is `urn:uuid:<id>`, each entry's `fullUrl` the same, so a reader resolves
them inside the Bundle. The read is audited once, naming every resource it handed over.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient
from service.fhir.common import TYPES, bundle_ref, meta
from service.fhir.sources import Source
from service.patient_access.staff import patient_for_staff_deferred, readable_patients
from service.principal import Principal

MEDIA_TYPE = "application/fhir+json"
ACTION = "patient.fhir_read"


async def patient_bundle(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    *,
    history: bool = False,
) -> bytes:
    """The Bundle's JSON. `history` adds the plan's earlier versions (same CarePlan id,
    older `meta.versionId`). Another ward's patient, or none, is a 404 (audited)."""
    _, event = await patient_for_staff_deferred(session, caller, patient_id, action=ACTION, now=now)
    # The same ward-staff rule every domain's readable_* statement starts from, narrowed.
    ids = readable_patients(caller).with_only_columns(Patient.id).where(Patient.id == patient_id)
    source = Source(ids, bundle_ref, now, history=history)
    resources: list[Resource] = []
    for kind in TYPES:
        if kind == "Questionnaire":
            continue  # added below: only those the responses answer
        resources += [r async for r in source.each(session, kind)]
    answered = {
        getattr(r, "questionnaire", None)
        for r in resources
        if r.get_resource_type() == "QuestionnaireResponse"
    }
    resources += [
        q
        async for q in source.each(session, "Questionnaire")
        if getattr(q, "url", None) in answered
    ]
    bundle = Bundle.model_validate(
        {
            "id": str(uuid.uuid4()),
            "meta": meta("Bundle"),
            "type": "collection",
            "timestamp": now,
            "entry": [
                {"fullUrl": bundle_ref(r.get_resource_type(), str(r.id)), "resource": r}
                for r in resources
            ],
        }
    )
    listed: dict[str, list[str]] = {}
    for r in resources:
        listed.setdefault(r.get_resource_type(), []).append(str(r.id))
    event.detail = {
        "format": "fhir_bundle",
        "history": history,
        "counts": {kind: len(v) for kind, v in listed.items()},
        "resources": listed,
    }
    session.add(event)
    return bundle.model_dump_json().encode()
