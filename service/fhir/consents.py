"""Consent (UKCore-Consent): a consent to share with one agency. Given → active; withdrawn
or past its expiry → inactive. The agency is the provision's actor (information recipient),
the share scope (contact details, plan, full) the provision's code."""

from __future__ import annotations

from datetime import datetime

from fhir.resources.R4B.consent import Consent

from service.fhir.common import Record, Ref, homeward_code, meta, period, reference

SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"


def status(row: Record, now: datetime) -> str:
    if row.withdrawn_at is not None and row.withdrawn_at <= now:
        return "inactive"
    if row.expires_at is not None and row.expires_at <= now:
        return "inactive"
    return "active"


def build(row: Record, ref: Ref, now: datetime) -> Consent:
    ends = [t for t in (row.withdrawn_at, row.expires_at) if t is not None]
    return Consent.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Consent"),
            status=status(row, now),
            scope={"coding": [{"system": SCOPE, "code": "patient-privacy"}]},
            category=[
                {"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]}
            ],
            patient=reference(ref, "Patient", row.patient_id),
            dateTime=row.given_at,
            # ppc-1: a policy or a rule. An opt-in to share, in the v3 ActCode vocabulary.
            policyRule={"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
            provision={
                "type": "permit",
                "period": period(row.given_at, min(ends) if ends else None),
                "actor": [
                    {
                        "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                        "reference": reference(ref, "Organization", row.agency_id),
                    }
                ],
                "code": [homeward_code("consent-share-scope", row.scope)],
            },
        )
    )
