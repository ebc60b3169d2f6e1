from __future__ import annotations

import uuid
from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.models import AuditEvent, Escalation, OutboxMessage
from service.clock import ManualClock
from service.paging.texts import carer_notice


async def test_staff_record_and_list_carer_feedback_audited(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    other = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    url = f"/api/v1/patients/{patient.id}/feedback"
    body = {
        "source": "carer",
        "relationship": "mother",
        "given_by": "Jo Smith",
        "text": "The discharge letter came late.",
        "received_at": "2026-11-30T10:00:00Z",
    }
    r = await client.post(url, json=body, headers=team.nurse_headers)
    assert r.status_code == 201, r.text
    assert r.json()["given_by"] == "Jo Smith"
    r = await client.get(url, headers=team.manager_headers)
    assert [i["text"] for i in r.json()["items"]] == ["The discharge letter came late."]
    assert (await client.get(url, headers=other.nurse_headers)).status_code == 404
    r = await client.post(url, json={**body, "source": "neighbour"}, headers=team.nurse_headers)
    assert r.status_code == 422
    actions = set(
        (
            await db.scalars(
                select(AuditEvent.action + ":" + AuditEvent.outcome).where(
                    AuditEvent.patient_id == patient.id
                )
            )
        ).all()
    )
    assert {"feedback.create:allowed", "feedback.list:allowed", "feedback.list:denied"} <= actions


async def test_carer_notice_only_for_urgent_level_two_with_consent_once(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar, clock: ManualClock
) -> None:
    team = await builders.ward_team(db, app)
    team.ward.escalation_policy = {
        **team.ward.escalation_policy,
        "on_call_phone": "01632 960000",
    }
    await db.commit()
    ward_id, ward_name = team.ward.id, team.ward.name
    patient = await builders.home_patient(db, ward_id)
    patient_id = patient.id
    url = f"/api/v1/patients/{patient_id}/carer"
    assert (await client.get(url, headers=team.nurse_headers)).status_code == 404
    carer = {
        "name": "Sam Carer",
        "relationship": "partner",
        "mobile": "07911 123457",
        "consent_to_contact": True,
    }
    r = await client.put(url, json=carer, headers=team.nurse_headers)
    assert r.status_code == 422  # consent needs its time
    r = await client.put(
        url, json={**carer, "consent_given_at": "2026-11-01T09:00:00Z"}, headers=team.nurse_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["mobile"] == "+447911123457"
    assert r.json()["consent_in_force"] is True

    now = clock.now()
    esc = Escalation(
        id=uuid.uuid4(),
        patient_id=patient_id,
        ward_id=ward_id,
        reason="help_request",
        severity="urgent",
        level=1,
        status="open",
        source_type="test",
        source_id="1",
        opened_at=now,
        ack_due_at=now + timedelta(minutes=15),
    )
    db.add(esc)
    await db.commit()
    assert await carer_notice(db, esc, now) is None  # level 1: not yet
    esc.level = 2
    first = await carer_notice(db, esc, now)
    second = await carer_notice(db, esc, now)
    await db.commit()
    assert first is not None and second is None
    sent = (await db.scalars(select(OutboxMessage).where(OutboxMessage.id == first))).one()
    assert sent.body == f"Homeward: please contact {ward_name} on 01632 960000."
    assert sent.recipient_kind == "carer" and sent.to_number == "+447911123457"

    routine = Escalation(
        id=uuid.uuid4(), patient_id=patient_id, ward_id=ward_id, reason="no_reply",
        severity="routine", level=2, status="open", source_type="test", source_id="2",
        opened_at=now, ack_due_at=now,
    )  # fmt: skip
    db.add(routine)
    await db.commit()
    assert await carer_notice(db, routine, now) is None

    # Consent withdrawn: no notice for a new urgent escalation.
    r = await client.put(
        url,
        json={
            **carer,
            "consent_given_at": "2026-11-01T09:00:00Z",
            "consent_withdrawn_at": "2026-11-30T09:00:00Z",
        },
        headers=team.nurse_headers,
    )
    assert r.json()["consent_in_force"] is False
    later = Escalation(
        id=uuid.uuid4(), patient_id=patient_id, ward_id=ward_id, reason="low_score",
        severity="urgent", level=2, status="open", source_type="test", source_id="3",
        opened_at=now, ack_due_at=now,
    )  # fmt: skip
    db.add(later)
    await db.commit()
    db.expire_all()
    await db.refresh(later)
    assert await carer_notice(db, later, now) is None
    count = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.purpose == "carer_notice")
    )
    assert count == 1


async def test_naive_timestamps_are_refused_the_same_way_in_every_body(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    base = f"/api/v1/patients/{patient.id}"
    naive = "2026-11-30T10:00:00"
    cases = [
        (f"{base}/feedback", {"source": "carer", "text": "Fine", "received_at": naive}),
        (f"{base}/carer", {"name": "Jo Smith", "consent_given_at": naive}),
        (f"{base}/check-ins", {"due_at": naive}),
    ]
    messages = set()
    for url, body in cases:
        field = next(k for k, v in body.items() if v == naive)
        method = client.put if url.endswith("/carer") else client.post
        r = await method(url, json=body, headers=team.nurse_headers)
        assert r.status_code == 422, (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert [e["field"] for e in errors] == [field], errors
        messages.add(errors[0]["message"].split(" - at ")[0])
    assert len(messages) == 1, messages
