"""Least privilege for agency workers: referral open AND consent in force, else 404 (audited)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api_tests import builders
from db.models import AuditEvent, Consent, SupportAction
from service.agencies.visibility import project_patient
from service.errors import NotFound
from service.patient_access.agencies import agency_scope, patient_for_agency
from service.principal import Principal

CONTACT_FIELDS = {
    "id",
    "scope",
    "given_name",
    "family_name",
    "mobile",
    "key_worker_id",
    "key_worker_name",
}


async def _setup(client, db, clock, *, consent_scope="contact_details", referral_status="pending"):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id, full_name="Kim Keyworker")
    patient = await builders.patient(db, ward.id, key_worker_id=nurse.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    referral = await builders.referral(
        db, patient.id, agency.id, nurse.id, at=clock.now(), status=referral_status
    )
    consent = None
    if consent_scope:
        consent = await builders.consent(
            db,
            patient.id,
            agency.id,
            nurse.id,
            scope=consent_scope,
            given_at=clock.now() - timedelta(days=1),
            expires_in=timedelta(days=31),
        )
    return {
        "ward": ward,
        "nurse": nurse,
        "patient": patient,
        "agency": agency,
        "worker": worker,
        "referral": referral,
        "consent": consent,
        "ward_h": builders.bearer(client.app, nurse),
        "agency_h": builders.bearer(client.app, worker),
    }


def _actions_url(patient_id):
    return f"/api/v1/patients/{patient_id}/support-actions"


async def _sees(client, s):
    """Whether the worker sees the patient, asked three ways that must agree."""
    listed = (await client.get("/api/v1/agency/patients", headers=s["agency_h"])).json()
    in_list = [p["id"] for p in listed["items"]] == [str(s["patient"].id)]
    read = await client.get(_actions_url(s["patient"].id), headers=s["agency_h"])
    write = await client.post(
        _actions_url(s["patient"].id), json={"kind": "phone_call"}, headers=s["agency_h"]
    )
    assert read.status_code in (200, 404) and write.status_code in (201, 404)
    assert in_list == (read.status_code == 200) == (write.status_code == 201), (
        in_list,
        read.status_code,
        write.status_code,
    )
    return in_list


async def test_referral_and_consent_in_force_make_the_patient_visible_with_contact_fields(
    client, db, clock
):
    s = await _setup(client, db, clock)

    listed = await client.get("/api/v1/agency/patients", headers=s["agency_h"])

    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert set(item) == CONTACT_FIELDS
    assert item["scope"] == "contact_details"
    assert item["given_name"] == s["patient"].given_name
    assert item["mobile"] == s["patient"].mobile
    assert item["key_worker_id"] == str(s["nurse"].id)
    assert item["key_worker_name"] == "Kim Keyworker"
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.actor_id == s["worker"].id, AuditEvent.action == "patient.list"
        )
    )
    assert (event.patient_id, event.outcome, event.detail) == (
        s["patient"].id,
        "allowed",
        {"scope": "contact_details"},
    )


async def test_no_consent_means_no_patient_and_an_audited_404(client, db, clock):
    s = await _setup(client, db, clock, consent_scope=None)

    assert await _sees(client, s) is False

    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == s["worker"].id, AuditEvent.outcome == "denied"
            )
        )
    ).all()
    assert {e.action for e in denied} == {"support_action.list", "support_action.create"}
    assert {e.patient_id for e in denied} == {s["patient"].id}
    assert await db.scalar(select(func.count()).select_from(SupportAction)) == 0


async def test_consent_without_an_open_referral_shows_nothing(client, db, clock):
    for status in ("declined", "withdrawn", "completed"):
        s = await _setup(client, db, clock, referral_status=status)
        assert await _sees(client, s) is False, status


async def test_an_accepted_referral_keeps_the_patient_visible(client, db, clock):
    s = await _setup(client, db, clock, referral_status="accepted")
    assert await _sees(client, s) is True


async def test_withdrawal_takes_effect_on_the_next_request_with_the_same_token(client, db, clock):
    s = await _setup(client, db, clock)
    assert await _sees(client, s) is True

    withdrawn = await client.post(
        f"/api/v1/patients/{s['patient'].id}/consents/{s['consent'].id}/withdraw",
        headers=s["ward_h"],
    )

    assert withdrawn.status_code == 200
    assert await _sees(client, s) is False


async def test_expiry_takes_effect_without_anyone_acting(client, db, clock):
    s = await _setup(client, db, clock)  # consent expires 30 days from now
    clock.advance(timedelta(days=30) - timedelta(seconds=1))
    assert await _sees(client, s) is True

    clock.advance(timedelta(seconds=1))

    assert await _sees(client, s) is False


async def test_withdrawing_the_referral_or_deactivating_the_agency_closes_the_view(
    client, db, clock
):
    s = await _setup(client, db, clock)
    await client.post(f"/api/v1/referrals/{s['referral'].id}/withdraw", headers=s["ward_h"])
    assert await _sees(client, s) is False

    t = await _setup(client, db, clock)
    admin = await builders.user(db, "admin")
    admin_h = builders.bearer(client.app, admin)
    await client.patch(
        f"/api/v1/agencies/{t['agency'].id}", json={"active": False}, headers=admin_h
    )
    assert await _sees(client, t) is False


async def test_a_consent_to_another_agency_does_not_help(client, db, clock):
    s = await _setup(client, db, clock, consent_scope=None)
    other = await builders.agency(db)
    await builders.consent(
        db, s["patient"].id, other.id, s["nurse"].id, given_at=clock.now() - timedelta(hours=1)
    )
    assert await _sees(client, s) is False


async def test_the_widest_scope_in_force_wins(client, db, clock, sessionmaker):
    s = await _setup(client, db, clock)
    await builders.consent(
        db,
        s["patient"].id,
        s["agency"].id,
        s["nurse"].id,
        scope="plan",
        given_at=clock.now() - timedelta(hours=1),
    )
    withdrawn_full = await builders.consent(
        db,
        s["patient"].id,
        s["agency"].id,
        s["nurse"].id,
        scope="full",
        given_at=clock.now() - timedelta(hours=1),
    )
    withdrawn_full.withdrawn_at = clock.now()
    withdrawn_full.withdrawn_by_id = s["nurse"].id
    await db.commit()
    caller = Principal(
        user_id=s["worker"].id, role="agency_worker", ward_id=None, agency_id=s["agency"].id
    )

    async with sessionmaker() as session:
        scope = await agency_scope(session, caller, s["patient"].id, clock.now())
        patient, read_scope = await patient_for_agency(
            session, caller, s["patient"].id, action="patient.read", now=clock.now()
        )
        await session.commit()

    assert scope == read_scope == "plan"
    assert patient.id == s["patient"].id
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "patient.read"))
    assert (event.outcome, event.detail) == ("allowed", {"scope": "plan"})
    listed = (await client.get("/api/v1/agency/patients", headers=s["agency_h"])).json()
    assert listed["items"][0]["scope"] == "plan"


async def test_patient_for_agency_refuses_ward_staff_and_unknown_patients(db, clock, client):
    s = await _setup(client, db, clock)
    nurse = Principal(
        user_id=s["nurse"].id, role="ward_staff", ward_id=s["ward"].id, agency_id=None
    )
    worker = Principal(
        user_id=s["worker"].id, role="agency_worker", ward_id=None, agency_id=s["agency"].id
    )
    for caller, patient_id in ((nurse, s["patient"].id), (worker, uuid.uuid4())):
        assert await agency_scope(db, caller, patient_id, clock.now()) is None
        with pytest.raises(NotFound) as raised:
            await patient_for_agency(db, caller, patient_id, action="patient.read", now=clock.now())
        assert [row.outcome for row in raised.value.keep_rows] == ["denied"]
    await db.rollback()


async def test_agency_patient_list_pages_and_shows_only_visible_patients(client, db, clock):
    s = await _setup(client, db, clock)
    for _ in range(2):
        extra = await builders.patient(db, s["ward"].id)
        await builders.referral(db, extra.id, s["agency"].id, s["nurse"].id, at=clock.now())
        await builders.consent(
            db, extra.id, s["agency"].id, s["nurse"].id, given_at=clock.now() - timedelta(days=1)
        )
    hidden = await builders.patient(db, s["ward"].id)  # no referral, no consent
    await builders.consent(
        db, hidden.id, s["agency"].id, s["nurse"].id, given_at=clock.now() - timedelta(days=1)
    )

    first = (await client.get("/api/v1/agency/patients?limit=2", headers=s["agency_h"])).json()
    second = (
        await client.get(
            f"/api/v1/agency/patients?limit=2&cursor={first['next_cursor']}",
            headers=s["agency_h"],
        )
    ).json()

    ids = [p["id"] for page in (first, second) for p in page["items"]]
    assert len(ids) == len(set(ids)) == 3
    assert str(hidden.id) not in ids
    assert second["next_cursor"] is None
    ward_try = await client.get("/api/v1/agency/patients", headers=s["ward_h"])
    assert ward_try.status_code == 403


# ---- support actions


async def test_agency_logs_a_support_action_and_sees_only_its_own(client, db, clock):
    s = await _setup(client, db, clock)
    other = await builders.agency(db)
    other_worker = await builders.user(db, "agency_worker", agency_id=other.id)
    await builders.referral(db, s["patient"].id, other.id, s["nurse"].id, at=clock.now())
    await builders.consent(
        db, s["patient"].id, other.id, s["nurse"].id, given_at=clock.now() - timedelta(days=1)
    )
    other_h = builders.bearer(client.app, other_worker)

    mine = await client.post(
        _actions_url(s["patient"].id),
        json={
            "kind": "housing_secured",
            "occurred_at": (clock.now() - timedelta(hours=1)).isoformat(),
            "note": "Keys handed over",
        },
        headers=s["agency_h"],
    )
    theirs = await client.post(
        _actions_url(s["patient"].id), json={"kind": "peer_session"}, headers=other_h
    )

    assert mine.status_code == 201, mine.text
    body = mine.json()
    assert body == {
        "id": body["id"],
        "patient_id": str(s["patient"].id),
        "agency_id": str(s["agency"].id),
        "kind": "housing_secured",
        "occurred_at": "2026-12-01T08:00:00Z",
        "note": "Keys handed over",
        "recorded_by": str(s["worker"].id),
    }
    assert theirs.json()["occurred_at"] == "2026-12-01T09:00:00Z"
    seen_by_agency = (await client.get(_actions_url(s["patient"].id), headers=s["agency_h"])).json()
    seen_by_ward = (await client.get(_actions_url(s["patient"].id), headers=s["ward_h"])).json()
    assert [a["id"] for a in seen_by_agency["items"]] == [body["id"]]
    assert [a["id"] for a in seen_by_ward["items"]] == [theirs.json()["id"], body["id"]]


async def test_agency_cannot_set_agency_id_or_status_and_nothing_changes(client, db, clock):
    s = await _setup(client, db, clock)
    other = await builders.agency(db)
    bodies = [
        {"kind": "visit", "agency_id": str(other.id)},
        {"kind": "visit", "agency_id": str(s["agency"].id)},
        {"kind": "visit", "status": "completed"},
        {"kind": "teleport"},
        {"kind": "visit", "occurred_at": (clock.now() + timedelta(minutes=5)).isoformat()},
    ]
    for payload in bodies:
        response = await client.post(
            _actions_url(s["patient"].id), json=payload, headers=s["agency_h"]
        )
        assert response.status_code == 422, (payload, response.text)
    accept = await client.post(
        f"/api/v1/referrals/{s['referral'].id}/accept",
        json={"status": "completed"},
        headers=s["agency_h"],
    )
    assert accept.status_code == 422
    await db.refresh(s["referral"])
    assert s["referral"].status == "pending"
    assert await db.scalar(select(func.count()).select_from(SupportAction)) == 0
    assert await db.scalar(select(func.count()).select_from(Consent)) == 1


# ---- projection


def test_project_patient_keeps_only_the_fields_of_the_scope():
    agency_id = uuid.uuid4()
    patient = {
        "id": "p1",
        "given_name": "Sam",
        "family_name": "Hill",
        "mobile": "+447700900123",
        "key_worker_id": "k1",
        "key_worker_name": "Kim",
        "nhs_number": "9434765919",
        "date_of_birth": "1980-01-01",
        "ward_id": "w1",
        "goals": [
            {"id": "g1", "owner_agency_id": str(agency_id)},
            {"id": "g2", "owner_agency_id": str(uuid.uuid4())},
            {"id": "g3", "owner_agency_id": None},
        ],
        "relapse_prevention_plan": {
            "early_warning_signs": ["not sleeping"],
            "crisis_contacts": [{"name": "Jo", "relationship": "sister", "phone": "+447700900124"}],
        },
        "check_ins": [{"id": "c1", "score": 4}],
    }
    contact = project_patient(patient, "contact_details", agency_id=agency_id)
    plan = project_patient(patient, "plan", agency_id=agency_id)
    full = project_patient(patient, "full", agency_id=agency_id)

    base = {"id", "given_name", "family_name", "mobile", "key_worker_id", "key_worker_name"}
    assert set(contact) == base
    assert set(plan) == base | {"goals", "crisis_contacts"}
    assert [g["id"] for g in plan["goals"]] == ["g1"]
    assert plan["crisis_contacts"][0]["name"] == "Jo"
    assert set(full) == base | {"goals", "crisis_contacts", "relapse_prevention_plan", "check_ins"}
    assert [g["id"] for g in full["goals"]] == ["g1"]
    assert project_patient(patient, "everything") == {}  # type: ignore[arg-type]
    assert project_patient({"id": "p1", "goals": patient["goals"]}, "plan")["goals"] == []
