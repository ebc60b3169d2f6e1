"""Staff answer a patient by text: POST /api/v1/patients/{id}/messages queues it in the outbox;
the outbox sweep sends it through the real Twilio SDK to the loopback fake."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from api_tests import builders
from api_tests.sms_helpers import fresh, outbox_rows
from db.models import AuditEvent, IdempotencyKey, OutboxMessage, Patient


async def _staff(client, db, **patient_fields):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id, **patient_fields)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    await db.commit()
    return patient, nurse, builders.bearer(client.app, nurse)


def _url(patient) -> str:
    return f"/api/v1/patients/{patient.id}/messages"


async def test_a_ward_message_is_queued_listed_and_then_sent_by_the_outbox(
    client, db, sms_worker, fake_twilio
):
    patient, nurse, headers = await _staff(client, db)

    answer = await client.post(
        _url(patient), json={"body": "  See you at 3 on Friday.  "}, headers=headers
    )

    assert answer.status_code == 201, answer.text
    out = answer.json()
    assert (out["direction"], out["body"], out["status"], out["purpose"]) == (
        "outbound",
        "See you at 3 on Friday.",
        "queued",
        "ward_message",
    )
    assert fake_twilio.creates == []  # nothing leaves inside the request
    listed = (await client.get(_url(patient), headers=headers)).json()["items"]
    assert listed[0] == out

    await sms_worker.run_once("outbox")
    [sent] = fake_twilio.accepted
    assert (sent.to, sent.body) == (patient.mobile, "See you at 3 on Friday.")

    [event] = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "sms.send"))).all()
    assert (event.actor_id, event.patient_id, event.object_id) == (
        nurse.id,
        patient.id,
        out["id"],
    )
    assert "Friday" not in str(event.detail)


async def test_a_retried_request_with_the_same_idempotency_key_is_one_text(client, db):
    patient, _, headers = await _staff(client, db)
    headers = {**headers, "Idempotency-Key": "reply-7"}

    first = await client.post(_url(patient), json={"body": "Call us back."}, headers=headers)
    # The first answer was never stored (the server died after its commit): the retry runs
    # the handler again, and the outbox's dedupe key still makes it the same text.
    await db.execute(delete(IdempotencyKey))
    await db.commit()
    second = await client.post(_url(patient), json={"body": "Call us back."}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(await outbox_rows(db, patient.id)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   ", "must not be empty"),
        ("x" * 613, "must be at most 612 characters"),
        ("hello\x00there", "must not contain NUL characters"),
    ],
    ids=["blank", "613_chars", "nul"],
)
async def test_a_bad_body_is_422_naming_the_field_and_queues_nothing(client, db, body, message):
    patient, _, headers = await _staff(client, db)

    answer = await client.post(_url(patient), json={"body": body}, headers=headers)

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"] == [{"field": "body", "message": message}]
    assert await outbox_rows(db, patient.id) == []


async def test_612_characters_are_accepted(client, db):
    patient, _, headers = await _staff(client, db)
    answer = await client.post(_url(patient), json={"body": "y" * 612}, headers=headers)
    assert answer.status_code == 201


async def test_a_missing_body_is_422(client, db):
    patient, _, headers = await _staff(client, db)
    answer = await client.post(_url(patient), json={}, headers=headers)
    assert answer.status_code == 422
    assert "body" in answer.text


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"sms_opted_out": True}, "The patient has opted out of SMS."),
        ({"sms_consent": False}, "The patient has not consented to SMS."),
        ({"mobile": None}, "The patient has no mobile number on record."),
        (
            {"status": "readmitted"},
            "Texts go only to patients at home: this patient is not discharged.",
        ),
    ],
    ids=["opted_out", "no_consent", "no_mobile", "on_ward"],
)
async def test_a_patient_who_may_not_be_texted_is_a_409_with_the_reason(client, db, fields, detail):
    patient, _, headers = await _staff(client, db, **fields)

    answer = await client.post(_url(patient), json={"body": "Hello"}, headers=headers)

    assert answer.status_code == 409
    assert answer.json()["detail"] == detail
    assert await outbox_rows(db, patient.id) == []


async def test_clinical_words_to_a_patient_with_discreet_messages_are_refused(client, db):
    patient, _, headers = await _staff(client, db, discreet_messages=True)

    refused = await client.post(
        _url(patient), json={"body": "Your nurse will call about your medication."}, headers=headers
    )
    fine = await client.post(_url(patient), json={"body": "Call us back today."}, headers=headers)

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body"
    assert fine.status_code == 201


async def test_a_message_written_at_night_waits_for_the_patients_window(
    client, db, clock, sms_worker, fake_twilio
):
    patient, _, headers = await _staff(client, db)
    clock.set(datetime(2026, 12, 2, 2, 30, tzinfo=UTC))

    answer = await client.post(_url(patient), json={"body": "Call us back."}, headers=headers)
    assert answer.status_code == 201
    await sms_worker.run_once("outbox")
    assert fake_twilio.accepted == []
    row = await fresh(db, OutboxMessage, answer.json()["id"])
    assert (row.status, row.next_attempt_at) == ("queued", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))

    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    await sms_worker.run_once("outbox")
    assert len(fake_twilio.accepted) == 1


async def test_a_message_with_clinical_words_is_withdrawn_if_discreet_mode_comes_on_first(
    client, db, sms_worker, fake_twilio
):
    patient, _, headers = await _staff(client, db)
    answer = await client.post(
        _url(patient), json={"body": "Your nurse will call tomorrow."}, headers=headers
    )
    await db.execute(
        Patient.__table__.update().where(Patient.id == patient.id).values(discreet_messages=True)
    )
    await db.commit()

    await sms_worker.run_once("outbox")

    assert fake_twilio.creates == []
    row = await fresh(db, OutboxMessage, answer.json()["id"])
    assert (row.status, row.status_reason) == ("cancelled", "wording_changed")
    assert (
        await db.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued")
        )
        == 0
    )
