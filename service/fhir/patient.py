"""Patient (UKCore-Patient): NHS number, name, birth date, mobile, language."""

from __future__ import annotations

from fhir.resources.R4B.patient import Patient

from service.fhir.common import NHS_NUMBER_SYSTEM, Record, meta


def build(row: Record) -> Patient:
    telecom = []
    if row.mobile:
        # Stored E.164 (db CHECK), so it is the value as it stands.
        telecom.append({"system": "phone", "value": row.mobile, "use": "mobile"})
    return Patient.model_validate(
        dict(
            id=str(row.id),
            meta=meta("Patient", last_updated=row.updated_at),
            identifier=[{"system": NHS_NUMBER_SYSTEM, "value": row.nhs_number}],
            active=row.status != "closed",
            name=[{"use": "official", "family": row.family_name, "given": [row.given_name]}],
            birthDate=row.date_of_birth,
            telecom=telecom or None,
            communication=[
                {
                    # The patient's language is a BCP 47 tag (UK Core binds all-languages).
                    "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": row.language}]},
                    "preferred": True,
                }
            ],
        )
    )
