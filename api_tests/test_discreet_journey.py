"""Discreet mode end to end: a patient whose phone others may read is walked through every kind
of text the product sends them (and their carer), and each text that leaves is checked
against a list of words written here by hand. Real PostgreSQL, the real Twilio SDK against the
loopback fake, the signed webhook; TwiML answers are read from the webhook's responses (Twilio
sends those for us, so the fake never sees them).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from api_tests import builders
from api_tests.sms_helpers import (
    check_ins,
    discharged_patient,
    escalations,
    fresh,
    inbound_params,
    outbox_rows,
    post_signed,
)
from db.models import Carer, Escalation, OutboxMessage, Patient, PromItem, PromSurvey
from service.escalations.service import raise_escalation
from service.wards.schemas import EscalationPolicy

WARD_NAME = "Larkspur Ward"
ON_CALL = "+441134960777"
CRISIS = "+441134960999"
# The ward's own crisis message, as a manager might write it: clinical words and a number.
WARD_CRISIS_MESSAGE = (
    "Call the Larkspur crisis team on 0113 496 0555, or NHS 111 option 2 for mental health."
)
CARER_MOBILE = "+447911123457"

# Words a text to a discreet patient (or their carer) must never carry: the ward, the
# service, anything that says mental health or crisis care. Written out here, not taken from
# the code's own list, so the code cannot pass by agreeing with itself.
BANNED = (
    "larkspur",
    "ward",
    "hospital",
    "homeward",
    "nhs",
    "mental",
    "health",
    "psychiatr",
    "therap",
    "clinic",
    "nurse",
    "doctor",
    "care team",
    "key worker",
    "discharge",
    "crisis",
    "mood",
    "check-in",
    "check in",
    "medication",
    "meds",
    "relapse",
    "recovery",
    "symptom",
    "suicid",
    "self-harm",
    "self harm",
    "overdose",
    "samaritan",
)


def banned_in(body: str, also: tuple[str, ...] = ()) -> list[str]:
    lowered = body.lower()
    return [w for w in (*BANNED, *also) if w.lower() in lowered]


def _twiml_messages(text: str) -> list[str]:
    return [m.text or "" for m in ET.fromstring(text).iter("Message")]


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


async def test_a_discreet_patients_whole_journey_carries_no_clinical_word(
    db, sms_client, sms_app, sms_settings, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(
        db,
        name=WARD_NAME,
        crisis_message=WARD_CRISIS_MESSAGE,
        escalation_policy=EscalationPolicy(on_call_phone=ON_CALL, crisis_phone=CRISIS),
    )
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    headers = builders.bearer(sms_app, key_worker)
    token = sms_settings.twilio_auth_token
    twiml: list[str] = []

    async def text(body: str) -> list[str]:
        response = await post_signed(
            sms_client, "/webhooks/twilio/sms", inbound_params(mobile, body), token
        )
        assert response.status_code == 200, response.text
        answers = _twiml_messages(response.text)
        twiml.extend(answers)
        return answers

    # Registration with discreet messages on, a carer with consent, then discharge.
    created = await sms_client.post(
        "/api/v1/patients",
        json=builders.patient_body(
            discreet_messages=True, key_worker_id=str(key_worker.id), mobile="07911 123456"
        ),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    patient_id = uuid.UUID(created.json()["id"])
    mobile = created.json()["mobile"]
    names = (created.json()["given_name"], created.json()["family_name"])
    carer = await sms_client.put(
        f"/api/v1/patients/{patient_id}/carer",
        json={
            "name": "Sam Carer",
            "relationship": "partner",
            "mobile": CARER_MOBILE,
            "consent_to_contact": True,
            "consent_given_at": "2026-11-01T09:00:00Z",
        },
        headers=headers,
    )
    assert carer.status_code == 200, carer.text
    discharged = await sms_client.post(
        f"/api/v1/patients/{patient_id}/discharge",
        json={"discharged_at": "2026-12-01T09:00:00Z", "suicide_risk": False},
        headers=headers,
    )
    assert discharged.status_code == 200, discharged.text

    # The discharge DIALOG survey, one item at a time, each answered.
    await _tick(sms_worker, clock)
    for n in range(1, 12):
        latest = fake_twilio.sent_to(mobile)[-1].body
        assert f"({n}/11)" in latest, latest
        assert await text("6") == []
        await _tick(sms_worker, clock, 1)
    assert len(fake_twilio.sent_to(mobile)) == 11

    # Day 2, 09:00: the check-in prompt, its reminder two hours on, then a reply of 1.
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    await _tick(sms_worker, clock)
    await _tick(sms_worker, clock, 120)
    assert [m.body.split(" How")[0] for m in fake_twilio.sent_to(mobile)[11:]] == [
        "Hi.",
        "Just a reminder.",
    ]
    assert await text("1") == []
    [low] = [e for e in await escalations(db, patient_id) if e.reason == "low_score"]
    assert low.severity == "urgent"
    # Nobody acknowledges in 15 minutes: level 2, and the carer is told.
    await _tick(sms_worker, clock)
    await _tick(sms_worker, clock, 15)
    [notice] = fake_twilio.sent_to(CARER_MOBILE)

    # HELP: the crisis routes, every number kept, in words a shared phone may show.
    [crisis] = await text("help")
    # STOP and START, each confirmed (checked below).
    stopped = await text("STOP")
    started = await text("START")

    # Staff: clinical words to this patient are refused; plain words go.
    refused = await sms_client.post(
        f"/api/v1/patients/{patient_id}/messages",
        json={"body": "Your nurse will ring about your medication."},
        headers=headers,
    )
    assert refused.status_code == 422, refused.text
    plain = await sms_client.post(
        f"/api/v1/patients/{patient_id}/messages",
        json={"body": "Can you give us a ring back today?"},
        headers=headers,
    )
    assert plain.status_code == 201, plain.text
    await _tick(sms_worker, clock)

    bodies = [m.body for m in fake_twilio.sent_to(mobile)] + twiml + [notice.body]
    assert fake_twilio.sent_to(mobile)[-1].body == "Can you give us a ring back today?"
    offending = {b: banned_in(b, names) for b in bodies if banned_in(b, names)}
    assert offending == {}
    # Discreet words, yet every route a person in crisis could ring is still there: the
    # national lines, 999, the number in the ward's own message and the ward's on-call line.
    for route in ("111", "option 2", "116 123", "999", "0113 496 0555", "0113 496 0777"):
        assert route in crisis, (route, crisis)
    assert stopped == [
        "You will get no more texts from this number. Reply START to get them again."
    ]
    assert started == ["Texts from this number are back on. Reply STOP at any time to stop them."]
    assert crisis == (
        "Need to talk to someone now? Call 111 and choose option 2, or call 116 123 free, any "
        "time. In an emergency call 999. Or call us on 0113 496 0555 or 0113 496 0777."
    )
    # Every kind of text was walked through, and each was marked fit for a shared phone when
    # queued, so the send step checks it again.
    rows = [r for r in await outbox_rows(db, patient_id) if r.recipient_kind != "staff"]
    assert {r.purpose for r in rows} == {
        "prom_dialog",
        "checkin_prompt",
        "checkin_reminder",
        "carer_notice",
        "crisis_reply",
        "opt_out_confirmation",
        "opt_in_confirmation",
        "ward_message",
    }
    assert [r.purpose for r in rows if r.fit_for_discreet is not True] == []
    assert {r.body for r in rows} == set(bodies)


async def test_every_survey_item_has_words_for_a_shared_phone(db):
    items = (await db.scalars(select(PromItem).order_by(PromItem.key))).all()
    assert len(items) == 13
    assert {
        i.key: banned_in(i.discreet_prompt) for i in items if banned_in(i.discreet_prompt)
    } == {}
    # Each still asks its own question on its own scale.
    mental = next(i for i in items if i.key == "dialog.mental_health")
    assert mental.discreet_prompt == (
        "(1/11) How satisfied are you with how you feel in yourself? "
        "Reply 1 (totally dissatisfied) to 7 (totally satisfied)."
    )


async def test_a_survey_item_queued_before_discreet_mode_came_on_is_asked_again_in_discreet_words(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    db.add(
        PromSurvey(
            patient_id=patient.id,
            ward_id=ward.id,
            instrument="dialog",
            time_point="discharge",
            anchor_at=clock.now(),
            due_at=clock.now(),
            status="scheduled",
            next_action_at=clock.now(),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    await db.commit()
    await sms_worker.run_once("proms")
    [first] = await outbox_rows(db, patient.id)
    assert first.body.startswith("Homeward (1/11)")
    assert first.fit_for_discreet is False
    # The phone is now shared: discreet mode goes on before the outbox sends the item.
    await db.execute(update(Patient).where(Patient.id == patient.id).values(discreet_messages=True))
    await db.commit()

    await sms_worker.run_once("outbox")
    assert fake_twilio.creates == []
    withdrawn = await fresh(db, OutboxMessage, first.id)
    assert (withdrawn.status, withdrawn.status_reason) == ("cancelled", "wording_changed")

    await sms_worker.run_once("proms")
    await sms_worker.run_once("outbox")
    [sent] = fake_twilio.accepted
    assert sent.body.startswith("(1/11) How satisfied are you with how you feel in yourself?")
    survey = (await db.scalars(select(PromSurvey).where(PromSurvey.patient_id == patient.id))).one()
    await db.refresh(survey)
    assert (survey.awaiting_item_key, survey.set_backs) == ("dialog.mental_health", 1)
    [first_check_in, *_] = await check_ins(db, patient.id)
    assert first_check_in.status == "scheduled"


async def test_a_carer_notice_queued_before_discreet_mode_came_on_goes_without_the_ward_name(
    db, clock, sms_worker, fake_twilio
):
    ward = await builders.ward(
        db, name=WARD_NAME, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL)
    )
    patient = await builders.home_patient(db, ward.id)
    db.add(
        Carer(
            patient_id=patient.id,
            name="Sam Carer",
            relationship="partner",
            mobile=CARER_MOBILE,
            consent_to_contact=True,
            consent_given_at=clock.now() - timedelta(days=30),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    await db.commit()
    escalation = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=ward.id,
        reason="help_request",
        severity="urgent",
        source_type="test",
        source_id="1",
        now=clock.now(),
    )
    # Nobody stands at level 1 on this ward: the notice passes up to level 2 at once, and
    # an urgent escalation at level 2 tells the carer.
    assert escalation.level == 2
    await db.commit()
    [queued] = [r for r in await outbox_rows(db, patient.id) if r.recipient_kind == "carer"]
    assert queued.body == f"Homeward: please contact {WARD_NAME} on {ON_CALL}."
    await db.execute(update(Patient).where(Patient.id == patient.id).values(discreet_messages=True))
    await db.commit()

    await sms_worker.run_once("outbox")
    await sms_worker.run_once("outbox")
    withdrawn = await fresh(db, OutboxMessage, queued.id)
    assert (withdrawn.status, withdrawn.status_reason) == ("cancelled", "wording_changed")
    [sent] = fake_twilio.sent_to(CARER_MOBILE)
    assert sent.body == (
        "Hello. Please call 0113 496 0777 as soon as you can, about someone close to you."
    )
    assert (await fresh(db, Escalation, escalation.id)).status == "open"


@pytest.mark.parametrize(
    ("ward_message", "policy", "expected"),
    [
        # The default (national routes, named): discreet words, the ward's number as "us".
        (
            None,
            EscalationPolicy(on_call_phone=ON_CALL),
            "Need to talk to someone now? Call 111 and choose option 2, or call 116 123 free, "
            "any time. In an emergency call 999. Or call us on 0113 496 0777.",
        ),
        # A ward's own message with clinical words: replaced, but its number is kept.
        (
            WARD_CRISIS_MESSAGE,
            EscalationPolicy(),
            "Need to talk to someone now? Call 111 and choose option 2, or call 116 123 free, "
            "any time. In an emergency call 999. Or call us on 0113 496 0555.",
        ),
        # A ward's own message already in plain words: sent as written.
        (
            "Ring 0113 496 0555 any time, or 999 in an emergency.",
            EscalationPolicy(on_call_phone=ON_CALL),
            "Ring 0113 496 0555 any time, or 999 in an emergency. Or call us on 0113 496 0777.",
        ),
    ],
    ids=["default", "ward_words_clinical", "ward_words_plain"],
)
async def test_the_discreet_crisis_reply_keeps_every_number_and_names_no_service(
    db, sms_client, sms_settings, ward_message, policy, expected
):
    fields = {"crisis_message": ward_message} if ward_message else {}
    ward = await builders.ward(db, escalation_policy=policy, **fields)
    patient = await builders.home_patient(db, ward.id, discreet_messages=True)
    response = await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "i want to end it all"),
        sms_settings.twilio_auth_token,
    )
    assert _twiml_messages(response.text) == [expected]
    assert banned_in(expected) == []
    [help_request] = await escalations(db, patient.id)
    assert (help_request.reason, help_request.severity) == ("help_request", "urgent")
