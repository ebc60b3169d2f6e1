"""Adopting another ward's setting: previewed first (nothing changes), then copied in one step
through the ward settings service; only the chosen setting changes, and both are audited."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.models import AuditEvent, Ward
from service.wards.schemas import AckMinutes, CheckInDefaults, EscalationPolicy

THEIR_SCHEDULE = CheckInDefaults(
    offsets_hours=[96, 24, 48], reply_window_minutes=180, reminder_after_minutes=60
)


async def _policy(db: AsyncSession, ward_id: Any) -> dict[str, Any]:
    db.expire_all()
    ward = await db.get(Ward, ward_id)
    assert ward is not None
    return dict(ward.escalation_policy)


async def test_copying_the_check_in_schedule_changes_only_it_and_is_audited(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    mine = team.ward.id
    theirs = await builders.ward(
        db,
        escalation_policy=EscalationPolicy(
            check_ins=THEIR_SCHEDULE,
            ack_minutes=AckMinutes(urgent=[5, 10, 20]),
            read_minutes=30,
        ),
    )
    theirs_id = theirs.id
    url = f"/api/v1/wards/{mine}/adopt-setting"
    before = await _policy(db, mine)
    body = {"from_ward_id": str(theirs_id), "setting": "check_in_schedule"}

    r = await client.post(url, json=body, headers=team.manager_headers)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["applied"] is False
    assert preview["proposed"] == {
        "offsets_hours": [24, 48, 96],
        "reply_window_minutes": 180,
        "reminder_after_minutes": 60,
    }
    assert preview["current"]["reply_window_minutes"] == 240
    assert preview["changes"] == [
        "escalation_policy.check_ins.offsets_hours",
        "escalation_policy.check_ins.reminder_after_minutes",
        "escalation_policy.check_ins.reply_window_minutes",
    ]
    assert await _policy(db, mine) == before  # a preview changes nothing

    r = await client.post(url, json={**body, "confirm": True}, headers=team.manager_headers)
    assert r.status_code == 200, r.text
    assert r.json()["applied"] is True
    after = await _policy(db, mine)
    assert after["check_ins"] == preview["proposed"]
    # Only the chosen setting moved: their acknowledge deadlines and read window did not.
    assert {k: v for k, v in after.items() if k != "check_ins"} == {
        k: v for k, v in before.items() if k != "check_ins"
    }
    assert after["ack_minutes"]["urgent"] == [15, 30, 60]

    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.detail)
            .where(AuditEvent.ward_id == mine, AuditEvent.action.like("ward.%"))
            .order_by(AuditEvent.id)
        )
    ).all()
    actions = [a for a, _ in rows]
    assert actions == ["ward.adopt_setting_preview", "ward.update", "ward.adopt_setting"]
    assert rows[1][1]["fields"] == preview["changes"]
    assert rows[2][1]["from_ward_id"] == str(theirs_id) and rows[2][1]["applied"] is True

    # A patient of the ward starts from the adopted schedule.
    patient = await builders.patient(db, mine)
    r = await client.get(
        f"/api/v1/patients/{patient.id}/check-in-schedule", headers=team.nurse_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["offsets_hours"] == [24, 48, 96]
    assert r.json()["reply_window_minutes"] == 180

    # Copying again changes nothing and says so.
    r = await client.post(url, json={**body, "confirm": True}, headers=team.manager_headers)
    assert r.json()["changes"] == [] and r.json()["applied"] is False


async def test_who_may_adopt(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    other = await builders.ward_team(db, app)
    mine, theirs = team.ward.id, other.ward.id
    url = f"/api/v1/wards/{mine}/adopt-setting"
    body = {"from_ward_id": str(theirs), "setting": "acknowledge_deadlines", "confirm": True}
    before = await _policy(db, mine)
    r = await client.post(url, json=body, headers=team.nurse_headers)
    assert r.status_code == 403
    r = await client.post(url, json=body, headers=other.manager_headers)
    assert r.status_code == 404
    r = await client.post(
        url, json={**body, "from_ward_id": str(mine)}, headers=team.manager_headers
    )
    assert r.status_code == 422
    r = await client.post(url, json={**body, "setting": "colour"}, headers=team.manager_headers)
    assert r.status_code in (400, 422)
    assert await _policy(db, mine) == before
