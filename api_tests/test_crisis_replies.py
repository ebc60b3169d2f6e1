"""Crisis texts over the signed webhook: who is told, what the sender is sent back, unknown
numbers, and inputs that must not break the handler."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import (
    count,
    discharged_patient,
    escalations,
    inbound_params,
    outbox_rows,
    post_signed,
)
from db.models import AuditEvent, Escalation, InboundMessage, UnmatchedInbound
from service.wards.schemas import EscalationPolicy

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
# The default crisis text, spelt out here by hand.
ROUTES = (
    "Need help now? Call NHS 111 and choose option 2 for mental health, or Samaritans "
    "free on 116 123, any time. In an emergency call 999."
)
STRANGER = "+447700900999"


async def _prompted(db, clock, sms_worker, **ward_fields):
    ward = await builders.ward(db, **ward_fields)
    patient = await discharged_patient(db, ward.id, clock.now())
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(minutes=10))
    return ward, patient


async def _text(client, settings, sender, body, **extra):
    params = {**inbound_params(sender, body), **extra}
    return await post_signed(client, "/webhooks/twilio/sms", params, settings.twilio_auth_token)


async def test_crisis_texts_as_typed_raise_help_and_get_the_crisis_reply(
    sms_client, db, clock, sms_worker, sms_settings
):
    texts = ["pls help", "sucidal", "killmyself", "kill my self", "took all my pills", "\U0001f198"]
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone="07911123999"))
    for n, text in enumerate(texts):
        patient = await discharged_patient(
            db, ward.id, clock.now(), mobile=builders.mobile(700 + n)
        )
        response = await _text(sms_client, sms_settings, patient.mobile, text)
        assert response.status_code == 200
        expected = ROUTES + " Ward: 07911 123999."
        assert f"<Message>{expected}</Message>" in response.text, text
        [escalation] = await escalations(db, patient.id)
        assert (escalation.reason, escalation.severity) == ("help_request", "urgent"), text
        [reply] = [r for r in await outbox_rows(db, patient.id) if r.purpose == "crisis_reply"]
        assert reply.body == expected


async def test_the_default_crisis_reply_names_111_samaritans_999_and_the_ward_in_one_sms(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(
        db, clock, sms_worker, escalation_policy=EscalationPolicy(on_call_phone="020 7946 0000")
    )
    response = await _text(sms_client, sms_settings, patient.mobile, "HELP")

    expected = (
        "Need help now? Call NHS 111 and choose option 2 for mental health, or Samaritans "
        "free on 116 123, any time. In an emergency call 999. Ward: 020 7946 0000."
    )
    assert f"<Message>{expected}</Message>" in response.text
    # One GSM-7 segment: 160 characters at most, none outside the basic alphabet.
    assert len(expected) == 154
    assert expected.isascii() and "[" not in expected and "{" not in expected


async def test_the_crisis_line_is_used_when_there_is_no_on_call_phone(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(
        db, clock, sms_worker, escalation_policy=EscalationPolicy(crisis_phone="+441134960000")
    )
    response = await _text(sms_client, sms_settings, patient.mobile, "help me")
    assert f"<Message>{ROUTES} Ward: 0113 496 0000.</Message>" in response.text


async def test_a_ward_message_that_already_gives_its_number_is_sent_as_written(
    sms_client, db, clock, sms_worker, sms_settings
):
    message = "Ring the ward on 020-7946-0000 or NHS 111 option 2. Emergency: 999."
    _, patient = await _prompted(
        db,
        clock,
        sms_worker,
        crisis_message=message,
        escalation_policy=EscalationPolicy(on_call_phone="+442079460000"),
    )
    response = await _text(sms_client, sms_settings, patient.mobile, "i want to end it")
    assert f"<Message>{message}</Message>" in response.text


async def test_a_crisis_text_with_a_low_score_raises_both_escalations(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    response = await _text(sms_client, sms_settings, patient.mobile, "1 I want to end it")
    assert f"<Message>{ROUTES}</Message>" in response.text
    reasons = sorted((e.reason, e.severity) for e in await escalations(db, patient.id))
    assert reasons == [("help_request", "urgent"), ("low_score", "urgent")]


async def test_an_unknown_number_texting_help_gets_the_crisis_routes_and_is_kept(
    sms_client, db, clock, sms_settings
):
    # A ward with its own number and message exists: none of it may reach a stranger.
    await builders.ward(
        db,
        crisis_message="Call Willow ward on 020 7946 0000.",
        escalation_policy=EscalationPolicy(on_call_phone="+442079460000"),
    )
    params = inbound_params(STRANGER, "pls help me", sid="SM" + "a" * 32)
    token = sms_settings.twilio_auth_token
    first = await post_signed(sms_client, "/webhooks/twilio/sms", params, token)
    again = await post_signed(sms_client, "/webhooks/twilio/sms", params, token)

    expected = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "Need help now? Call NHS 111 and choose option 2 for mental health, or Samaritans "
        "free on 116 123, any time. In an emergency call 999.</Message></Response>"
    )
    assert (first.status_code, first.text) == (200, expected)
    assert (again.status_code, again.text) == (200, expected)
    [row] = (await db.scalars(select(UnmatchedInbound))).all()
    assert (row.message_sid, row.from_number, row.body, row.kind, row.crisis_routes_sent) == (
        "SM" + "a" * 32,
        STRANGER,
        "pls help me",
        "help",
        True,
    )
    assert row.received_at == clock.now()
    assert await count(db, InboundMessage) == 0
    assert await count(db, Escalation) == 0


async def test_other_texts_from_unknown_numbers_are_kept_but_not_answered(
    sms_client, db, sms_settings
):
    response = await _text(sms_client, sms_settings, STRANGER, "is this Sam? running late")
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    [row] = (await db.scalars(select(UnmatchedInbound))).all()
    assert (row.body, row.kind, row.crisis_routes_sent) == (
        "is this Sam? running late",
        "free_text",
        False,
    )


async def test_admins_see_unmatched_texts_newest_first_and_the_read_is_audited(
    sms_app, sms_client, db, clock, sms_settings
):
    await _text(sms_client, sms_settings, STRANGER, "first")
    clock.advance(timedelta(minutes=1))
    await _text(sms_client, sms_settings, "+447700900998", "HELP")
    admin = await builders.user(db, "admin")
    headers = builders.bearer(sms_app, admin)

    page = await sms_client.get("/api/v1/admin/unmatched-texts?limit=1", headers=headers)
    assert page.status_code == 200
    [newest] = page.json()["items"]
    assert (newest["body"], newest["kind"], newest["crisis_routes_sent"]) == ("HELP", "help", True)
    rest = await sms_client.get(
        f"/api/v1/admin/unmatched-texts?limit=1&cursor={page.json()['next_cursor']}",
        headers=headers,
    )
    assert [i["body"] for i in rest.json()["items"]] == ["first"]
    assert rest.json()["next_cursor"] is None
    reads = (
        await db.scalars(select(AuditEvent).where(AuditEvent.action == "sms.unmatched.list"))
    ).all()
    assert [(e.actor_id, e.detail["ids"]) for e in reads] == [
        (admin.id, [newest["id"]]),
        (admin.id, [rest.json()["items"][0]["id"]]),
    ]


async def test_a_reply_over_1600_characters_is_stored_cut_to_1600(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    response = await _text(sms_client, sms_settings, patient.mobile, "a" * 2000)
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    [row] = (await db.scalars(select(InboundMessage))).all()
    assert (len(row.body), row.kind) == (1600, "free_text")


async def test_nul_bytes_are_dropped_before_storage_and_help_still_counts(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    response = await _text(
        sms_client, sms_settings, patient.mobile, "HE\x00LP\x00", To="+44770090\x000001"
    )
    assert response.status_code == 200
    assert f"<Message>{ROUTES}</Message>" in response.text
    [row] = (await db.scalars(select(InboundMessage))).all()
    assert (row.body, row.kind, row.to_number) == ("HELP", "help", "+447700900001")

    stranger = await _text(sms_client, sms_settings, STRANGER, "kill\x00myself")
    assert f"<Message>{ROUTES}</Message>" in stranger.text
    [kept] = (await db.scalars(select(UnmatchedInbound))).all()
    assert (kept.body, kept.kind) == ("killmyself", "help")


async def test_only_emoji_is_free_text_and_the_sos_emoji_is_a_crisis(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    smiles = await _text(sms_client, sms_settings, patient.mobile, "\U0001f600\U0001f600")
    assert (smiles.status_code, smiles.text) == (200, EMPTY_TWIML)
    assert await escalations(db, patient.id) == []
    sos = await _text(sms_client, sms_settings, patient.mobile, "\U0001f198")
    assert f"<Message>{ROUTES}</Message>" in sos.text
    rows = (await db.scalars(select(InboundMessage).order_by(InboundMessage.received_at))).all()
    assert sorted((r.body, r.kind) for r in rows) == [
        ("\U0001f198", "help"),
        ("\U0001f600\U0001f600", "free_text"),
    ]


async def test_a_picture_message_with_no_body_is_stored_as_an_empty_text(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    response = await _text(
        sms_client,
        sms_settings,
        patient.mobile,
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    [row] = (await db.scalars(select(InboundMessage))).all()
    assert (row.body, row.kind) == ("", "free_text")
    assert await escalations(db, patient.id) == []
