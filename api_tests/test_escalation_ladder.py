"""The escalation ladder end to end: silence after discharge becomes texts to the right people,
one level at a time, each exactly once, until a person acknowledges."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import check_ins, discharged_patient, escalations, staff_notice
from db.models import AuditEvent, Carer, Escalation, EscalationEvent, OutboxMessage
from service.escalations.service import raise_escalation
from service.wards.schemas import EscalationPolicy

ON_CALL = "+442079460777"
CRISIS = "+442079460999"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def _ward_with_ladder(db):
    ward = await builders.ward(
        db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL, crisis_phone=CRISIS)
    )
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    manager = await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    return ward, key_worker, manager


async def _raise(db, patient, clock, reason: str, severity: str, *, source: str) -> Escalation:
    """An escalation raised (and committed) now, as a sweep or webhook would raise it."""
    row = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason=reason,
        severity=severity,
        source_type="test",
        source_id=source,
        now=clock.now(),
    )
    await db.commit()
    return row


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


def _sent(fake) -> list[tuple[str, str]]:
    return [(m.to, m.body) for m in fake.accepted]


def _staff(fake, patient_mobile: str) -> list[tuple[str, str]]:
    """Texts to anyone but the patient (who also gets the discharge DIALOG survey)."""
    return [(to, body) for to, body in _sent(fake) if to != patient_mobile]


async def test_discharge_to_resolution_texts_each_step_exactly_once(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    _, key_worker, manager = await _ward_with_ladder(db)
    nurse_headers = builders.bearer(sms_app, key_worker)
    created = await sms_client.post(
        "/api/v1/patients",
        json=builders.patient_body(key_worker_id=str(key_worker.id)),
        headers=nurse_headers,
    )
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    discharged = await sms_client.post(
        f"/api/v1/patients/{patient_id}/discharge",
        json={"discharged_at": "2026-12-01T09:00:00Z", "suicide_risk": False},
        headers=nurse_headers,
    )
    assert discharged.status_code == 200, discharged.text
    mobile = created.json()["mobile"]

    # Day 1, 09:00: the first prompt; 11:00 the one reminder; 13:00 the reply window ends.
    await _tick(sms_worker, clock, 24 * 60)
    await _tick(sms_worker, clock, 120)
    to_patient = [body for to, body in _sent(fake_twilio) if to == mobile]
    assert [b.split(":")[0] for b in to_patient if "check-in" in b or "Reminder" in b] == [
        "Homeward check-in",
        "Reminder from your Homeward care team",
    ]
    assert _staff(fake_twilio, mobile) == []
    await _tick(sms_worker, clock, 120)

    first = (await check_ins(db, uuid.UUID(patient_id)))[0]
    assert first.status == "missed"
    [escalation] = await escalations(db, uuid.UUID(patient_id))
    assert (escalation.reason, escalation.severity, escalation.level) == ("no_reply", "routine", 1)
    assert escalation.ack_due_at == utc(2026, 12, 2, 17, 0)  # routine level 1: 4 h
    # Reason, severity, level, the escalation's short reference and the board link to find
    # it: no name, no clinical detail.
    notice = staff_notice(escalation, level=1, reason="no reply", severity="routine")
    assert _staff(fake_twilio, mobile) == [(key_worker.mobile, notice)]

    # 17:00, not acknowledged: level 2 tells the ward manager and the on-call line.
    await _tick(sms_worker, clock, 4 * 60)
    await db.refresh(escalation)
    assert (escalation.level, escalation.ack_due_at) == (2, utc(2026, 12, 3, 1, 0))
    notice = staff_notice(escalation, level=2, reason="no reply", severity="routine")
    assert sorted(_staff(fake_twilio, mobile)[1:]) == sorted(
        [(manager.mobile, notice), (ON_CALL, notice)]
    )

    # A sweep in between changes nothing and texts nobody.
    await _tick(sms_worker, clock, 60)
    assert len(_staff(fake_twilio, mobile)) == 3

    # 01:00 next day, still nobody: level 3, the crisis contact.
    await _tick(sms_worker, clock, 7 * 60)
    await db.refresh(escalation)
    assert (escalation.level, escalation.status) == (3, "open")
    notice = staff_notice(escalation, level=3, reason="no reply", severity="routine")
    assert _staff(fake_twilio, mobile)[3:] == [(CRISIS, notice)]

    # The key worker acknowledges from the API, then resolves with a note.
    url = f"/api/v1/escalations/{escalation.id}"
    acked = await sms_client.post(f"{url}/acknowledge", headers=nurse_headers)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["level"]) == ("acknowledged", 3)
    resolved = await sms_client.post(
        f"{url}/resolve",
        json={
            "resolution_outcome": "contacted_patient_safe",
            "resolution_note": "Phoned the patient; phone had been lost. Safe and well.",
        },
        headers=nurse_headers,
    )
    assert resolved.status_code == 200, resolved.text

    # Days later: the ladder is silent for an answered escalation.
    await _tick(sms_worker, clock, 6 * 60)
    await db.refresh(escalation)
    assert (escalation.level, escalation.status) == (3, "resolved")
    staff = _staff(fake_twilio, mobile)
    assert Counter(to for to, _ in staff) == Counter(
        {key_worker.mobile: 1, manager.mobile: 1, ON_CALL: 1, CRISIS: 1}
    )
    # No names, no clinical detail: only the notices worked out above, one per level.
    assert {body for _, body in staff} == {
        staff_notice(escalation, level=n, reason="no reply", severity="routine") for n in (1, 2, 3)
    }
    # Every text went once: no repeated (recipient, text) pair, no retried send.
    assert len(set(_sent(fake_twilio))) == len(fake_twilio.accepted) == len(fake_twilio.creates)

    detail = (await sms_client.get(url, headers=nurse_headers)).json()
    assert [(e["kind"], e["level"]) for e in detail["events"]] == [
        ("opened", 1),
        ("notified", 1),
        ("climbed", 2),
        ("notified", 2),
        ("climbed", 3),
        ("notified", 3),
        ("acknowledged", 3),
        ("resolved", 3),
    ]
    climbs = await db.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "escalation.climb")
    )
    assert [(d["from_level"], d["to_level"]) for d in climbs] == [(1, 2), (2, 3)]


async def test_at_the_top_the_crisis_contact_is_told_again_at_each_missed_deadline(
    db, clock, sms_worker, fake_twilio
):
    ward, _, _ = await _ward_with_ladder(db)
    patient = await builders.home_patient(db, ward.id)

    row = await _raise(db, patient, clock, "help_request", "urgent", source="top")
    # Urgent: 15, 30 then 60 minutes per level.
    for minutes in (15, 30, 60):
        await _tick(sms_worker, clock, minutes)
    await db.refresh(row)
    assert row.level == 3
    told = Counter(m.to for m in fake_twilio.accepted)
    assert told[CRISIS] == 2
    kinds = (
        await db.scalars(
            select(EscalationEvent.kind)
            .where(EscalationEvent.escalation_id == row.id)
            .order_by(EscalationEvent.id)
        )
    ).all()
    assert kinds.count("deadline_missed") == 1


async def test_a_level_with_nobody_to_text_passes_its_notice_up(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    patient = await builders.home_patient(db, ward.id)  # no key worker

    row = await _raise(db, patient, clock, "low_score", "routine", source="nobody")
    await _tick(sms_worker, clock)

    assert [m.to for m in fake_twilio.accepted] == [ON_CALL]
    note = await db.scalar(
        select(EscalationEvent.note).where(
            EscalationEvent.escalation_id == row.id, EscalationEvent.kind == "notified"
        )
    )
    assert note == "texted 1 of 1 at level 2 (nobody reachable at level 1; passed to level 2)"
    # The escalation itself stands at the level that was told, with that level's deadline,
    # so the next climb does not text the on-call line a second time for the same step.
    await db.refresh(row)
    assert (row.level, row.ack_due_at) == (2, clock.now() + timedelta(hours=8))
    await _tick(sms_worker, clock, 8 * 60)
    await db.refresh(row)
    assert row.level == 3
    # Nobody at level 3 (no crisis line): the nearest level below is told again, not nobody.
    assert [m.to for m in fake_twilio.accepted] == [ON_CALL, ON_CALL]
    notes = (
        await db.scalars(
            select(EscalationEvent.note)
            .where(EscalationEvent.escalation_id == row.id, EscalationEvent.kind == "notified")
            .order_by(EscalationEvent.id)
        )
    ).all()
    assert (
        notes[-1]
        == "texted 1 of 1 at level 2 (nobody reachable at level 3 or above; level 2 again)"
    )


async def test_three_misses_in_a_row_make_the_no_reply_urgent(db, clock, sms_worker, fake_twilio):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    # Offsets 24, 48, 72 h: three prompts, none answered.
    for day in range(3):
        await _tick(sms_worker, clock, 24 * 60 if day == 0 else 20 * 60)
        await _tick(sms_worker, clock, 120)
        await _tick(sms_worker, clock, 120)
    rows = sorted(await escalations(db, patient.id), key=lambda e: e.opened_at)
    assert [(e.reason, e.severity) for e in rows] == [
        ("no_reply", "routine"),
        ("no_reply", "routine"),
        ("no_reply", "urgent"),
    ]


async def test_an_undelivered_prompt_raises_undeliverable_not_no_reply(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    fake_twilio.fail_for(patient.mobile, "invalid_number")
    await _tick(sms_worker, clock, 24 * 60)
    await _tick(sms_worker, clock, 240)
    await _tick(sms_worker, clock, 60)

    reasons = [e.reason for e in await escalations(db, patient.id)]
    assert reasons == ["undeliverable"]


async def test_acknowledged_in_time_means_nobody_else_is_texted(
    db, client, app, clock, sms_worker, fake_twilio
):
    ward, key_worker, _ = await _ward_with_ladder(db)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)

    row = await _raise(db, patient, clock, "help_request", "urgent", source="in-time")
    await _tick(sms_worker, clock)
    clock.advance(timedelta(minutes=10))
    acked = await client.post(
        f"/api/v1/escalations/{row.id}/acknowledge", headers=builders.bearer(app, key_worker)
    )
    assert acked.status_code == 200
    # Quiet until the resolve-by deadline (urgent: 4 h after acknowledging), not for ever:
    # test_escalation_resolve_by.py covers what happens at it.
    await _tick(sms_worker, clock, 239)
    assert [m.to for m in fake_twilio.accepted] == [key_worker.mobile]
    staff_rows = await db.scalars(
        select(OutboxMessage.purpose).where(OutboxMessage.recipient_kind == "staff")
    )
    assert staff_rows.all() == ["escalation_notice"]
    assert (await db.get(Escalation, row.id)).level == 1


async def test_an_urgent_escalation_reaching_level_two_tells_the_consenting_carer_once(
    db, clock, sms_worker, fake_twilio
):
    ward, key_worker, _ = await _ward_with_ladder(db)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    carer_mobile = builders.mobile()
    db.add(
        Carer(
            patient_id=patient.id,
            name="Sam Carer",
            relationship="sister",
            mobile=carer_mobile,
            consent_to_contact=True,
            consent_given_at=clock.now() - timedelta(days=1),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    await db.commit()
    row = await _raise(db, patient, clock, "help_request", "urgent", source="carer")
    await _tick(sms_worker, clock)
    assert carer_mobile not in {m.to for m in fake_twilio.accepted}  # level 1: staff only

    await _tick(sms_worker, clock, 15)  # level 2
    await _tick(sms_worker, clock, 30)  # level 3: the carer is not texted again
    to_carer = [m.body for m in fake_twilio.accepted if m.to == carer_mobile]
    assert len(to_carer) == 1
    assert "patient" not in to_carer[0].lower()  # discreet: no clinical or patient words
    kinds = (
        await db.scalars(
            select(EscalationEvent.kind).where(EscalationEvent.escalation_id == row.id)
        )
    ).all()
    assert kinds.count("carer_notified") == 1


async def test_a_prompt_that_never_left_closes_the_check_in_without_an_escalation(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    # Only the check-in sweep runs (as when the SMS cap holds every patient text): the prompt
    # and the reminder wait in the outbox, and the reply window closes.
    for minutes in (24 * 60, 120, 120):
        clock.advance(timedelta(minutes=minutes))
        await sms_worker.run_once("checkins")

    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.status_reason) == ("skipped", "not_sent")
    assert await escalations(db, patient.id) == []
    held = await db.scalars(
        select(OutboxMessage.status).where(OutboxMessage.check_in_id == first.id)
    )
    assert sorted(held.all()) == ["cancelled", "cancelled"]  # never sent after the close
    await _tick(sms_worker, clock)
    assert fake_twilio.accepted == []


async def test_a_staff_alert_that_fails_is_noted_on_the_escalation(
    db, clock, sms_worker, fake_twilio
):
    ward, key_worker, _ = await _ward_with_ladder(db)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    fake_twilio.fail_for(key_worker.mobile, "invalid_number")
    row = await _raise(db, patient, clock, "help_request", "urgent", source="bad-staff-number")
    await _tick(sms_worker, clock)

    events = (
        await db.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id == row.id)
            .order_by(EscalationEvent.id)
        )
    ).all()
    assert [e.kind for e in events] == ["opened", "notified", "notice_not_delivered"]
    assert events[-1].note == (
        "The text to a staff member at level 1 was not delivered (error 21211)."
    )
    # The patient's own channel is untouched: no number flag, no undeliverable escalation.
    assert [e.reason for e in await escalations(db, patient.id)] == ["help_request"]


async def test_a_delivered_reminder_makes_the_silence_count_even_if_the_prompt_is_unknown(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once("checkins")  # prompt queued
    fake_twilio.fail_next("server_error")  # an ambiguous send: the prompt becomes unknown
    await sms_worker.run_once("outbox")
    first = (await check_ins(db, patient.id))[0]
    prompt = await db.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"checkin:{first.id}:prompt")
    )
    assert prompt is not None and prompt.status == "unknown"

    await _tick(sms_worker, clock, 120)  # the reminder goes and is accepted
    await _tick(sms_worker, clock, 120)  # the reply window closes
    await db.refresh(first)
    assert first.status == "missed"
    # The unconfirmed prompt is raised on its own; the silence after the reminder is real.
    reasons = sorted(e.reason for e in await escalations(db, patient.id))
    assert reasons == ["no_reply", "undeliverable"]
