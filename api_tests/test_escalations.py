"""Escalations: one per source, with a deadline from the ward's policy, a history, and an API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from db.models import AuditEvent, Escalation, EscalationEvent
from service.escalations.service import raise_escalation
from service.principal import SystemActor
from service.wards.schemas import AckMinutes, EscalationPolicy


async def _raise(session, patient, clock, **overrides):
    fields = {
        "patient_id": patient.id,
        "ward_id": patient.ward_id,
        "reason": "low_score",
        "severity": "routine",
        "source_type": "sms_inbound",
        "source_id": uuid.uuid4(),
        "now": clock.now(),
        "actor": SystemActor("test"),
    }
    fields.update(overrides)
    row = await raise_escalation(session, **fields)
    await session.commit()
    return row


async def test_raising_twice_from_one_source_returns_the_same_escalation(db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    source = uuid.uuid4()

    first = await _raise(db, patient, clock, source_id=source)
    clock.advance(timedelta(minutes=5))
    again = await _raise(db, patient, clock, source_id=source)

    assert again.id == first.id
    assert again.opened_at == first.opened_at
    events = (await db.scalars(select(EscalationEvent))).all()
    assert [e.kind for e in events] == ["opened", "notified"]


async def test_concurrent_raises_from_one_source_make_one_escalation(sessionmaker, db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    source = uuid.uuid4()

    async def raise_in_own_session():
        async with sessionmaker() as session:
            return (await _raise(session, patient, clock, source_id=source)).id

    ids = await asyncio.gather(raise_in_own_session(), raise_in_own_session())

    assert ids[0] == ids[1]
    assert len((await db.scalars(select(Escalation))).all()) == 1


@pytest.mark.parametrize(("severity", "minutes"), [("urgent", 10), ("routine", 120)])
async def test_the_acknowledge_deadline_comes_from_the_wards_policy(db, clock, severity, minutes):
    policy = EscalationPolicy(ack_minutes=AckMinutes(urgent=[10, 20, 40], routine=[120, 240, 480]))
    ward = await builders.ward(db, escalation_policy=policy)
    patient = await builders.home_patient(db, ward.id)

    row = await _raise(db, patient, clock, severity=severity)

    assert (row.level, row.status) == (1, "open")
    assert row.ack_due_at == clock.now() + timedelta(minutes=minutes)


async def test_unknown_reasons_are_a_programming_error(db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    with pytest.raises(ValueError, match="reason"):
        await _raise(db, patient, clock, reason="bored")


async def _nurse(client, db, ward):
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    return nurse, builders.bearer(client.app, nurse)


async def test_staff_list_filter_acknowledge_and_resolve(client, db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    other_patient = await builders.home_patient(db, ward.id)
    help_request = await _raise(db, patient, clock, reason="help_request", severity="urgent")
    clock.advance(timedelta(minutes=1))
    await _raise(db, other_patient, clock, reason="opted_out")
    nurse, headers = await _nurse(client, db, ward)

    listed = (await client.get("/api/v1/escalations", headers=headers)).json()
    assert [i["reason"] for i in listed["items"]] == ["opted_out", "help_request"]
    filtered = await client.get(
        f"/api/v1/escalations?patient_id={patient.id}&status=open&reason=help_request",
        headers=headers,
    )
    assert [i["id"] for i in filtered.json()["items"]] == [str(help_request.id)]

    url = f"/api/v1/escalations/{help_request.id}"
    acked = await client.post(f"{url}/acknowledge", headers=headers)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == (
        "acknowledged",
        str(nurse.id),
    )
    assert (await client.post(f"{url}/acknowledge", headers=headers)).status_code == 409

    no_note = await client.post(
        f"{url}/resolve",
        json={"resolution_outcome": "contacted_patient_safe", "resolution_note": "  "},
        headers=headers,
    )
    assert no_note.status_code == 422
    missing = await client.post(f"{url}/resolve", json={}, headers=headers)
    assert missing.status_code == 422
    resolved = await client.post(
        f"{url}/resolve",
        json={
            "resolution_outcome": "contacted_patient_safe",
            "resolution_note": "Phoned; safe at home.",
        },
        headers=headers,
    )
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolution_note"]) == (
        "resolved",
        "Phoned; safe at home.",
    )
    again = await client.post(
        f"{url}/resolve",
        json={"resolution_outcome": "other", "resolution_note": "x"},
        headers=headers,
    )
    assert again.status_code == 409

    detail = (await client.get(url, headers=headers)).json()
    assert [(e["kind"], e["to_status"]) for e in detail["events"]] == [
        ("opened", "open"),
        ("notified", "open"),
        ("acknowledged", "acknowledged"),
        ("resolved", "resolved"),
    ]
    actions = (
        await db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "escalation"))
    ).all()
    for action in ("escalation.raise", "escalation.list", "escalation.acknowledge"):
        assert action in actions
    assert "escalation.resolve" in actions and "escalation.read" in actions


async def test_an_open_escalation_can_be_resolved_directly(client, db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    row = await _raise(db, patient, clock)
    nurse, headers = await _nurse(client, db, ward)

    resolved = await client.post(
        f"/api/v1/escalations/{row.id}/resolve",
        json={
            "resolution_outcome": "contacted_patient_safe",
            "resolution_note": "Seen in clinic today.",
        },
        headers=headers,
    )

    assert resolved.status_code == 200
    assert resolved.json()["acknowledged_by"] == str(nurse.id)


async def test_other_wards_escalations_are_404_and_the_attempt_is_audited(client, db, clock):
    ward, other = await builders.ward(db), await builders.ward(db)
    patient = await builders.home_patient(db, other.id)
    row = await _raise(db, patient, clock)
    _, headers = await _nurse(client, db, ward)

    assert (await client.get(f"/api/v1/escalations/{row.id}", headers=headers)).status_code == 404
    ack = await client.post(f"/api/v1/escalations/{row.id}/acknowledge", headers=headers)
    assert ack.status_code == 404
    listed = await client.get("/api/v1/escalations", headers=headers)
    assert listed.json()["items"] == []

    denied = (await db.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied"))).all()
    assert {(e.action, e.patient_id) for e in denied} == {
        ("escalation.read", patient.id),
        ("escalation.acknowledge", patient.id),
    }
    assert (await db.get(Escalation, row.id, populate_existing=True)).status == "open"


async def test_agency_workers_and_admins_may_not_see_escalations(client, db):
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    admin = await builders.user(db, "admin")
    for who in (worker, admin):
        headers = builders.bearer(client.app, who)
        assert (await client.get("/api/v1/escalations", headers=headers)).status_code == 403


async def test_the_list_pages_with_a_cursor(client, db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    for _ in range(3):
        await _raise(db, patient, clock)
        clock.advance(timedelta(minutes=1))
    _, headers = await _nurse(client, db, ward)

    first = (await client.get("/api/v1/escalations?limit=2", headers=headers)).json()
    second = (
        await client.get(
            f"/api/v1/escalations?limit=2&cursor={first['next_cursor']}", headers=headers
        )
    ).json()

    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3
