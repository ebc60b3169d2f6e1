from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from api_tests import builders
from db.models import AuditEvent, Episode, FollowUp
from service.follow_ups.service import due_at_for

PATIENTS = "/api/v1/patients"


async def _discharge(client, headers, patient_id, at, suicide_risk=False, **extra):
    return await client.post(
        f"{PATIENTS}/{patient_id}/discharge",
        json={"discharged_at": at, "suicide_risk": suicide_risk, **extra},
        headers=headers,
    )


async def _follow_ups(client, headers, patient_id):
    response = await client.get(f"{PATIENTS}/{patient_id}/follow-ups", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_discharge_starts_a_72h_follow_up_or_48h_with_suicide_risk(client, db, app):
    team = await builders.ward_team(db, app)
    plain = await builders.patient(db, team.ward.id)
    at_risk = await builders.patient(db, team.ward.id)

    response = await _discharge(
        client, team.nurse_headers, plain.id, "2026-11-28T10:00:00Z", destination=" Home  "
    )
    risky = await _discharge(client, team.nurse_headers, at_risk.id, "2026-11-28T10:00:00Z", True)

    assert response.status_code == 200, response.text
    episode = response.json()
    assert (episode["discharged_at"], episode["suicide_risk"]) == ("2026-11-28T10:00:00Z", False)
    assert episode["destination"] == "Home"
    [follow_up] = await _follow_ups(client, team.nurse_headers, plain.id)
    assert follow_up["due_at"] == "2026-12-01T10:00:00Z"
    assert (follow_up["status"], follow_up["suicide_risk"]) == ("pending", False)
    assert follow_up["episode_id"] == episode["id"]
    assert follow_up["completed_at"] is None and follow_up["attempts"] == []
    assert risky.status_code == 200, risky.text
    [risky_follow_up] = await _follow_ups(client, team.nurse_headers, at_risk.id)
    assert risky_follow_up["due_at"] == "2026-11-30T10:00:00Z"
    assert risky_follow_up["suicide_risk"] is True
    patient = await client.get(f"{PATIENTS}/{plain.id}", headers=team.nurse_headers)
    assert patient.json()["status"] == "discharged"
    [event] = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "episode.discharge", AuditEvent.patient_id == plain.id
            )
        )
    ).all()
    assert event.detail == {"follow_up_id": follow_up["id"]}


async def test_the_follow_up_clock_counts_elapsed_hours_across_the_uk_clock_change(client, db, app):
    # UK clocks go back at 01:00 UTC on Sunday 2026-10-25: 72 elapsed hours, not 72 wall hours.
    team = await builders.ward_team(db, app)
    autumn = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    first = await builders.patient(db, team.ward.id, admitted_at=autumn)
    second = await builders.patient(db, team.ward.id, admitted_at=autumn)

    assert (
        await _discharge(client, team.nurse_headers, first.id, "2026-10-24T12:00:00Z")
    ).status_code == 200
    # Local BST offset in, UTC out: 13:00+01:00 is 12:00Z.
    assert (
        await _discharge(client, team.nurse_headers, second.id, "2026-10-24T13:00:00+01:00", True)
    ).status_code == 200

    [plain] = await _follow_ups(client, team.nurse_headers, first.id)
    [risky] = await _follow_ups(client, team.nurse_headers, second.id)
    assert plain["due_at"] == "2026-10-27T12:00:00Z"
    assert risky["due_at"] == "2026-10-26T12:00:00Z"
    # The rule itself, fed a zone-aware local time (where naive wall-clock arithmetic would
    # land an hour late, at 13:00Z).
    local = datetime(2026, 10, 24, 13, 0, tzinfo=ZoneInfo("Europe/London"))
    assert due_at_for(local, False) == datetime(2026, 10, 27, 12, 0, tzinfo=UTC)
    assert due_at_for(local, True) == datetime(2026, 10, 26, 12, 0, tzinfo=UTC)


