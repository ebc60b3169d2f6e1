"""PATCH /api/v1/wards/{id}: a ward's settings change, partially, validated, audited, and the
next climb reads them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from db.models import AuditEvent
from service.checkin_defaults import DEFAULT_OFFSETS_HOURS
from service.escalations.service import raise_escalation
from service.wards.schemas import EscalationPolicy

ON_CALL = "+442079460777"
NEW_ON_CALL = "+442079460888"
CRISIS = "+442079460999"


async def _ward(db):
    ward = await builders.ward(
        db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL, crisis_phone=CRISIS)
    )
    manager = await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    return ward, manager


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


async def _updates(db, ward_id) -> list[dict]:
    rows = await db.scalars(
        select(AuditEvent.detail)
        .where(AuditEvent.action == "ward.update", AuditEvent.ward_id == ward_id)
        .order_by(AuditEvent.id)
    )
    await db.commit()
    return list(rows)


async def test_a_patch_of_the_on_call_number_is_used_by_the_next_climb(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager = await _ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    row = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=ward.id,
        reason="low_score",
        severity="routine",
        source_type="test",
        source_id="patch-on-call",
        now=clock.now(),
    )
    await db.commit()
    await _tick(sms_worker, clock)
    assert [m.to for m in fake_twilio.accepted] == [key_worker.mobile]
    level_one_due = row.ack_due_at

    # An hour in, the manager changes the on-call number (in national form) and the level 2
    # acknowledge deadline.
    clock.advance(timedelta(hours=1))
    changed = await sms_client.patch(
        f"/api/v1/wards/{ward.id}",
        json={
            "escalation_policy": {
                "on_call_phone": "020 7946 0888",
                "ack_minutes": {"routine": [240, 60, 1440]},
            }
        },
        headers=builders.bearer(sms_app, manager),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["escalation_policy"]["on_call_phone"] == NEW_ON_CALL
    await db.refresh(row)
    assert row.ack_due_at == level_one_due  # the deadline already set stands

    # 4 h after opening, not acknowledged: level 2 pages the new number, not the old one,
    # and its deadline is the new 60 minutes.
    await _tick(sms_worker, clock, 3 * 60)
    await db.refresh(row)
    assert row.level == 2
    assert row.ack_due_at == clock.now() + timedelta(minutes=60)
    told = [m.to for m in fake_twilio.accepted][1:]
    assert sorted(told) == sorted([manager.mobile, NEW_ON_CALL])
    assert ON_CALL not in told


async def test_a_partial_policy_merges_into_the_stored_one_and_the_audit_names_the_fields(
    db, client, app, clock
):
    ward, manager = await _ward(db)
    headers = builders.bearer(app, manager)

    response = await client.patch(
        f"/api/v1/wards/{ward.id}",
        json={
            "escalation_policy": {
                "ack_minutes": {"urgent": [5, 10, 20]},
                "resolve_minutes": {"urgent": 120},
            },
            "name": "Larch",
        },
        headers=headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Larch"
    assert body["escalation_policy"] == {
        "ack_minutes": {"urgent": [5, 10, 20], "routine": [240, 480, 1440]},
        "on_call_phone": ON_CALL,
        "crisis_phone": CRISIS,
        "read_minutes": 60,
        "resolve_minutes": {"urgent": 120, "routine": 1440},
        "staff_email": "fallback",
        # The check-in schedule new patients start with (issue 22): the standard one.
        "check_ins": {
            "offsets_hours": list(DEFAULT_OFFSETS_HOURS),
            "reply_window_minutes": 240,
            "reminder_after_minutes": 120,
        },
    }
    # null clears a number; the rest stays.
    cleared = await client.patch(
        f"/api/v1/wards/{ward.id}",
        json={"escalation_policy": {"crisis_phone": None}, "timezone": "Europe/Dublin"},
        headers=headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["escalation_policy"]["crisis_phone"] is None
    assert cleared.json()["escalation_policy"]["on_call_phone"] == ON_CALL
    assert cleared.json()["timezone"] == "Europe/Dublin"
    # The same values again change nothing and add no audit row.
    same = await client.patch(f"/api/v1/wards/{ward.id}", json={"name": "Larch"}, headers=headers)
    assert same.status_code == 200

    # Names of fields only: no numbers or messages in the audit trail.
    assert await _updates(db, ward.id) == [
        {
            "fields": [
                "name",
                "escalation_policy.ack_minutes.urgent",
                "escalation_policy.resolve_minutes.urgent",
            ]
        },
        {"fields": ["timezone", "escalation_policy.crisis_phone"]},
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"escalation_policy": {"on_call_phone": "12345"}}, "escalation_policy.on_call_phone"),
        ({"escalation_policy": {"crisis_phone": "not a number"}}, "escalation_policy.crisis_phone"),
        ({"escalation_policy": {"read_minutes": 0}}, "escalation_policy.read_minutes"),
        ({"escalation_policy": {"ack_minutes": {"urgent": [15, 30]}}}, "urgent"),
        ({"escalation_policy": {"ack_minutes": {"routine": [240, 480, 20000]}}}, "routine"),
        ({"escalation_policy": {"resolve_minutes": {"urgent": 5}}}, "urgent"),
        ({"escalation_policy": {"staff_email": "sometimes"}}, "staff_email"),
        ({"escalation_policy": {"colour": "red"}}, "escalation_policy"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "   "}, "name"),
        ({"crisis_message": ""}, "crisis_message"),
    ],
)
async def test_bad_settings_are_a_422_problem_and_change_nothing(db, client, app, body, field):
    ward, manager = await _ward(db)
    before = await client.get(f"/api/v1/wards/{ward.id}", headers=builders.bearer(app, manager))
    # A valid change beside the bad one must not be applied either.
    response = await client.patch(
        f"/api/v1/wards/{ward.id}",
        json={**body, "name": body.get("name", "Renamed")},
        headers=builders.bearer(app, manager),
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert any(field in error["field"] for error in problem["errors"]), problem
    after = await client.get(f"/api/v1/wards/{ward.id}", headers=builders.bearer(app, manager))
    assert after.json() == before.json()
    assert await _updates(db, ward.id) == []


async def test_admins_and_the_wards_managers_change_it_others_are_refused(db, client, app):
    ward, manager = await _ward(db)
    other = await builders.ward(db)
    staff = await builders.user(db, "ward_staff", ward_id=ward.id)
    other_manager = await builders.user(db, "ward_manager", ward_id=other.id)
    admin = await builders.user(db, "admin")
    agency = await builders.agency(db)
    agency_worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    url = f"/api/v1/wards/{ward.id}"

    def patch(who, name):
        return client.patch(url, json={"name": name}, headers=builders.bearer(app, who))

    assert (await patch(staff, "By staff")).status_code == 403
    assert (await patch(other_manager, "By another ward")).status_code == 404
    assert (await patch(agency_worker, "By an agency")).status_code == 403
    assert (await client.patch(url, json={"name": "Anonymous"})).status_code == 401
    assert (await patch(manager, "By the manager")).status_code == 200
    assert (await patch(admin, "By an admin")).status_code == 200
    await db.refresh(ward)
    assert ward.name == "By an admin"

    denied = await db.scalars(
        select(AuditEvent.actor_id).where(
            AuditEvent.action == "ward.update", AuditEvent.outcome == "denied"
        )
    )
    assert set(denied) == {staff.id, other_manager.id}
    taken = await client.patch(url, json={"name": other.name}, headers=builders.bearer(app, admin))
    assert taken.status_code == 409
