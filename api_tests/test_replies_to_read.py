"""Replies to read: free text and carers' texts reach a person, with a read-by deadline.

Signed webhooks through the app, real PostgreSQL, the ManualClock; expectations by hand.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import (
    check_ins,
    discharged_patient,
    escalations,
    fresh,
    inbound_params,
    post_signed,
)
from db.models import AuditEvent, Carer, Episode, Escalation, InboundMessage, Patient, ReplyToRead
from service.paging.texts import carer_notice

WEBHOOK = "/webhooks/twilio/sms"
VOICES = "not great, the voices are back"


async def _text(sms_client, sms_settings, number, body):
    response = await post_signed(
        sms_client, WEBHOOK, inbound_params(number, body), sms_settings.twilio_auth_token
    )
    assert response.status_code == 200
    return response


async def _prompted(db, clock, sms_worker, ward=None, **fields):
    """A discharged patient whose first check-in prompt went out ten minutes ago."""
    ward = ward or await builders.ward(db, crisis_message="Call the crisis line on 0800 000 0000.")
    patient = await discharged_patient(db, ward.id, clock.now(), **fields)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    clock.advance(timedelta(minutes=10))
    return ward, patient


async def _replies(db, patient_id):
    rows = await db.scalars(
        select(ReplyToRead)
        .where(ReplyToRead.patient_id == patient_id)
        .order_by(ReplyToRead.received_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def _staff(db, sms_app, ward):
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    return nurse, builders.bearer(sms_app, nurse)


async def test_free_text_answer_is_waiting_to_be_read_and_raises_unread_reply_once(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)
    _, headers = await _staff(db, sms_app, ward)
    received = clock.now()

    await _text(sms_client, sms_settings, patient.mobile, VOICES)

    # The check-in took it as its answer, and a person must still read it.
    first = (await check_ins(db, patient.id))[0]
    assert (first.status, first.reply) == ("answered", VOICES)
    r = await sms_client.get("/api/v1/replies?status=unread", headers=headers)
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item["patient_id"] == str(patient.id)
    assert item["body"] == VOICES
    assert item["from_carer"] is False
    assert (item["status"], item["read_by"], item["read_at"]) == ("unread", None, None)
    assert item["received_at"] == received.isoformat().replace("+00:00", "Z")
    # The default policy: 60 minutes to read it.
    assert item["read_due_at"] == (received + timedelta(minutes=60)).isoformat().replace(
        "+00:00", "Z"
    )

    clock.advance(timedelta(minutes=59))
    assert (await sms_worker.run_once("replies"))["replies"] == 0
    assert await escalations(db, patient.id) == []

    clock.advance(timedelta(minutes=2))
    # Two sweeps at once: the reply is raised once.
    both = await asyncio.gather(sms_worker.run_once("replies"), sms_worker.run_once("replies"))
    assert sorted(run["replies"] for run in both) == [0, 1]
    assert (await sms_worker.run_once("replies"))["replies"] == 0
    [escalation] = await escalations(db, patient.id)
    [reply] = await _replies(db, patient.id)
    assert (escalation.reason, escalation.severity, escalation.level, escalation.status) == (
        "unread_reply",
        "routine",
        1,
        "open",
    )
    assert (escalation.source_type, escalation.source_id) == ("reply", str(reply.id))
    assert reply.escalated_at == clock.now()


async def test_reading_the_reply_resolves_its_escalation_and_twice_is_409(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)
    nurse, headers = await _staff(db, sms_app, ward)
    await _text(sms_client, sms_settings, patient.mobile, VOICES)
    clock.advance(timedelta(minutes=61))
    await sms_worker.run_once("replies")
    [reply] = await _replies(db, patient.id)
    clock.advance(timedelta(minutes=5))

    r = await sms_client.post(
        f"/api/v1/replies/{reply.id}/read", json={"note": "Rang her back."}, headers=headers
    )

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["read_by"]) == ("read", str(nurse.id))
    assert body["read_at"] == clock.now().isoformat().replace("+00:00", "Z")
    [escalation] = await escalations(db, patient.id)
    assert (escalation.status, escalation.resolved_by) == ("resolved", nurse.id)
    assert (await sms_worker.run_once("replies"))["replies"] == 0
    again = await sms_client.post(f"/api/v1/replies/{reply.id}/read", headers=headers)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    actions = (
        await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(reply.id)))
    ).all()
    assert "reply.read" in actions


async def test_reading_before_the_deadline_raises_nothing(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)
    _, headers = await _staff(db, sms_app, ward)
    await _text(sms_client, sms_settings, patient.mobile, "can someone ring me about my tablets")
    [reply] = await _replies(db, patient.id)

    r = await sms_client.post(f"/api/v1/replies/{reply.id}/read", headers=headers)

    assert r.status_code == 200, r.text
    clock.advance(timedelta(hours=3))
    assert (await sms_worker.run_once("replies"))["replies"] == 0
    assert await escalations(db, patient.id) == []


async def test_only_texts_a_person_must_read_are_held(
    sms_client, db, clock, sms_worker, sms_settings
):
    ward = await builders.ward(db)
    texts = {
        "4": False,
        "4/5 thanks x": False,
        "three": False,
        "OK": False,
        "im fine thanks": False,
        "HELP": False,
        "4 but the voices are back": True,
        "2 not a good day": True,
        "stop smoking group was good": True,
        "not ok": True,
    }
    for n, (text, held) in enumerate(texts.items()):
        patient = await builders.home_patient(db, ward.id, mobile=builders.mobile(700 + n))
        await _text(sms_client, sms_settings, patient.mobile, text)
        assert len(await _replies(db, patient.id)) == int(held), text


async def test_a_low_score_with_words_or_suicide_risk_makes_it_urgent(
    sms_client, db, clock, sms_worker, sms_settings
):
    ward = await builders.ward(db)
    low = await builders.home_patient(db, ward.id)
    at_risk = await discharged_patient(db, ward.id, clock.now() - timedelta(days=2))
    episode = await db.scalar(select(Episode).where(Episode.patient_id == at_risk.id))
    episode.suicide_risk = True
    await db.commit()
    plain = await builders.home_patient(db, ward.id)

    await _text(sms_client, sms_settings, low.mobile, "2 the voices are back")
    await _text(sms_client, sms_settings, at_risk.mobile, "bad night")
    await _text(sms_client, sms_settings, plain.mobile, "bad night")

    assert [r.severity for r in await _replies(db, low.id)] == ["urgent"]
    assert [r.severity for r in await _replies(db, at_risk.id)] == ["urgent"]
    assert [r.severity for r in await _replies(db, plain.id)] == ["routine"]
    clock.advance(timedelta(minutes=61))
    await sms_worker.run_once("replies")
    [unread] = [e for e in await escalations(db, at_risk.id) if e.reason == "unread_reply"]
    assert unread.severity == "urgent"
    assert unread.ack_due_at == clock.now() + timedelta(minutes=15)


async def test_the_wards_read_minutes_set_the_deadline(sms_client, db, clock, sms_settings):
    ward = await builders.ward(db)
    ward.escalation_policy = {**(ward.escalation_policy or {}), "read_minutes": 15}
    await db.commit()
    patient = await builders.home_patient(db, ward.id)

    await _text(sms_client, sms_settings, patient.mobile, "can we talk")

    [reply] = await _replies(db, patient.id)
    assert reply.read_due_at == clock.now() + timedelta(minutes=15)


async def test_another_wards_staff_get_404_and_the_attempt_is_audited(
    sms_client, sms_app, db, clock, sms_settings
):
    ward = await builders.ward(db)
    other = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    outsider, outsider_headers = await _staff(db, sms_app, other)
    await _text(sms_client, sms_settings, patient.mobile, "can we talk")
    [reply] = await _replies(db, patient.id)

    r = await sms_client.post(f"/api/v1/replies/{reply.id}/read", headers=outsider_headers)
    assert r.status_code == 404
    missing = await sms_client.post(
        f"/api/v1/replies/{uuid.uuid4()}/read", headers=outsider_headers
    )
    assert missing.status_code == 404
    assert r.json()["detail"] == missing.json()["detail"]
    listed = await sms_client.get(
        f"/api/v1/replies?ward_id={ward.id}&patient_id={patient.id}", headers=outsider_headers
    )
    assert (listed.status_code, listed.json()["items"]) == (200, [])
    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == outsider.id, AuditEvent.outcome == "denied"
            )
        )
    ).all()
    assert [(d.action, d.object_id, d.patient_id) for d in denied if d.patient_id] == [
        ("reply.read", str(reply.id), patient.id)
    ]
    assert (await fresh(db, ReplyToRead, reply.id)).status == "unread"
    admin = await builders.user(db, "admin")
    forbidden = await sms_client.get("/api/v1/replies", headers=builders.bearer(sms_app, admin))
    assert forbidden.status_code == 403


async def test_the_list_filters_and_pages(sms_client, sms_app, db, clock, sms_settings):
    ward = await builders.ward(db)
    _, headers = await _staff(db, sms_app, ward)
    one = await builders.home_patient(db, ward.id)
    two = await builders.home_patient(db, ward.id)
    await _text(sms_client, sms_settings, one.mobile, "first")
    clock.advance(timedelta(minutes=1))
    await _text(sms_client, sms_settings, two.mobile, "second")
    clock.advance(timedelta(minutes=1))
    await _text(sms_client, sms_settings, one.mobile, "third")
    [first, _third] = await _replies(db, one.id)
    r = await sms_client.post(f"/api/v1/replies/{first.id}/read", headers=headers)
    assert r.status_code == 200

    async def bodies(query):
        r = await sms_client.get(f"/api/v1/replies?{query}", headers=headers)
        assert r.status_code == 200, r.text
        return [i["body"] for i in r.json()["items"]]

    assert await bodies("") == ["third", "second", "first"]
    assert await bodies("status=unread") == ["second", "third"]
    assert await bodies("status=read") == ["first"]
    assert await bodies(f"patient_id={one.id}") == ["third", "first"]
    assert await bodies(f"patient_id={two.id}&status=unread") == ["second"]
    assert await bodies(f"ward_id={ward.id}") == ["third", "second", "first"]
    assert await bodies(f"ward_id={uuid.uuid4()}") == []
    page = await sms_client.get("/api/v1/replies?status=unread&limit=1", headers=headers)
    assert [i["body"] for i in page.json()["items"]] == ["second"]
    cursor = page.json()["next_cursor"]
    assert await bodies(f"status=unread&limit=1&cursor={cursor}") == ["third"]
    bad = await sms_client.get("/api/v1/replies?status=lost", headers=headers)
    assert bad.status_code == 400 or bad.status_code == 422
    assert (await sms_client.get("/api/v1/replies?limit=201", headers=headers)).status_code in (
        400,
        422,
    )


# --- carers ------------------------------------------------------------------------------


async def _with_carer(db, clock, patient, mobile, *, consent=True):
    db.add(
        Carer(
            patient_id=patient.id,
            name="Sam",
            relationship="partner",
            mobile=mobile,
            consent_to_contact=consent,
            consent_given_at=clock.now() - timedelta(days=1) if consent else None,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    await db.commit()


async def test_a_carers_text_is_a_reply_to_read_not_the_patients_answer(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)
    carer_number = builders.mobile(61001)
    await _with_carer(db, clock, patient, carer_number)
    _, headers = await _staff(db, sms_app, ward)

    await _text(sms_client, sms_settings, carer_number, "3")
    clock.advance(timedelta(minutes=1))
    await _text(sms_client, sms_settings, carer_number, "he has not eaten for days")

    first = (await check_ins(db, patient.id))[0]
    assert first.status != "answered" and first.reply is None
    items = (await sms_client.get("/api/v1/replies", headers=headers)).json()["items"]
    assert [(i["body"], i["from_carer"], i["patient_id"]) for i in items] == [
        ("he has not eaten for days", True, str(patient.id)),
        ("3", True, str(patient.id)),
    ]
    inbound = (
        await db.scalars(select(InboundMessage).where(InboundMessage.patient_id == patient.id))
    ).all()
    assert {(m.from_carer, m.check_in_id) for m in inbound} == {(True, None)}
    assert await escalations(db, patient.id) == []


async def test_the_sms_history_says_whether_the_patient_or_the_carer_wrote_each_text(
    sms_client, sms_app, db, clock, sms_worker, sms_settings
):
    ward, patient = await _prompted(db, clock, sms_worker)
    carer_number = builders.mobile(61004)
    await _with_carer(db, clock, patient, carer_number)
    nurse, headers = await _staff(db, sms_app, ward)
    await _text(sms_client, sms_settings, carer_number, "she seems very low today")
    clock.advance(timedelta(minutes=1))
    await _text(sms_client, sms_settings, patient.mobile, "4")

    response = await sms_client.get(f"/api/v1/patients/{patient.id}/messages", headers=headers)
    assert response.status_code == 200
    history = [(m["direction"], m["sender"], m["body"]) for m in response.json()["items"]]
    assert history[:2] == [
        ("inbound", "patient", "4"),
        ("inbound", "carer", "she seems very low today"),
    ]
    # The check-in prompt sent before them is the ward's.
    assert {m[1] for m in history[2:]} == {"ward"}

    # The patient's page says it too.
    form = await sms_client.get("/board/login")
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    signed_in = await sms_client.post(
        "/board/login",
        data={"email": nurse.email, "password": builders.PASSWORD, "login_csrf": login_csrf},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    page = await sms_client.get(f"/board/patients/{patient.id}/live")
    assert page.status_code == 200
    who = re.findall(
        r'<span class="who">([^<]+)</span>\s*<span class="body">([^<]+)</span>', page.text
    )
    inbound = [w for w in who if w[0] != "Homeward"]
    assert sorted(inbound) == [("Carer", "she seems very low today"), ("Patient", "4")]


async def test_a_carers_crisis_text_raises_help_request_with_the_crisis_reply(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    carer_number = builders.mobile(61002)
    await _with_carer(db, clock, patient, carer_number)

    response = await _text(sms_client, sms_settings, carer_number, "Please help, he is not safe")

    assert "<Message>Call the crisis line on 0800 000 0000.</Message>" in response.text
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity, escalation.source_type) == (
        "help_request",
        "urgent",
        "sms_inbound",
    )
    assert (await check_ins(db, patient.id))[0].status != "answered"


async def test_a_carer_writing_of_the_patient_in_the_third_person_raises_help_request(
    sms_client, db, clock, sms_worker, sms_settings
):
    _, patient = await _prompted(db, clock, sms_worker)
    carer_number = builders.mobile(61004)
    await _with_carer(db, clock, patient, carer_number)

    response = await _text(
        sms_client, sms_settings, carer_number, "I think he wants to end his life, he won't talk"
    )

    assert "<Message>Call the crisis line on 0800 000 0000.</Message>" in response.text
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity) == ("help_request", "urgent")


async def test_a_carers_stop_stops_only_carer_notices_and_start_allows_them_again(
    sms_client, db, clock, sms_settings
):
    ward = await builders.ward(db)
    ward.escalation_policy = {**(ward.escalation_policy or {}), "on_call_phone": "01632 960000"}
    await db.commit()
    patient = await builders.home_patient(db, ward.id)
    carer_number = builders.mobile(61003)
    await _with_carer(db, clock, patient, carer_number)

    async def notice(source):
        row = Escalation(
            id=uuid.uuid4(), patient_id=patient.id, ward_id=ward.id, reason="help_request",
            severity="urgent", level=2, status="open", source_type="test", source_id=source,
            opened_at=clock.now(), ack_due_at=clock.now(),
        )  # fmt: skip
        db.add(row)
        await db.commit()
        queued = await carer_notice(db, row, clock.now())
        await db.commit()
        return queued

    await _text(sms_client, sms_settings, carer_number, "STOP")

    carer = await fresh(db, Carer, patient.id)
    assert (carer.sms_opted_out, carer.sms_opted_out_at) == (True, clock.now())
    assert (await fresh(db, Patient, patient.id)).sms_opted_out is False
    assert await escalations(db, patient.id) == []
    assert await _replies(db, patient.id) == []
    assert await notice("stopped") is None

    await _text(sms_client, sms_settings, carer_number, "START")

    assert (await fresh(db, Carer, patient.id)).sms_opted_out is False
    assert await notice("started") is not None


async def test_a_shared_number_we_last_texted_as_the_patient_stays_the_patients(
    sms_client, db, clock, sms_worker, sms_settings
):
    # Patient B's carer uses the phone that patient A (just prompted) also uses.
    ward, a = await _prompted(db, clock, sms_worker)
    b = await builders.home_patient(db, ward.id)
    await _with_carer(db, clock, b, a.mobile)

    await _text(sms_client, sms_settings, a.mobile, "4")

    assert (await check_ins(db, a.id))[0].score == 4
    assert await _replies(db, b.id) == []