async def test_discharge_refuses_what_cannot_be(client, db, app):
    team = await builders.ward_team(db, app)
    patient = await builders.patient(
        db, team.ward.id, admitted_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    )
    h = team.nurse_headers

    before_admission = await _discharge(client, h, patient.id, "2026-11-19T09:00:00Z")
    in_future = await _discharge(client, h, patient.id, "2026-12-01T09:06:00Z")
    unstated_risk = await client.post(
        f"{PATIENTS}/{patient.id}/discharge",
        json={"discharged_at": "2026-11-30T09:00:00Z"},
        headers=h,
    )
    ok = await _discharge(client, h, patient.id, "2026-12-01T09:04:00Z")
    again = await _discharge(client, h, patient.id, "2026-12-01T09:04:00Z")

    assert before_admission.status_code == 409, before_admission.text
    assert in_future.status_code == 422
    assert in_future.json()["errors"][0]["field"] == "discharged_at"
    assert unstated_risk.status_code == 422
    assert ok.status_code == 200, ok.text
    assert again.status_code == 409
    assert await db.scalar(select(FollowUp.id).where(FollowUp.patient_id == patient.id))


async def test_readmission_on_day_30_is_flagged_and_on_day_31_is_not(client, db, app):
    team = await builders.ward_team(db, app)
    h = team.nurse_headers
    start = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    day30 = await builders.patient(db, team.ward.id, admitted_at=start)
    day31 = await builders.patient(db, team.ward.id, admitted_at=start)
    for p in (day30, day31):
        assert (await _discharge(client, h, p.id, "2026-10-01T10:00:00Z")).status_code == 200
    first_episode = await db.scalar(select(Episode.id).where(Episode.patient_id == day30.id))

    early = await client.post(
        f"{PATIENTS}/{day30.id}/admissions",
        json={"admitted_at": "2026-09-30T10:00:00Z"},
        headers=h,
    )
    within = await client.post(
        f"{PATIENTS}/{day30.id}/admissions",
        json={"admitted_at": "2026-10-31T10:00:00Z"},
        headers=h,
    )
    beyond = await client.post(
        f"{PATIENTS}/{day31.id}/admissions",
        json={"admitted_at": "2026-11-01T10:00:00Z"},
        headers=h,
    )
    twice = await client.post(
        f"{PATIENTS}/{day31.id}/admissions",
        json={"admitted_at": "2026-11-02T10:00:00Z"},
        headers=h,
    )

    assert early.status_code == 409, early.text
    assert within.status_code == 201, within.text
    assert within.json()["readmitted_within_30_days"] is True
    assert within.json()["readmission_of_episode_id"] == str(first_episode)
    assert within.json()["discharged_at"] is None
    assert beyond.status_code == 201, beyond.text
    assert beyond.json()["readmitted_within_30_days"] is False
    assert beyond.json()["readmission_of_episode_id"] is None
    assert twice.status_code == 409
    statuses = [
        (await client.get(f"{PATIENTS}/{p.id}", headers=h)).json()["status"] for p in (day30, day31)
    ]
    assert statuses == ["readmitted", "inpatient"]
    episodes = (await client.get(f"{PATIENTS}/{day30.id}/episodes", headers=h)).json()["items"]
    assert [e["admitted_at"] for e in episodes] == [
        "2026-10-31T10:00:00Z",
        "2026-09-01T09:00:00Z",
    ]
    # The readmitted patient is discharged again: a second follow-up with its own clock.
    assert (await _discharge(client, h, day30.id, "2026-11-30T09:00:00Z")).status_code == 200
    follow_ups = await _follow_ups(client, h, day30.id)
    assert [f["due_at"] for f in follow_ups] == ["2026-12-03T09:00:00Z", "2026-10-04T10:00:00Z"]


async def test_a_closed_record_reopens_on_admission(client, db, app, clock):
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    h = team.nurse_headers
    await _discharge(client, h, patient.id, "2026-11-21T09:00:00Z")
    closed = await client.patch(f"{PATIENTS}/{patient.id}", json={"status": "closed"}, headers=h)
    assert closed.json()["status"] == "closed"

    admitted = await client.post(
        f"{PATIENTS}/{patient.id}/admissions",
        json={"admitted_at": (clock.now() - timedelta(hours=1)).isoformat()},
        headers=h,
    )

    assert admitted.status_code == 201, admitted.text
    assert admitted.json()["readmitted_within_30_days"] is True
    after = await client.get(f"{PATIENTS}/{patient.id}", headers=h)
    assert after.json()["status"] == "readmitted"
