from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from api_tests import builders
from db.models import AuditEvent, Consent


async def _setup(client, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    agency = await builders.agency(db)
    return ward, patient, agency, nurse, builders.bearer(client.app, nurse)


def _url(patient_id, *rest):
    return "/".join([f"/api/v1/patients/{patient_id}/consents", *map(str, rest)])


async def test_staff_record_a_consent_in_force_from_now_and_list_it(client, db, clock):
    _, patient, agency, nurse, headers = await _setup(client, db)
    expires = clock.now() + timedelta(days=180)

    created = await client.post(
        _url(patient.id),
        json={"agency_id": str(agency.id), "scope": "plan", "expires_at": expires.isoformat()},
        headers=headers,
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "id": body["id"],
        "patient_id": str(patient.id),
        "agency_id": str(agency.id),
        "scope": "plan",
        "given_at": "2026-12-01T09:00:00Z",
        "expires_at": "2027-05-30T09:00:00Z",
        "withdrawn_at": None,
        "in_force": True,
    }
    listed = (await client.get(_url(patient.id), headers=headers)).json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]
    assert listed["next_cursor"] is None
    row = await db.get(Consent, uuid.UUID(body["id"]))
    assert row.recorded_by_id == nurse.id
    actions = set(
        await db.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == patient.id))
    )
    assert {"consent.create", "consent.list"} <= actions


async def test_consent_dates_and_agency_are_checked(client, db, clock):
    _, patient, agency, _, headers = await _setup(client, db)
    inactive = await builders.agency(db, active=False)
    now = clock.now()
    cases = [
        ({"given_at": (now + timedelta(minutes=1)).isoformat()}, "given_at"),
        (
            {
                "given_at": (now - timedelta(days=2)).isoformat(),
                "expires_at": (now - timedelta(days=3)).isoformat(),
            },
            "expires_at",
        ),
        (
            {
                "given_at": (now - timedelta(days=2)).isoformat(),
                "expires_at": (now - timedelta(days=1)).isoformat(),
            },
            "expires_at",
        ),
        ({"agency_id": str(uuid.uuid4())}, "agency_id"),
        ({"agency_id": str(inactive.id)}, "agency_id"),
        ({"scope": "everything"}, "scope"),
        ({"given_at": "2026-11-30T09:00:00"}, "given_at"),  # no offset
    ]
    for extra, field in cases:
        payload = {"agency_id": str(agency.id), "scope": "full", **extra}
        response = await client.post(_url(patient.id), json=payload, headers=headers)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["errors"][0]["field"].endswith(field), response.json()
    assert await db.scalar(select(func.count()).select_from(Consent)) == 0


async def test_withdrawing_sets_withdrawn_at_and_twice_is_a_conflict(client, db, clock):
    _, patient, agency, nurse, headers = await _setup(client, db)
    created = (
        await client.post(
            _url(patient.id),
            json={"agency_id": str(agency.id), "scope": "contact_details"},
            headers=headers,
        )
    ).json()
    clock.advance(timedelta(hours=2))

    withdrawn = await client.post(_url(patient.id, created["id"], "withdraw"), headers=headers)
    again = await client.post(_url(patient.id, created["id"], "withdraw"), headers=headers)

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_at"] == "2026-12-01T11:00:00Z"
    assert withdrawn.json()["in_force"] is False
    assert again.status_code == 409
    row = await db.get(Consent, uuid.UUID(created["id"]))
    await db.refresh(row)
    assert row.withdrawn_by_id == nurse.id


async def test_consent_of_another_patient_cannot_be_withdrawn_through_this_one(client, db, clock):
    ward, patient, agency, nurse, headers = await _setup(client, db)
    other_patient = await builders.patient(db, ward.id)
    consent = await builders.consent(
        db, other_patient.id, agency.id, nurse.id, given_at=clock.now() - timedelta(days=1)
    )

    response = await client.post(_url(patient.id, consent.id, "withdraw"), headers=headers)

    assert response.status_code == 404
    await db.refresh(consent)
    assert consent.withdrawn_at is None


async def test_staff_of_another_ward_get_an_audited_404_and_agencies_a_403(client, db):
    _, patient, agency, _, _ = await _setup(client, db)
    elsewhere = await builders.ward(db)
    stranger = await builders.user(db, "ward_staff", ward_id=elsewhere.id)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    stranger_headers = builders.bearer(client.app, stranger)
    worker_headers = builders.bearer(client.app, worker)
    payload = {"agency_id": str(agency.id), "scope": "full"}

    denied = await client.post(_url(patient.id), json=payload, headers=stranger_headers)
    absent = await client.post(_url(uuid.uuid4()), json=payload, headers=stranger_headers)
    agency_try = await client.get(_url(patient.id), headers=worker_headers)

    assert denied.status_code == absent.status_code == 404
    assert denied.json()["detail"] == absent.json()["detail"]
    assert agency_try.status_code == 403
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.actor_id == stranger.id, AuditEvent.patient_id == patient.id
        )
    )
    assert (event.action, event.outcome) == ("consent.create", "denied")
    assert await db.scalar(select(func.count()).select_from(Consent)) == 0
