"""One patient with a bit of everything the FHIR exports carry, written straight to the
tables (real PostgreSQL, every constraint holding), for test_fhir_export.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.models import (
    CheckIn,
    Episode,
    Escalation,
    FollowUp,
    InboundMessage,
    OutboxMessage,
    PromAnswer,
    PromSurvey,
    Referral,
    ReferralStatusChange,
)

T = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def at(days: float, hours: float = 0) -> datetime:
    return T + timedelta(days=days, hours=hours)


async def world(db: AsyncSession, team: SimpleNamespace) -> SimpleNamespace:
    ward, nurse = team.ward, team.nurse
    housing = await builders.agency(db, kind="housing", phone="+442079460001")
    benefits = await builders.agency(db, kind="benefits", email="help@benefits.example.org")
    patient = await builders.patient(
        db,
        ward.id,
        admitted_at=None,
        status="discharged",
        mobile="+447700900123",
        language="pl",
        given_name="Ania",
        family_name="Nowak",
        nhs_number="9434765919",
    )
    first = Episode(
        patient_id=patient.id,
        admitted_at=at(0),
        discharged_at=at(19),
        suicide_risk=False,
        destination="Home with family",
    )
    db.add(first)
    await db.flush()
    second = Episode(
        patient_id=patient.id,
        admitted_at=at(35),
        discharged_at=at(55),
        suicide_risk=True,
        destination="Supported housing",
        readmission_of_episode_id=first.id,
        readmitted_within_30_days=True,
    )
    db.add(second)
    await db.flush()
    done = FollowUp(
        patient_id=patient.id,
        episode_id=first.id,
        due_at=at(22),
        suicide_risk=False,
        status="completed",
        completed_at=at(20),
        completed_by=nurse.id,
        method="phone",
        outcome="Settled at home",
        created_at=at(19),
    )
    due = FollowUp(
        patient_id=patient.id,
        episode_id=second.id,
        due_at=at(57),
        suicide_risk=True,
        status="pending",
        created_at=at(55),
    )
    db.add_all([done, due])
    await db.commit()

    plan_v1 = await builders.plan(db, patient.id, at=at(10), version=1)
    plan_v2 = await builders.plan(db, patient.id, at=at(50), version=2)
    home = await builders.goal(
        db, patient.id, at=at(5), owner_agency_id=housing.id, domain="housing", status="active"
    )
    money = await builders.goal(db, patient.id, at=at(6), domain="finances", status="achieved")
    job = await builders.goal(
        db, patient.id, at=at(7), domain="employment_education", status="on_hold"
    )
    given = await builders.consent(db, patient.id, housing.id, nurse.id, given_at=at(8))
    withdrawn = await builders.consent(
        db, patient.id, benefits.id, nurse.id, scope="plan", given_at=at(8)
    )
    withdrawn.withdrawn_at, withdrawn.withdrawn_by_id = at(40), nurse.id
    await db.commit()

    accepted = await builders.referral(
        db, patient.id, housing.id, nurse.id, at=at(9), status="accepted", goal_id=home.id
    )
    declined = await builders.referral(db, patient.id, benefits.id, nurse.id, at=at(9))
    row = await db.get(Referral, declined.id)
    assert row is not None
    row.status, row.decline_reason, row.responded_at = "declined", "Outside our area", at(10)
    db.add(
        ReferralStatusChange(
            referral_id=row.id, from_status="pending", to_status="declined", at=at(10)
        )
    )
    await db.commit()

    dialog = PromSurvey(
        patient_id=patient.id,
        ward_id=ward.id,
        instrument="dialog",
        time_point="2_weeks",
        anchor_at=at(55),
        due_at=at(69),
        status="partial",
        created_at=at(55),
        updated_at=at(70),
    )
    db.add(dialog)
    await db.flush()
    db.add_all(
        [
            PromAnswer(
                survey_id=dialog.id, item_key="dialog.mental_health", score=5, answered_at=at(69)
            ),
            PromAnswer(
                survey_id=dialog.id, item_key="dialog.accommodation", score=3, answered_at=at(69, 1)
            ),
        ]
    )
    check_in = CheckIn(
        patient_id=patient.id,
        kind="scheduled",
        due_at=at(56),
        status="answered",
        reply_window_minutes=240,
        reminder_after_minutes=60,
        sent_at=at(56),
        answered_at=at(56, 2),
        score=4,
        reply="4",
        created_at=at(55),
        updated_at=at(56, 2),
    )
    db.add(check_in)
    await db.flush()
    prompt = OutboxMessage(
        dedupe_key=f"checkin:{check_in.id}:prompt",
        recipient_kind="patient",
        patient_id=patient.id,
        ward_id=ward.id,
        check_in_id=check_in.id,
        purpose="checkin_prompt",
        to_number=patient.mobile,
        body="How are you today? Reply 1-5.",
        status="delivered",
        sent_at=at(56),
        finished_at=at(56, 0.1),
        created_at=at(56),
        updated_at=at(56, 0.1),
    )
    failed = OutboxMessage(
        dedupe_key=f"ward:{patient.id}:1",
        recipient_kind="patient",
        patient_id=patient.id,
        ward_id=ward.id,
        purpose="ward_message",
        to_number=patient.mobile,
        body="See you on Thursday.",
        status="failed",
        status_reason="21610",
        created_at=at(57),
        updated_at=at(57),
    )
    db.add_all([prompt, failed])
    await db.flush()
    reply = InboundMessage(
        message_sid="SM" + "1" * 32,
        patient_id=patient.id,
        ward_id=ward.id,
        from_number=patient.mobile,
        body="4",
        kind="score",
        score=4,
        check_in_id=check_in.id,
        received_at=at(56, 2),
    )
    free = InboundMessage(
        message_sid="SM" + "2" * 32,
        patient_id=patient.id,
        ward_id=ward.id,
        from_number=patient.mobile,
        body="Can someone call me",
        kind="free_text",
        received_at=at(58),
    )
    db.add_all([reply, free])
    open_escalation = Escalation(
        patient_id=patient.id,
        ward_id=ward.id,
        reason="unread_reply",
        severity="routine",
        status="open",
        source_type="sms_inbound",
        source_id=str(free.id),
        opened_at=at(58, 4),
        ack_due_at=at(58, 5),
    )
    resolved = Escalation(
        patient_id=patient.id,
        ward_id=ward.id,
        reason="no_reply",
        severity="routine",
        status="resolved",
        source_type="check_in",
        source_id=str(check_in.id),
        opened_at=at(30),
        ack_due_at=at(30, 1),
        resolved_at=at(30, 2),
        resolution_outcome="contacted_patient_safe",
        resolution_note="Spoke to them",
    )
    db.add_all([open_escalation, resolved])
    await db.commit()
    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("db", "row")})
