"""EpisodeOfCare and Encounter (UKCore-EpisodeOfCare, UKCore-Encounter): one stay on the
ward, admission to discharge, as both: the episode for the care relationship, the encounter
for the inpatient stay with its discharge destination and readmission."""

from __future__ import annotations

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare

from service.fhir.common import Record, Ref, derived_id, homeward_code, meta, period, reference

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def episode_of_care(row: Record, ref: Ref) -> EpisodeOfCare:
    return EpisodeOfCare.model_validate(
        dict(
            id=str(row.id),
            meta=meta("EpisodeOfCare"),
            status="active" if row.discharged_at is None else "finished",
            patient=reference(ref, "Patient", row.patient_id),
            period=period(row.admitted_at, row.discharged_at),
        )
    )


def encounter_id(row: Record) -> str:
    return str(derived_id("Encounter", row.id))


def encounter(row: Record, ref: Ref) -> Encounter:
    hospitalization: dict[str, object] = {}
    if row.destination:
        hospitalization["dischargeDisposition"] = {"text": row.destination}
    if row.readmitted_within_30_days:
        hospitalization["reAdmission"] = homeward_code(
            "readmission", "within_30_days", "Readmitted within 30 days of the last discharge"
        )
    return Encounter.model_validate(
        dict(
            id=encounter_id(row),
            meta=meta("Encounter"),
            status="in-progress" if row.discharged_at is None else "finished",
            class_fhir={"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
            subject=reference(ref, "Patient", row.patient_id),
            episodeOfCare=[reference(ref, "EpisodeOfCare", row.id)],
            period=period(row.admitted_at, row.discharged_at),
            hospitalization=hospitalization or None,
        )
    )
