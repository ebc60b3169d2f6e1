"""Follow-up clocks and referral deadlines: warned once, escalated once, resolved by the work."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import escalations
from db.models import AuditEvent, FollowUp, Referral
from service.referrals import service as referrals
from service.wards.schemas import EscalationPolicy

ON_CALL = "+442079460777"


async def _discharge(client, headers, key_worker, *, suicide_risk: bool) -> str:
    created = await client.post(
        "/api/v1/patients",
        json=builders.patient_body(key_worker_id=str(key_worker.id), sms_consent=False),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    patient_id: str = created.json()["id"]
    done = await client.post(
        f"/api/v1/patients/{patient_id}/discharge",
        json={"discharged_at": "2026-12-01T09:00:00Z", "suicide_risk": suicide_risk},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    return patient_id


async def test_follow_up_warns_a_day_ahead_then_escalates_at_breach_once(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    patient_id = await _discharge(sms_client, headers, key_worker, suicide_risk=True)
    ref = patient_id[:8]  # a patient ref is the first 8 characters of the id

    # The patient has no SMS consent, so no check-in reaches them: told at once.
    await sms_worker.run_once()
    await sms_worker.run_once()
    early = (
        f"Homeward: follow-up for patient ref {ref} is due within 48 h and check-in texts "
        "cannot reach the patient, see the ward board."
    )
    assert [(m.to, m.body) for m in fake_twilio.accepted] == [(key_worker.mobile, early)]
    # Due 48 h after discharge (suicide risk): nothing more at 23 h, the warning at 24 h.
    clock.advance(timedelta(hours=23))
    await sms_worker.run_once()
    assert len(fake_twilio.accepted) == 1
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        await sms_worker.run_once()
        await sms_worker.run_once()
    assert [(m.to, m.body) for m in fake_twilio.accepted] == [
        (key_worker.mobile, early),
        (
            key_worker.mobile,
            f"Homeward: follow-up for patient ref {ref} is due within 24 h, see the ward board.",
        ),
    ]

    # 48 h: breached, and one urgent follow_up_due escalation (suicide risk).
    clock.advance(timedelta(hours=22, minutes=1))
    await sms_worker.run_once()
    await sms_worker.run_once()
    follow_up = await db.scalar(select(FollowUp))
    assert follow_up is not None and follow_up.status == "breached"
    [escalation] = await escalations(db, follow_up.patient_id)
    assert (escalation.reason, escalation.severity, escalation.source_id) == (
        "follow_up_due",
        "urgent",
        str(follow_up.id),
    )
    assert len(fake_twilio.accepted) == 3  # the two warnings and the level-1 notice

    # A late successful contact completes the follow-up and resolves its escalation.
    clock.advance(timedelta(minutes=5))
    attempt = await sms_client.post(
        f"/api/v1/patients/{patient_id}/follow-ups/{follow_up.id}/attempts",
        json={
            "occurred_at": clock.now().isoformat(),
            "method": "phone",
            "successful": True,
            "note": "Spoke to the patient; safe, seeing GP tomorrow.",
        },
        headers=headers,
    )
    assert attempt.status_code == 201, attempt.text
    await db.refresh(escalation)
    assert (escalation.status, escalation.resolved_by) == ("resolved", key_worker.id)
    await db.refresh(follow_up)
    assert (follow_up.status, follow_up.breached_at is not None) == ("completed", True)

    clock.advance(timedelta(days=2))
    await sms_worker.run_once()
    await sms_worker.run_once()
    assert len(fake_twilio.accepted) == 3
    actions = (await db.scalars(select(AuditEvent.action))).all()
    assert actions.count("follow_up.warn") == 1
    assert actions.count("follow_up.warn_unmonitored") == 1
    assert actions.count("follow_up.breach") == 1


async def test_a_follow_up_completed_in_time_is_neither_warned_about_nor_escalated(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    patient_id = await _discharge(sms_client, headers, key_worker, suicide_risk=False)
    follow_up = await db.scalar(select(FollowUp))
    assert follow_up is not None
    clock.advance(timedelta(hours=6))
    done = await sms_client.post(
        f"/api/v1/patients/{patient_id}/follow-ups/{follow_up.id}/attempts",
        json={"occurred_at": clock.now().isoformat(), "method": "face_to_face", "successful": True},
        headers=headers,
    )
    assert done.status_code == 201, done.text

    clock.advance(timedelta(days=4))
    await sms_worker.run_once()
    await sms_worker.run_once()
    assert fake_twilio.accepted == []
    assert await escalations(db, follow_up.patient_id) == []


async def test_an_unanswered_referral_goes_back_to_the_ward_once(db, clock, sms_worker):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    agency = await builders.agency(db)
    patient = await builders.home_patient(db, ward.id)
    # Only a referral its agency may answer (consent in force) is chased.
    await builders.consent(db, patient.id, agency.id, nurse.id, given_at=clock.now())
    waiting = await builders.referral(db, patient.id, agency.id, nurse.id, at=clock.now())
    answered = await builders.referral(
        db, patient.id, agency.id, nurse.id, at=clock.now(), status="accepted"
    )

    clock.advance(timedelta(days=2) - timedelta(minutes=1))
    assert (await sms_worker.run_once("referrals"))["referrals"] == 0
    clock.advance(timedelta(minutes=1))
    assert (await sms_worker.run_once("referrals"))["referrals"] == 1
    assert (await sms_worker.run_once("referrals"))["referrals"] == 0

    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity, escalation.source_id) == (
        "referral_unanswered",
        "routine",
        str(waiting.id),
    )
    await db.refresh(waiting)
    assert waiting.unanswered_escalated_at == clock.now()
    assert (await db.get(Referral, answered.id)).unanswered_escalated_at is None


async def test_concerns_from_an_agency_and_from_the_ward(db, client, app, clock):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    agency = await builders.agency(db)
    other_agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    stranger = await builders.user(db, "agency_worker", agency_id=other_agency.id)
    await builders.consent(db, patient.id, agency.id, key_worker.id, given_at=clock.now())
    await builders.referral(db, patient.id, agency.id, key_worker.id, at=clock.now())

    url = f"/api/v1/patients/{patient.id}/concerns"
    raised = await client.post(
        url,
        json={"note": "Not at home for two visits; neighbours worried.", "urgent": True},
        headers=builders.bearer(app, worker),
    )
    assert raised.status_code == 201, raised.text
    body = raised.json()
    assert (body["severity"], body["status"]) == ("urgent", "open")
    assert set(body) == {"escalation_id", "patient_id", "severity", "status", "opened_at"}

    refused = await client.post(
        url, json={"note": "Let me in"}, headers=builders.bearer(app, stranger)
    )
    assert refused.status_code == 404
    blank = await client.post(url, json={"note": "   "}, headers=builders.bearer(app, worker))
    assert blank.status_code == 422

    from_ward = await client.post(
        url, json={"note": "Family rang, worried."}, headers=builders.bearer(app, key_worker)
    )
    assert from_ward.status_code == 201
    rows = await escalations(db, patient.id)
    assert sorted((e.reason, e.severity) for e in rows) == [
        ("agency_concern", "routine"),
        ("agency_concern", "urgent"),
    ]
    outcomes = (
        await db.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "escalation.concern")
        )
    ).all()
    assert sorted(outcomes) == ["allowed", "allowed", "denied"]


async def test_a_readmission_stops_the_follow_up_being_chased(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    patient_id = await _discharge(sms_client, headers, key_worker, suicide_risk=True)
    clock.advance(timedelta(hours=6))
    back = await sms_client.post(
        f"/api/v1/patients/{patient_id}/admissions",
        json={"admitted_at": clock.now().isoformat()},
        headers=headers,
    )
    assert back.status_code == 201, back.text

    for _ in range(4):  # past the 24 h warning and the 48 h breach
        clock.advance(timedelta(hours=12))
        await sms_worker.run_once()
        await sms_worker.run_once()

    assert fake_twilio.accepted == []
    assert await escalations(db, uuid.UUID(patient_id)) == []
    follow_up = await db.scalar(select(FollowUp))
    assert follow_up is not None and follow_up.status == "breached"  # left the due set
    detail = await db.scalar(
        select(AuditEvent.detail).where(AuditEvent.action == "follow_up.breach")
    )
    assert detail == {"not_escalated": "readmitted"}


async def test_a_late_answer_settles_the_unanswered_escalation(db, client, app, clock, sms_worker):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    patient = await builders.home_patient(db, ward.id)
    await builders.consent(db, patient.id, agency.id, nurse.id, given_at=clock.now())
    referral = await builders.referral(db, patient.id, agency.id, nurse.id, at=clock.now())
    clock.advance(timedelta(days=2, minutes=1))
    await sms_worker.run_once("referrals")
    [escalation] = await escalations(db, patient.id)
    assert escalation.status == "open"

    accepted = await client.post(
        f"/api/v1/referrals/{referral.id}/accept", json={}, headers=builders.bearer(app, worker)
    )
    assert accepted.status_code == 200, accepted.text
    await db.refresh(escalation)
    # Closed by the system: the agency's answer is not the ward's acknowledgement.
    assert (escalation.status, escalation.resolved_by, escalation.acknowledged_at) == (
        "resolved",
        None,
        None,
    )
    assert escalation.resolution_note == "The referral was accepted."


async def test_a_referral_on_hold_is_not_chased_until_the_next_discharge(db, clock, sms_worker):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    agency = await builders.agency(db)
    patient = await builders.home_patient(db, ward.id)
    await builders.consent(db, patient.id, agency.id, nurse.id, given_at=clock.now())
    referral = await builders.referral(db, patient.id, agency.id, nurse.id, at=clock.now())
    await referrals.pause_open_referrals(db, patient.id, clock.now(), nurse.id)
    await db.commit()

    clock.advance(timedelta(days=3))
    await sms_worker.run_once("referrals")
    assert await escalations(db, patient.id) == []

    await referrals.resume_paused_referrals(db, patient.id, clock.now(), nurse.id)
    await db.commit()
    await sms_worker.run_once("referrals")
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.source_id) == ("referral_unanswered", str(referral.id))


async def test_an_admission_answers_the_escalations_about_the_patient_at_home(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    patient_id = await _discharge(sms_client, headers, key_worker, suicide_risk=True)
    clock.advance(timedelta(hours=48, minutes=1))
    await sms_worker.run_once()
    [escalation] = await escalations(db, uuid.UUID(patient_id))
    assert (escalation.reason, escalation.status) == ("follow_up_due", "open")
    texts_before = len(fake_twilio.accepted)

    clock.advance(timedelta(minutes=10))
    back = await sms_client.post(
        f"/api/v1/patients/{patient_id}/admissions",
        json={"admitted_at": clock.now().isoformat()},
        headers=headers,
    )
    assert back.status_code == 201, back.text
    await db.refresh(escalation)
    assert (escalation.status, escalation.resolved_by) == ("resolved", key_worker.id)

    clock.advance(timedelta(hours=6))  # past every urgent deadline: nobody is texted
    await sms_worker.run_once()
    await sms_worker.run_once()
    assert len(fake_twilio.accepted) == texts_before
