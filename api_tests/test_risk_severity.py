"""Suicide risk recorded for the stay at home makes a first miss and a score of 2 urgent."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from api_tests import builders
from api_tests.sms_helpers import (
    discharged_patient,
    escalations,
    fresh,
    inbound_params,
    post_signed,
)
from db.models import AuditEvent, Episode, Escalation, EscalationEvent
from service.escalations.service import raise_escalation


async def _at_risk(db, patient_id: uuid.UUID, risk: bool = True) -> None:
    await db.execute(
        update(Episode).where(Episode.patient_id == patient_id).values(suicide_risk=risk)
    )
    await db.commit()


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


async def _miss_first_check_in(worker, clock) -> None:
    # The first prompt goes at 24 h; its reply window closes a few hours later.
    await _tick(worker, clock, 24 * 60)
    await _tick(worker, clock, 120)
    await _tick(worker, clock, 120)


async def test_with_suicide_risk_the_first_miss_is_urgent(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    await _at_risk(db, patient.id)
    await _miss_first_check_in(sms_worker, clock)
    rows = await escalations(db, patient.id)
    assert [(e.reason, e.severity) for e in rows] == [("no_reply", "urgent")]


async def test_without_suicide_risk_the_first_miss_is_routine(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    await _at_risk(db, patient.id, risk=False)
    await _miss_first_check_in(sms_worker, clock)
    rows = await escalations(db, patient.id)
    assert [(e.reason, e.severity) for e in rows] == [("no_reply", "routine")]


async def _score_two(db, clock, sms_worker, sms_client, sms_settings, risk: bool) -> str:
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    await _at_risk(db, patient.id, risk=risk)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(minutes=10))
    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "2"),
        sms_settings.twilio_auth_token,
    )
    [escalation] = await escalations(db, patient.id)
    assert escalation.reason == "low_score"
    return escalation.severity


async def test_with_suicide_risk_a_score_of_two_is_urgent(
    sms_client, db, clock, sms_worker, sms_settings
):
    assert await _score_two(db, clock, sms_worker, sms_client, sms_settings, True) == "urgent"


async def test_without_suicide_risk_a_score_of_two_is_routine(
    sms_client, db, clock, sms_worker, sms_settings
):
    assert await _score_two(db, clock, sms_worker, sms_client, sms_settings, False) == "routine"


async def _put_risk(client, app, nurse, patient_id, body):
    return await client.put(
        f"/api/v1/patients/{patient_id}/suicide-risk",
        json=body,
        headers=builders.bearer(app, nurse),
    )


async def test_risk_recorded_after_discharge_makes_the_next_miss_urgent_and_clearing_it_routine(
    db, client, app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    await db.commit()
    recorded = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True, "note": "x"})
    assert recorded.status_code == 200
    assert recorded.json()["suicide_risk"] is True
    await _miss_first_check_in(sms_worker, clock)
    cleared = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": False})
    assert cleared.status_code == 200
    # The next day's check-in missed too: two in a row, no risk, so routine again.
    await _tick(sms_worker, clock, 20 * 60)
    await _tick(sms_worker, clock, 120)
    await _tick(sms_worker, clock, 120)
    rows = sorted(await escalations(db, patient.id), key=lambda e: e.opened_at)
    assert [(e.reason, e.severity) for e in rows] == [
        ("no_reply", "urgent"),
        ("no_reply", "routine"),
    ]


async def test_recording_risk_for_a_patient_on_the_ward_is_a_conflict(db, client, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    await db.commit()
    response = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_risk_body_without_suicide_risk_is_a_422(db, client, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    await db.commit()
    for body in ({}, {"suicide_risk": "yes"}, {"suicide_risk": True, "extra": 1}):
        response = await _put_risk(client, app, nurse, patient.id, body)
        assert response.status_code == 422, body


async def test_recording_risk_for_a_patient_never_discharged_is_a_conflict_and_changes_nothing(
    db, client, app
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    # Registered with no stay on record at all: no stay at home to mark.
    patient = await builders.patient(db, ward.id, admitted_at=None)
    await db.commit()
    response = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "never been discharged" in response.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(Episode)) == 0
    # Nothing was changed, so no change is on record.
    rows = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.suicide_risk", AuditEvent.patient_id == patient.id
            )
        )
    ).all()
    assert "allowed" not in [r.outcome for r in rows]


async def test_recording_risk_writes_an_audit_row_saying_who_what_and_the_note(
    db, client, app, clock
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    episode_id = await db.scalar(select(Episode.id).where(Episode.patient_id == patient.id))
    await db.commit()
    body = {"suicide_risk": True, "note": "  Said on the phone   they feel unsafe "}
    assert (await _put_risk(client, app, nurse, patient.id, body)).status_code == 200
    [row] = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.suicide_risk", AuditEvent.patient_id == patient.id
            )
        )
    ).all()
    assert (row.actor_id, row.actor_role, row.outcome) == (nurse.id, "ward_staff", "allowed")
    assert (row.ward_id, row.object_type, row.object_id) == (ward.id, "episode", str(episode_id))
    # Previously unknown (None): the episode builder records no risk either way.
    assert row.detail == {
        "suicide_risk": True,
        "previous": None,
        "note": "Said on the phone they feel unsafe",
    }
    assert row.occurred_at == clock.now()


async def test_risk_recorded_later_makes_open_routine_escalations_urgent_with_history_and_audit(
    db, client, app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    await db.commit()
    await _miss_first_check_in(sms_worker, clock)
    [no_reply] = await escalations(db, patient.id)
    assert (no_reply.reason, no_reply.severity, no_reply.status) == ("no_reply", "routine", "open")
    # A routine escalation whose severity does not follow risk is left alone.
    other = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=ward.id,
        reason="undeliverable",
        severity="routine",
        source_type="test",
        source_id=uuid.uuid4(),
        now=clock.now(),
    )
    await db.commit()
    clock.advance(timedelta(minutes=5))
    recorded_at = clock.now()
    response = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True})
    assert response.status_code == 200

    raised = await fresh(db, Escalation, no_reply.id)
    assert (raised.severity, raised.status, raised.level) == ("urgent", "open", 1)
    # The urgent level-1 deadline of the default policy (15 min) from now, not the routine
    # 4 h from when it was raised.
    assert raised.ack_due_at == recorded_at + timedelta(minutes=15)
    assert (await fresh(db, Escalation, other.id)).severity == "routine"
    [event] = (
        await db.scalars(
            select(EscalationEvent).where(
                EscalationEvent.escalation_id == no_reply.id,
                EscalationEvent.kind == "severity_raised",
            )
        )
    ).all()
    assert (event.actor_id, event.occurred_at, event.to_status) == (nurse.id, recorded_at, "open")
    [audit_row] = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action == "escalation.severity"))
    ).all()
    assert (audit_row.actor_id, audit_row.object_id, audit_row.patient_id) == (
        nurse.id,
        str(no_reply.id),
        patient.id,
    )
    assert audit_row.detail == {"from": "routine", "to": "urgent", "because": "suicide_risk"}
    [risk_row] = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action == "patient.suicide_risk"))
    ).all()
    assert risk_row.detail["escalations_made_urgent"] == [str(no_reply.id)]

    # Recording it again finds nothing routine left: no second event.
    assert (
        await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True})
    ).status_code == 200
    events = await db.scalar(
        select(func.count())
        .select_from(EscalationEvent)
        .where(EscalationEvent.kind == "severity_raised")
    )
    assert events == 1
    # Clearing risk lowers nothing already urgent.
    assert (
        await _put_risk(client, app, nurse, patient.id, {"suicide_risk": False})
    ).status_code == 200
    assert (await fresh(db, Escalation, no_reply.id)).severity == "urgent"


async def test_risk_recorded_later_makes_a_waiting_unread_reply_raise_urgent(
    db, sms_app, clock, sms_worker, sms_client, sms_settings
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    await db.commit()
    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "not sleeping much this week"),
        sms_settings.twilio_auth_token,
    )
    risk = await _put_risk(sms_client, sms_app, nurse, patient.id, {"suicide_risk": True})
    assert risk.status_code == 200
    clock.advance(timedelta(minutes=61))
    await sms_worker.run_once()
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity) == ("unread_reply", "urgent")


async def test_risk_recorded_later_shortens_an_acknowledged_escalations_resolve_by(
    db, client, app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    await db.commit()
    await _miss_first_check_in(sms_worker, clock)
    [no_reply] = await escalations(db, patient.id)
    acked = await client.post(
        f"/api/v1/escalations/{no_reply.id}/acknowledge", headers=builders.bearer(app, nurse)
    )
    assert acked.status_code == 200, acked.text
    # Routine: a day to resolve (the default policy).
    assert (await fresh(db, Escalation, no_reply.id)).resolve_due_at == clock.now() + timedelta(
        hours=24
    )
    clock.advance(timedelta(minutes=30))
    recorded_at = clock.now()

    response = await _put_risk(client, app, nurse, patient.id, {"suicide_risk": True})
    assert response.status_code == 200

    raised = await fresh(db, Escalation, no_reply.id)
    assert (raised.severity, raised.status) == ("urgent", "acknowledged")
    # The urgent allowance (4 h by default) from now, sooner than the routine day.
    assert raised.resolve_due_at == recorded_at + timedelta(hours=4)
