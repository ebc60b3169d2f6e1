from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api_tests import builders
from db.models import AuditEvent, FollowUp
from service.follow_ups.service import claim_overdue, follow_up_is_breached, mark_breached

PATIENTS = "/api/v1/patients"


async def _discharged(client, db, team, at="2026-11-30T09:00:00Z", suicide_risk=False):
    patient = await builders.patient(db, team.ward.id)
    response = await client.post(
        f"{PATIENTS}/{patient.id}/discharge",
        json={"discharged_at": at, "suicide_risk": suicide_risk},
        headers=team.nurse_headers,
    )
    assert response.status_code == 200, response.text
    [follow_up] = (
        await client.get(f"{PATIENTS}/{patient.id}/follow-ups", headers=team.nurse_headers)
    ).json()["items"]
    return patient, follow_up


async def _attempt(client, headers, patient_id, follow_up_id, **body):
    return await client.post(
        f"{PATIENTS}/{patient_id}/follow-ups/{follow_up_id}/attempts", json=body, headers=headers
    )


async def _read(client, headers, patient_id):
    [follow_up] = (await client.get(f"{PATIENTS}/{patient_id}/follow-ups", headers=headers)).json()[
        "items"
    ]
    return follow_up


async def test_only_a_successful_attempt_completes_the_follow_up(client, db, app):
    team = await builders.ward_team(db, app)
    patient, follow_up = await _discharged(client, db, team)
    h = team.nurse_headers

    missed = await _attempt(
        client, h, patient.id, follow_up["id"],
        occurred_at="2026-11-30T15:00:00Z", method="phone", successful=False, note="no answer",
    )  # fmt: skip
    after_missed = await _read(client, h, patient.id)
    reached = await _attempt(
        client, h, patient.id, follow_up["id"],
        occurred_at="2026-12-01T08:30:00+00:00", method="face_to_face", successful=True,
        note="Home visit; settled, has medication",
    )  # fmt: skip
    later = await _attempt(
        client, h, patient.id, follow_up["id"],
        occurred_at="2026-12-01T09:00:00Z", method="video", successful=True,
    )  # fmt: skip

    assert missed.status_code == 201, missed.text
    assert missed.json()["successful"] is False
    assert missed.json()["recorded_by"] == str(team.nurse.id)
    assert after_missed["status"] == "pending"
    assert after_missed["completed_at"] is None
    assert [a["note"] for a in after_missed["attempts"]] == ["no answer"]
    assert reached.status_code == 201, reached.text
    assert later.status_code == 201, later.text
    final = await _read(client, h, patient.id)
    assert final["status"] == "completed"
    assert final["completed_at"] == "2026-12-01T08:30:00Z"
    assert final["method"] == "face_to_face"
    assert final["outcome"] == "Home visit; settled, has medication"
    assert [a["method"] for a in final["attempts"]] == ["phone", "face_to_face", "video"]
    events = (
        await db.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "follow_up.attempt")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [e["completed"] for e in events] == [False, True, False]


async def test_attempts_in_the_future_before_discharge_or_by_sms_are_refused(
    client, db, app, clock
):
    team = await builders.ward_team(db, app)
    patient, follow_up = await _discharged(client, db, team)
    h = team.nurse_headers

    def at(delta):
        return (clock.now() + delta).isoformat()

    cases = [
        ({"occurred_at": at(timedelta(minutes=6))}, "occurred_at"),
        ({"occurred_at": "2026-11-30T08:59:00Z"}, "occurred_at"),
        ({"method": "sms"}, "method"),
        ({"occurred_at": "2026-11-30T10:00:00"}, "occurred_at"),
        ({"note": "x" * 2001}, "note"),
    ]
    for override, field in cases:
        body = {"occurred_at": at(-timedelta(hours=1)), "method": "phone", "successful": True}
        response = await _attempt(client, h, patient.id, follow_up["id"], **{**body, **override})
        assert response.status_code == 422, (override, response.text)
        assert response.json()["errors"][0]["field"] == field
    # A few minutes of clock skew is tolerated.
    skewed = await _attempt(
        client, h, patient.id, follow_up["id"],
        occurred_at=at(timedelta(minutes=4)), method="phone", successful=True,
    )  # fmt: skip
    assert skewed.status_code == 201, skewed.text
    assert (await _read(client, h, patient.id))["status"] == "completed"


async def test_a_follow_up_of_another_patient_is_not_found(client, db, app):
    team = await builders.ward_team(db, app)
    patient, _ = await _discharged(client, db, team)
    _, someone_elses = await _discharged(client, db, team)
    body = {"occurred_at": "2026-12-01T08:00:00Z", "method": "phone", "successful": True}

    wrong_pair = await _attempt(client, team.nurse_headers, patient.id, someone_elses["id"], **body)
    absent_id = uuid.uuid4()
    absent = await _attempt(client, team.nurse_headers, patient.id, absent_id, **body)

    assert wrong_pair.status_code == 404
    assert absent.status_code == 404
    assert (await _read(client, team.nurse_headers, patient.id))["attempts"] == []
    denied = (await db.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied"))).all()
    assert [(e.action, e.object_type, e.object_id, e.patient_id) for e in denied] == [
        ("follow_up.attempt", "follow_up", someone_elses["id"], patient.id),
        ("follow_up.attempt", "follow_up", str(absent_id), patient.id),
    ]


def test_the_breach_rule_is_strictly_after_due_and_only_while_pending():
    due = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    pending = FollowUp(status="pending", due_at=due)

    assert follow_up_is_breached(pending, due) is False
    assert follow_up_is_breached(pending, due + timedelta(seconds=1)) is True
    assert (
        follow_up_is_breached(FollowUp(status="completed", due_at=due), due + timedelta(days=1))
        is False
    )
    assert (
        follow_up_is_breached(FollowUp(status="breached", due_at=due), due + timedelta(days=1))
        is False
    )


async def test_overdue_follow_ups_are_claimed_marked_breached_and_can_still_complete_late(
    client, db, app
):
    team = await builders.ward_team(db, app)
    patient, follow_up = await _discharged(client, db, team, at="2026-11-30T09:00:00Z")
    patient_id, ward_id = patient.id, team.ward.id
    headers = team.nurse_headers  # the rollback below expires the rows
    due = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

    assert await claim_overdue(db, due) == []
    await db.rollback()
    claimed = await claim_overdue(db, due + timedelta(minutes=1))
    assert [str(f.id) for f in claimed] == [follow_up["id"]]
    assert await mark_breached(db, claimed[0], due + timedelta(minutes=1)) is True
    assert await mark_breached(db, claimed[0], due + timedelta(minutes=2)) is False
    await db.commit()

    breached = await _read(client, headers, patient_id)
    assert breached["status"] == "breached"
    assert breached["breached_at"] == "2026-12-03T09:01:00Z"
    [event] = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action == "follow_up.breach"))
    ).all()
    assert (event.patient_id, event.ward_id, event.actor_id) == (patient_id, ward_id, None)
    assert event.actor_role == "system:follow_ups"
    late = await _attempt(
        client, headers, patient_id, follow_up["id"],
        occurred_at="2026-12-01T08:00:00Z", method="phone", successful=True,
    )  # fmt: skip
    assert late.status_code == 201, late.text
    completed = await _read(client, headers, patient_id)
    assert completed["status"] == "completed"
    assert completed["breached_at"] == "2026-12-03T09:01:00Z"
