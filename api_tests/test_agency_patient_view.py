"""Agency workers on patient routes: the consent scope in force decides the fields, per request.

Also: referrals for a goal must name a goal of the referred patient, and a readmission puts
the patient's open agency work on hold until the next discharge.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from api_tests import builders
from db.models import AuditEvent, Referral, ReferralStatusChange

PATIENTS = "/api/v1/patients"
CONTACT_FIELDS = {
    "id",
    "scope",
    "given_name",
    "family_name",
    "mobile",
    "key_worker_id",
    "key_worker_name",
}
PLAN_FIELDS = CONTACT_FIELDS | {"goals", "crisis_contacts"}
FULL_FIELDS = PLAN_FIELDS | {"relapse_prevention_plan"}
# The notes a readmission and the next discharge put on the patient's open referrals.
PAUSE_NOTE = (
    "On hold: the ward has paused community work with this patient. "
    "Please wait for the ward before further contact."
)
RESUME_NOTE = "Resumed: the ward has resumed community work with this patient."


async def _setup(client, db, clock, app, *, scope="contact_details", expires_in=None):
    """A patient referred to `agency` with a consent of `scope`; goals owned by the agency,
    by another agency and by nobody; two plan versions."""
    now = clock.now()
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id, full_name="Kim Keyworker")
    patient = await builders.patient(db, ward.id, key_worker_id=nurse.id)
    agency = await builders.agency(db)
    other_agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    referral = await builders.referral(db, patient.id, agency.id, nurse.id, at=now)
    consent = await builders.consent(
        db,
        patient.id,
        agency.id,
        nurse.id,
        scope=scope,
        given_at=now - timedelta(days=1),
        expires_in=expires_in,
    )
    own_goal = await builders.goal(db, patient.id, at=now, owner_agency_id=agency.id)
    their_goal = await builders.goal(db, patient.id, at=now, owner_agency_id=other_agency.id)
    ward_goal = await builders.goal(db, patient.id, at=now)
    await builders.plan(
        db,
        patient.id,
        at=now - timedelta(days=3),
        crisis_contacts=[
            {"name": "Old Contact", "relationship": "friend", "phone": "+447911000001"}
        ],
    )
    await builders.plan(db, patient.id, at=now - timedelta(days=2), version=2)
    return {
        "ward": ward,
        "nurse": nurse,
        "patient": patient,
        "agency": agency,
        "worker": worker,
        "referral": referral,
        "consent": consent,
        "own_goal": own_goal,
        "their_goal": their_goal,
        "ward_goal": ward_goal,
        "ward_h": builders.bearer(app, nurse),
        "agency_h": builders.bearer(app, worker),
    }


async def _read(client, s):
    return await client.get(f"{PATIENTS}/{s['patient'].id}", headers=s["agency_h"])


async def _denials(db, worker_id, action):
    return (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == worker_id,
                AuditEvent.action == action,
                AuditEvent.outcome == "denied",
            )
        )
    ).all()


# ---- GET /api/v1/patients/{id} as an agency worker


async def test_contact_details_scope_shows_name_mobile_and_key_worker_only(client, db, clock, app):
    s = await _setup(client, db, clock, app)

    response = await _read(client, s)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == CONTACT_FIELDS
    assert body == {
        "id": str(s["patient"].id),
        "scope": "contact_details",
        "given_name": s["patient"].given_name,
        "family_name": s["patient"].family_name,
        "mobile": s["patient"].mobile,
        "key_worker_id": str(s["nurse"].id),
        "key_worker_name": "Kim Keyworker",
    }
    assert s["patient"].nhs_number not in response.text
    assert "1980-01-01" not in response.text  # date of birth
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.actor_id == s["worker"].id, AuditEvent.action == "patient.read"
        )
    )
    assert (event.outcome, event.patient_id, event.detail) == (
        "allowed",
        s["patient"].id,
        {"scope": "contact_details"},
    )


async def test_contact_details_scope_does_not_see_goals_and_the_attempt_is_audited(
    client, db, clock, app
):
    s = await _setup(client, db, clock, app)
    goals = f"{PATIENTS}/{s['patient'].id}/goals"

    listed = await client.get(goals, headers=s["agency_h"])
    own = await client.get(f"{goals}/{s['own_goal'].id}", headers=s["agency_h"])

    assert (listed.status_code, own.status_code) == (404, 404)
    assert str(s["own_goal"].id) not in listed.text + own.text
    [list_denial] = await _denials(db, s["worker"].id, "goal.list")
    [read_denial] = await _denials(db, s["worker"].id, "goal.read")
    assert list_denial.detail == read_denial.detail == {"scope": "contact_details"}
    assert (read_denial.object_type, read_denial.object_id) == ("goal", str(s["own_goal"].id))


async def test_plan_scope_adds_own_goals_and_the_current_plans_crisis_contacts(
    client, db, clock, app
):
    s = await _setup(client, db, clock, app, scope="plan")

    body = (await _read(client, s)).json()

    assert set(body) == PLAN_FIELDS
    assert body["scope"] == "plan"
    assert [g["id"] for g in body["goals"]] == [str(s["own_goal"].id)]
    assert body["goals"][0]["owner_agency_id"] == str(s["agency"].id)
    # Version 2 is in force; version 1's contact is history.
    assert body["crisis_contacts"] == [
        {"name": "Jo Hill", "relationship": "sister", "phone": "+447911123457"}
    ]
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.actor_id == s["worker"].id, AuditEvent.action == "patient.read"
        )
    )
    assert event.detail == {
        "scope": "plan",
        "goal_ids": [str(s["own_goal"].id)],
        "plan_version": 2,
    }


async def test_plan_scope_lists_and_reads_only_the_agencys_own_goals(client, db, clock, app):
    s = await _setup(client, db, clock, app, scope="plan")
    goals = f"{PATIENTS}/{s['patient'].id}/goals"

    listed = await client.get(goals, headers=s["agency_h"])
    own = await client.get(f"{goals}/{s['own_goal'].id}", headers=s["agency_h"])
    theirs = await client.get(f"{goals}/{s['their_goal'].id}", headers=s["agency_h"])
    nobodys = await client.get(f"{goals}/{s['ward_goal'].id}", headers=s["agency_h"])
    ward_sees = await client.get(goals, headers=s["ward_h"])

    assert listed.status_code == 200
    assert [g["id"] for g in listed.json()["items"]] == [str(s["own_goal"].id)]
    assert own.status_code == 200
    assert own.json()["status_history"][0]["to"] == "active"
    assert (theirs.status_code, nobodys.status_code) == (404, 404)
    assert len(ward_sees.json()["items"]) == 3
    denied = await _denials(db, s["worker"].id, "goal.read")
    assert {e.object_id for e in denied} == {str(s["their_goal"].id), str(s["ward_goal"].id)}


async def test_agency_workers_cannot_create_or_change_goals(client, db, clock, app):
    s = await _setup(client, db, clock, app, scope="full")
    goals = f"{PATIENTS}/{s['patient'].id}/goals"

    created = await client.post(
        goals, json={"domain": "housing", "description": "x"}, headers=s["agency_h"]
    )
    changed = await client.patch(
        f"{goals}/{s['own_goal'].id}", json={"status": "achieved"}, headers=s["agency_h"]
    )

    assert (created.status_code, changed.status_code) == (403, 403)
    await db.refresh(s["own_goal"])
    assert s["own_goal"].status == "active"


async def test_full_scope_adds_the_current_relapse_prevention_plan(client, db, clock, app):
    s = await _setup(client, db, clock, app, scope="full")

    body = (await _read(client, s)).json()

    assert set(body) == FULL_FIELDS
    plan = body["relapse_prevention_plan"]
    assert (plan["version"], plan["early_warning_signs"]) == (2, ["Not sleeping"])
    assert plan["crisis_contacts"] == body["crisis_contacts"]
    assert [g["id"] for g in body["goals"]] == [str(s["own_goal"].id)]
    assert "nhs_number" not in body and "date_of_birth" not in body


async def test_without_a_plan_crisis_contacts_are_empty_and_the_plan_null(client, db, clock, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    await builders.referral(db, patient.id, agency.id, nurse.id, at=clock.now())
    await builders.consent(db, patient.id, agency.id, nurse.id, scope="full", given_at=clock.now())

    body = (
        await client.get(f"{PATIENTS}/{patient.id}", headers=builders.bearer(app, worker))
    ).json()

    assert (body["goals"], body["crisis_contacts"], body["relapse_prevention_plan"]) == (
        [],
        [],
        None,
    )
    assert body["key_worker_id"] is None and body["key_worker_name"] is None


async def test_scope_narrows_on_withdrawal_and_closes_on_expiry_at_the_next_request(
    client, db, clock, app
):
    # A contact_details consent for 30 days, and a full consent on top of it.
    s = await _setup(client, db, clock, app, expires_in=timedelta(days=31))
    full = await builders.consent(
        db,
        s["patient"].id,
        s["agency"].id,
        s["nurse"].id,
        scope="full",
        given_at=clock.now() - timedelta(hours=1),
    )
    goals = f"{PATIENTS}/{s['patient'].id}/goals"
    assert (await _read(client, s)).json()["scope"] == "full"
    assert (await client.get(goals, headers=s["agency_h"])).status_code == 200

    withdrawn = await client.post(
        f"{PATIENTS}/{s['patient'].id}/consents/{full.id}/withdraw", headers=s["ward_h"]
    )
    assert withdrawn.status_code == 200

    # Same token, next request: only the contact details are left.
    narrowed = (await _read(client, s)).json()
    assert (narrowed["scope"], set(narrowed)) == ("contact_details", CONTACT_FIELDS)
    assert (await client.get(goals, headers=s["agency_h"])).status_code == 404

    clock.advance(timedelta(days=30))  # the contact_details consent expires (given a day ago)
    gone = await _read(client, s)
    assert gone.status_code == 404
    assert gone.json()["detail"] == "No such patient."
    [denial] = await _denials(db, s["worker"].id, "patient.read")
    assert denial.patient_id == s["patient"].id


async def test_agency_patient_list_carries_each_patients_scope_fields(client, db, clock, app):
    s = await _setup(client, db, clock, app, scope="plan")
    second = await builders.patient(db, s["ward"].id)
    await builders.referral(db, second.id, s["agency"].id, s["nurse"].id, at=clock.now())
    await builders.consent(
        db,
        second.id,
        s["agency"].id,
        s["nurse"].id,
        scope="contact_details",
        given_at=clock.now() - timedelta(days=1),
    )

    listed = await client.get("/api/v1/agency/patients", headers=s["agency_h"])

    assert listed.status_code == 200
    first, other = listed.json()["items"]
    assert (first["id"], first["scope"], set(first)) == (str(s["patient"].id), "plan", PLAN_FIELDS)
    assert [g["id"] for g in first["goals"]] == [str(s["own_goal"].id)]
    assert [c["name"] for c in first["crisis_contacts"]] == ["Jo Hill"]
    assert (other["id"], other["scope"], set(other)) == (
        str(second.id),
        "contact_details",
        CONTACT_FIELDS,
    )
    events = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_id == s["worker"].id, AuditEvent.action == "patient.list")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [e.detail for e in events] == [
        {"scope": "plan", "goal_ids": [str(s["own_goal"].id)], "plan_version": 2},
        {"scope": "contact_details"},
    ]


# ---- referrals for a goal


async def test_a_referral_goal_must_belong_to_the_referred_patient(client, db, clock, app):
    s = await _setup(client, db, clock, app)
    someone_else = await builders.patient(db, s["ward"].id)
    foreign_goal = await builders.goal(db, someone_else.id, at=clock.now())
    other_agency = await builders.agency(db)

    async def refer(goal_id):
        return await client.post(
            "/api/v1/referrals",
            json={
                "patient_id": str(s["patient"].id),
                "agency_id": str(other_agency.id),
                "reason": "Tenancy support",
                "goal_id": goal_id,
                # No consent to share with this agency yet: recorded with the referral.
                "consent": {"scope": "plan"},
            },
            headers=s["ward_h"],
        )

    before = await db.scalar(select(func.count()).select_from(Referral))
    for goal_id in (str(foreign_goal.id), str(uuid.uuid4())):
        refused = await refer(goal_id)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {"field": "goal_id", "message": "does not name a goal of this patient"}
        ]
        assert goal_id not in refused.text
    assert await db.scalar(select(func.count()).select_from(Referral)) == before

    accepted = await refer(str(s["ward_goal"].id))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["goal_id"] == str(s["ward_goal"].id)


# ---- readmission puts open agency work on hold


async def _notes(db, referral_id):
    rows = (
        await db.scalars(
            select(ReferralStatusChange)
            .where(ReferralStatusChange.referral_id == referral_id)
            .order_by(ReferralStatusChange.id)
        )
    ).all()
    return [(r.from_status, r.to_status, r.reason) for r in rows]


async def test_readmission_puts_open_referrals_on_hold_and_discharge_resumes_them(
    client, db, clock, app
):
    s = await _setup(client, db, clock, app, scope="full")
    patient_id = s["patient"].id
    accepted = await builders.referral(
        db,
        patient_id,
        (await builders.agency(db)).id,
        s["nurse"].id,
        at=clock.now(),
        status="accepted",
    )
    declined = await builders.referral(
        db,
        patient_id,
        (await builders.agency(db)).id,
        s["nurse"].id,
        at=clock.now(),
        status="declined",
    )
    first_discharge = await client.post(
        f"{PATIENTS}/{patient_id}/discharge",
        json={"discharged_at": clock.now().isoformat(), "suicide_risk": False},
        headers=s["ward_h"],
    )
    assert first_discharge.status_code == 200, first_discharge.text
    # Nothing was on hold: the discharge adds no note.
    assert await _notes(db, s["referral"].id) == [(None, "pending", None)]

    clock.advance(timedelta(days=10))
    readmitted = await client.post(
        f"{PATIENTS}/{patient_id}/admissions",
        json={"admitted_at": clock.now().isoformat()},
        headers=s["ward_h"],
    )

    assert readmitted.status_code == 201, readmitted.text
    assert await _notes(db, s["referral"].id) == [
        (None, "pending", None),
        ("pending", "pending", PAUSE_NOTE),
    ]
    assert (await _notes(db, accepted.id))[-1] == ("accepted", "accepted", PAUSE_NOTE)
    assert await _notes(db, declined.id) == [(None, "declined", None)]
    for row in (s["referral"], accepted):
        await db.refresh(row)
    assert (s["referral"].status, accepted.status) == ("pending", "accepted")
    # The agency keeps its view (the consent decides it) and sees the note, which states
    # no clinical fact.
    assert (await _read(client, s)).status_code == 200
    seen = (await client.get(f"/api/v1/referrals/{s['referral'].id}", headers=s["agency_h"])).json()
    assert seen["history"][-1]["reason"] == PAUSE_NOTE
    assert "readmi" not in PAUSE_NOTE.lower()
    admit_event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "episode.admit"))
    assert admit_event.detail["readmitted_within_30_days"] is True
    assert set(admit_event.detail["paused_referral_ids"]) == {
        str(s["referral"].id),
        str(accepted.id),
    }

    # The agency accepts while the patient is on the ward: still on hold until discharge.
    clock.advance(timedelta(hours=1))
    assert (
        await client.post(f"/api/v1/referrals/{s['referral'].id}/accept", headers=s["agency_h"])
    ).status_code == 200
    clock.advance(timedelta(days=5))
    discharged = await client.post(
        f"{PATIENTS}/{patient_id}/discharge",
        json={"discharged_at": clock.now().isoformat(), "suicide_risk": True},
        headers=s["ward_h"],
    )

    assert discharged.status_code == 200, discharged.text
    assert await _notes(db, s["referral"].id) == [
        (None, "pending", None),
        ("pending", "pending", PAUSE_NOTE),
        ("pending", "accepted", None),
        ("accepted", "accepted", RESUME_NOTE),
    ]
    assert (await _notes(db, accepted.id))[-1] == ("accepted", "accepted", RESUME_NOTE)
    discharge_event = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "episode.discharge")
            .order_by(AuditEvent.id.desc())
        )
    ).first()
    assert set(discharge_event.detail["resumed_referral_ids"]) == {
        str(s["referral"].id),
        str(accepted.id),
    }
