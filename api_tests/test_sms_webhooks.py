"""Signed Twilio webhooks: inbound replies (scores, HELP, STOP, START) and delivery reports."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import (
    check_ins,
    count,
    discharged_patient,
    escalations,
    fresh,
    inbound_params,
    outbox_rows,
    post_signed,
    signature,
)
from api_tests.test_replies import STOP_VARIANTS
from db.models import AuditEvent, InboundMessage, OutboxMessage, Patient
from service.sms import outbox

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


async def _prompted(db, clock, sms_worker, **fields):
    """A discharged patient whose first check-in prompt has just gone out."""
    ward = await builders.ward(db, crisis_message="Call the crisis line on 0800 000 0000.")
    patient = await discharged_patient(db, ward.id, clock.now(), **fields)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(minutes=10))
    return ward, patient


async def test_a_score_answers_the_open_check_in(sms_client, db, clock, sms_worker, sms_settings):
    _, patient = await _prompted(db, clock, sms_worker)

    response = await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "4"),
        sms_settings.twilio_auth_token,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text == EMPTY_TWIML
    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.score, first.reply) == ("answered", 4, "4")
    assert first.answered_at == clock.now()
    assert await escalations(db, patient.id) == []


async def test_a_low_score_raises_low_score(sms_client, db, clock, sms_worker, sms_settings):
    _, patient = await _prompted(db, clock, sms_worker)

    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "2 not a good day"),
        sms_settings.twilio_auth_token,
    )

    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity, escalation.level) == ("low_score", "routine", 1)
    first = (await check_ins(db, patient.id))[0]
    assert (first.score, first.reply) == (2, "2 not a good day")


async def test_help_raises_an_urgent_escalation_and_replies_with_the_crisis_message(
    sms_client, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)

    response = await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "HELP"),
        sms_settings.twilio_auth_token,
    )

    assert response.status_code == 200
    assert "<Message>Call the crisis line on 0800 000 0000.</Message>" in response.text
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity) == ("help_request", "urgent")
    assert escalation.ack_due_at == clock.now() + timedelta(minutes=15)
    reply = [r for r in await outbox_rows(db, patient.id) if r.purpose == "crisis_reply"]
    assert [(r.status, r.provider, r.body) for r in reply] == [
        ("sent", "twiml", ward.crisis_message)
    ]


async def test_every_stop_variant_opts_out_and_tells_staff(sms_client, db, clock, sms_settings):
    ward = await builders.ward(db)
    for n, text in enumerate(STOP_VARIANTS):
        patient = await builders.home_patient(db, ward.id, mobile=builders.mobile(900 + n))
        response = await post_signed(
            sms_client,
            "/webhooks/twilio/sms",
            inbound_params(patient.mobile, text),
            sms_settings.twilio_auth_token,
        )
        assert response.status_code == 200
        assert (await fresh(db, Patient, patient.id)).sms_opted_out is True, text
        assert [e.reason for e in await escalations(db, patient.id)] == ["opted_out"], text
    kinds = (await db.scalars(select(InboundMessage.kind))).all()
    assert set(kinds) == {"stop"} and len(kinds) == len(STOP_VARIANTS)


async def test_stop_inside_a_sentence_is_kept_as_an_answer_not_an_opt_out(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)

    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "stop smoking group was good"),
        sms_settings.twilio_auth_token,
    )

    assert (await fresh(db, Patient, patient.id)).sms_opted_out is False
    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.score, first.reply) == (
        "answered",
        None,
        "stop smoking group was good",
    )
    [message] = (await db.scalars(select(InboundMessage))).all()
    assert message.kind == "free_text"


async def test_start_after_stop_opts_back_in_and_restores_future_check_ins(
    sms_client, db, clock, sms_worker, sms_settings, fake_twilio
):
    _, patient = await _prompted(db, clock, sms_worker)
    token = sms_settings.twilio_auth_token
    await post_signed(
        sms_client, "/webhooks/twilio/sms", inbound_params(patient.mobile, "STOP"), token
    )
    assert {r.status for r in await check_ins(db, patient.id)} == {"cancelled"}

    await post_signed(
        sms_client, "/webhooks/twilio/sms", inbound_params(patient.mobile, "START"), token
    )

    assert (await fresh(db, Patient, patient.id)).sms_opted_out is False
    rows = await check_ins(db, patient.id)
    assert rows[0].status == "cancelled"  # the one already sent stays closed
    assert {r.status for r in rows[1:]} == {"scheduled"}
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    assert len(fake_twilio.accepted) == 2


async def test_forged_or_missing_signatures_get_403_and_nothing_is_stored(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    token = sms_settings.twilio_auth_token
    params = inbound_params(patient.mobile, "HELP")
    row = (await outbox_rows(db, patient.id))[0]

    attempts = [
        await sms_client.post("/webhooks/twilio/sms", data=params),
        await sms_client.post(
            "/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": "forged"}
        ),
        # Signed with the wrong token.
        await post_signed(sms_client, "/webhooks/twilio/sms", params, "not-the-auth-token"),
        # Signed for the Host the request carries rather than PUBLIC_BASE_URL.
        await post_signed(
            sms_client,
            "/webhooks/twilio/sms",
            params,
            token,
            signed_url="http://testserver.local/webhooks/twilio/sms",
        ),
        # A valid signature for different parameters.
        await sms_client.post(
            "/webhooks/twilio/sms",
            data={**params, "Body": "1"},
            headers={
                "X-Twilio-Signature": signature(
                    token, "https://homeward.test/webhooks/twilio/sms", params
                )
            },
        ),
        await sms_client.post(
            f"/webhooks/twilio/status?outbox_id={row.id}",
            data={"MessageSid": row.sid, "MessageStatus": "undelivered", "ErrorCode": "30006"},
            headers={"X-Twilio-Signature": "forged"},
        ),
    ]

    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert attempts[0].headers["content-type"].startswith("application/problem+json")
    assert await count(db, InboundMessage) == 0
    assert await escalations(db, patient.id) == []
    assert (await check_ins(db, patient.id))[0].status == "sent"
    assert (await fresh(db, OutboxMessage, row.id)).status == "sent"


async def test_a_repeated_message_sid_is_processed_once(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    params = inbound_params(patient.mobile, "help me")

    first = await post_signed(
        sms_client, "/webhooks/twilio/sms", params, sms_settings.twilio_auth_token
    )
    again = await post_signed(
        sms_client, "/webhooks/twilio/sms", params, sms_settings.twilio_auth_token
    )

    assert first.status_code == again.status_code == 200
    assert first.text == again.text  # Twilio's retry gets the same answer
    assert await count(db, InboundMessage) == 1
    assert [e.reason for e in await escalations(db, patient.id)] == ["help_request"]
    replies = [r for r in await outbox_rows(db, patient.id) if r.purpose == "crisis_reply"]
    assert len(replies) == 1


async def _status(client, settings, row, status, error_code=None):
    params = {"MessageSid": row.sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return await post_signed(
        client,
        "/webhooks/twilio/status",
        params,
        settings.twilio_auth_token,
        query=f"outbox_id={row.id}",
    )


async def test_a_late_sent_after_delivered_leaves_delivered(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    row = (await outbox_rows(db, patient.id))[0]

    delivered = await _status(sms_client, sms_settings, row, "delivered")
    late = await _status(sms_client, sms_settings, row, "sent")

    assert (delivered.status_code, late.status_code) == (204, 204)
    row = await fresh(db, OutboxMessage, row.id)
    assert (row.status, row.provider_status) == ("delivered", "delivered")


async def test_callbacks_move_forward_through_twilios_statuses(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    row = (await outbox_rows(db, patient.id))[0]

    await _status(sms_client, sms_settings, row, "sent")
    await _status(sms_client, sms_settings, row, "queued")
    row = await fresh(db, OutboxMessage, row.id)
    assert (row.status, row.provider_status) == ("sent", "sent")


async def test_a_callback_reconciles_a_send_whose_connection_dropped(
    sms_client, db, clock, sms_worker, sms_settings, fake_twilio
):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outbox_id = await outbox.enqueue(
        db,
        dedupe_key="test:drop",
        to_number=patient.mobile,
        body="hello",
        purpose="test",
        now=clock.now(),
        patient_id=patient.id,
        ward_id=ward.id,
    )
    await db.commit()
    fake_twilio.fail_next("drop")
    await sms_worker.run_once("outbox")
    row = await fresh(db, OutboxMessage, outbox_id)
    assert (row.status, row.sid) == ("unknown", None)
    [created] = fake_twilio.accepted

    row.sid = created.sid  # what Twilio's callback will carry
    response = await _status(sms_client, sms_settings, row, "delivered")

    assert response.status_code == 204
    row = await fresh(db, OutboxMessage, outbox_id)
    assert (row.status, row.sid, row.status_reason) == ("delivered", created.sid, "reconciled")
    clock.advance(timedelta(hours=1))
    await sms_worker.run_once("outbox")
    assert await escalations(db, patient.id) == []
    assert len(fake_twilio.creates) == 1


async def test_an_undelivered_callback_for_a_landline_flags_the_number(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    row = (await outbox_rows(db, patient.id))[0]

    await _status(sms_client, sms_settings, row, "undelivered", 30006)

    row = await fresh(db, OutboxMessage, row.id)
    assert (row.status, row.error_code) == ("undelivered", 30006)
    assert [e.reason for e in await escalations(db, patient.id)] == ["undeliverable"]
    assert (await check_ins(db, patient.id))[0].status == "skipped"


async def test_messages_lists_the_conversation_both_ways_with_statuses(
    sms_client, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)
    await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "3"),
        sms_settings.twilio_auth_token,
    )
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(sms_client.app, nurse)

    page = await sms_client.get(f"/api/v1/patients/{patient.id}/messages?limit=1", headers=headers)
    rest = await sms_client.get(
        f"/api/v1/patients/{patient.id}/messages?cursor={page.json()['next_cursor']}",
        headers=headers,
    )

    items = page.json()["items"] + rest.json()["items"]
    assert [(i["direction"], i["status"]) for i in items] == [
        ("inbound", "received"),
        ("outbound", "sent"),
    ]
    assert (items[0]["body"], items[0]["kind"], items[0]["score"]) == ("3", "score", 3)
    assert items[1]["purpose"] == "checkin_prompt"
    assert rest.json()["next_cursor"] is None
    audited = (
        await db.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == patient.id))
    ).all()
    assert "sms.list" in audited and "sms.inbound" in audited
