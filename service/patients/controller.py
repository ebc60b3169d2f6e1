from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, patch, post, put
from litestar.params import FromQuery, JSONBody, QueryParameter

from service.agencies.schemas import AgencyPatientOut
from service.http.auth import AGENCY, WARD, roles
from service.http.params import DEFAULT_LIMIT, Caller, ClockDep, Cursor, Db, IdPath, Limit
from service.patients import episodes, service
from service.patients.schemas import (
    AdmissionIn,
    DischargeIn,
    EpisodeList,
    EpisodeOut,
    MonitoringFilter,
    PatientCreate,
    PatientList,
    PatientOut,
    PatientStatus,
    PatientUpdate,
    SuicideRiskIn,
)

NhsQuery = Annotated[
    str | None, QueryParameter(max_length=32, description="exact NHS number (10 digits)")
]
NameQuery = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=100,
        description="case-insensitive prefix of the family or given name",
    ),
]

MonitoringQuery = Annotated[
    MonitoringFilter | None,
    QueryParameter(
        description=(
            "`none`: patients at home who cannot be monitored by SMS (no consent, no mobile, "
            "opted out, a number the carrier refused), each with `monitoring_gap`; `sms`: "
            "patients at home whom check-ins reach"
        )
    ),
]

DischargedWithinQuery = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=90,
        description="patients at home discharged within this many days (e.g. 7)",
    ),
]
FollowUpQuery = Annotated[
    Literal["due"] | None,
    QueryParameter(
        description=(
            "`due`: patients whose post-discharge follow-up still waits for a human contact "
            "(pending or breached, not superseded by a readmission)"
        )
    ),
]


class PatientController(Controller):
    """Ward staff of the patient's ward; agency workers only read one patient, within the
    consent scope in force (they cannot list or search: their list is /api/v1/agency/patients)."""

    path = "/api/v1/patients"
    tags = ["patients"]
    opt = roles(WARD)

    @post("/", status_code=201, summary="Register a patient on your ward (opens the first stay)")
    async def create(
        self, data: JSONBody[PatientCreate], db: Db, caller: Caller, clock: ClockDep
    ) -> PatientOut:
        return service.to_out(await service.create_patient(db, caller, data, clock.now()))

    @get(
        "/",
        summary="List or search your ward's patients",
        description=(
            "Every item carries `monitoring_gap`: for a patient at home, why no check-in can "
            "reach them by SMS (null when one can, or they are not at home). "
            "`?monitoring=none` lists only those patients: nobody falls out of monitoring "
            "unseen."
        ),
    )
    async def list_(
        self,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        nhs_number: NhsQuery = None,
        name: NameQuery = None,
        status: FromQuery[PatientStatus | None] = None,
        monitoring: MonitoringQuery = None,
        discharged_within_days: DischargedWithinQuery = None,
        follow_up: FollowUpQuery = None,
    ) -> PatientList:
        items, next_cursor = await service.list_patients(
            db,
            caller,
            clock.now(),
            cursor,
            limit,
            nhs_number=nhs_number,
            name=name,
            status=status,
            monitoring=monitoring,
            discharged_within_days=discharged_within_days,
            follow_up=follow_up,
        )
        return PatientList(items=items, next_cursor=next_cursor)

    @get(
        "/{patient_id:uuid}",
        # Staff: one statement (the read and its audit row); agency workers: reads, then the
        # audit row; a refusal: a lookup, then the denied row. None needs the others undone.
        opt=roles(WARD, AGENCY, standalone=True),
        summary="Read a patient (agency workers: only their consent scope's fields)",
        description=(
            "Ward staff of the patient's ward get the whole record (`PatientOut`). An agency "
            "worker gets `AgencyPatientOut` while a `pending` or `accepted` referral to their "
            "agency AND a consent to share with it are in force, cut to the widest scope in "
            "force: `contact_details` (name, mobile, key worker), `plan` (+ `goals` owned by "
            "the agency, `crisis_contacts`), `full` (+ `relapse_prevention_plan`). Decided on "
            "every request: a withdrawal or expiry applies at once. Anyone else: 404, audited."
        ),
    )
    async def read(
        self, patient_id: IdPath, db: Db, caller: Caller, clock: ClockDep
    ) -> PatientOut | AgencyPatientOut:
        return await service.read_patient(db, caller, patient_id, clock.now())

    @patch("/{patient_id:uuid}", summary="Change a patient (status: only `closed`)")
    async def update(
        self,
        patient_id: IdPath,
        data: JSONBody[PatientUpdate],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> PatientOut:
        patient = await service.update_patient(db, caller, patient_id, data, clock.now())
        return service.to_out(patient)

    @post(
        "/{patient_id:uuid}/admissions",
        status_code=201,
        summary="Admit or readmit (409 while a stay is open)",
    )
    async def admit(
        self,
        patient_id: IdPath,
        data: JSONBody[AdmissionIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> EpisodeOut:
        episode = await episodes.admit(db, caller, patient_id, data.admitted_at, clock.now())
        return episodes.to_out(episode)

    @post(
        "/{patient_id:uuid}/discharge",
        status_code=200,
        summary="Discharge: ends the stay and starts the follow-up clock",
    )
    async def discharge(
        self,
        patient_id: IdPath,
        data: JSONBody[DischargeIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> EpisodeOut:
        episode = await episodes.discharge(db, caller, patient_id, data, clock.now())
        return episodes.to_out(episode)

    @put(
        "/{patient_id:uuid}/suicide-risk",
        status_code=200,
        summary="Record or clear suicide risk for the stay at home (the last discharge)",
        description=(
            "Sets `suicide_risk` on the patient's last discharged episode and answers it; "
            "audited as `patient.suicide_risk`. 409 while the patient is on the ward or was "
            "never discharged. Missed check-ins and low scores from now on take the new "
            "severity; recording risk also makes the patient's routine `no_reply`, "
            "`low_score` and `unread_reply` escalations still open or acknowledged urgent "
            "(history `severity_raised`, audited `escalation.severity`); clearing it lowers "
            "nothing. The follow-up already created keeps its due time."
        ),
    )
    async def record_suicide_risk(
        self,
        patient_id: IdPath,
        data: JSONBody[SuicideRiskIn],
        db: Db,
        caller: Caller,
        clock: ClockDep,
    ) -> EpisodeOut:
        episode = await episodes.record_suicide_risk(db, caller, patient_id, data, clock.now())
        return episodes.to_out(episode)

    @get("/{patient_id:uuid}/episodes", summary="A patient's stays, newest first")
    async def list_episodes(
        self,
        patient_id: IdPath,
        db: Db,
        caller: Caller,
        clock: ClockDep,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> EpisodeList:
        rows, next_cursor = await episodes.list_episodes(
            db, caller, patient_id, clock.now(), cursor, limit
        )
        return EpisodeList(items=[episodes.to_out(e) for e in rows], next_cursor=next_cursor)
