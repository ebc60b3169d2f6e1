"""Texts in the patient's language, in words the ward can edit: the built-in set, a ward's own
wording per purpose and language (checked on save, versioned, audited), the language
fallback (exact tag, base language, English; Welsh only once confirmed), replies read in the
patient's language, and SMS segment counts."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from api_tests import builders
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.sms_helpers import (
    discharged_patient,
    escalations,
    inbound_params,
    outbox_rows,
    post_signed,
)
from db.models import AuditEvent, MessageTemplate
from service.message_templates.segments import count
from service.web.session import csrf_for

PL_PROMPT = "Jak się dzisiaj czujesz? $question Odpowiedz liczbą od 1 do 5. POMOCY: wsparcie."
# English, spelt out by hand: the built-in prompt with the default question.
EN_PROMPT = (
    "Homeward check-in: How are you feeling today? Reply with a number from 1 (very low) to "
    "5 (very well), or a word. Reply HELP if you need support now. Reply STOP to opt out."
)


async def _team(client, db):
    team = await builders.ward_team(db, client.app)
    return team


def _url(team, purpose: str = "", language: str = "") -> str:
    base = f"/api/v1/wards/{team.ward.id}/message-templates"
    return f"{base}/{purpose}/{language}" if purpose else base


async def _put(client, team, purpose, language, body):
    return await client.put(
        _url(team, purpose, language), json={"body": body}, headers=team.manager_headers
    )


async def _prompt_sent(db, clock, sms_worker, team, **fields):
    patient = await discharged_patient(db, team.ward.id, clock.now(), **fields)
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once()
    [prompt] = [r for r in await outbox_rows(db, patient.id) if r.purpose == "checkin_prompt"]
    return patient, prompt


async def test_a_polish_patient_gets_the_wards_polish_prompt_and_pomocy_raises_urgent_help(
    sms_client, db, clock, sms_worker, sms_settings
):
    team = await _team(sms_client, db)
    saved = await _put(sms_client, team, "checkin.prompt", "pl", PL_PROMPT)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["source"], saved.json()["version"]) == ("ward", 1)
    question = await _put(sms_client, team, "checkin.question", "pl", "Jak minął dzień?")
    assert question.status_code == 200, question.text
    words = await _put(sms_client, team, "keywords.help", "pl", "pomocy, pomóż mi")
    assert words.status_code == 200, words.text

    patient, prompt = await _prompt_sent(db, clock, sms_worker, team, language="pl")
    assert prompt.body == (
        "Jak się dzisiaj czujesz? Jak minął dzień? Odpowiedz liczbą od 1 do 5. POMOCY: wsparcie."
    )
    assert (prompt.template_purpose, prompt.template_language) == ("checkin.prompt", "pl")
    assert (prompt.template_source, prompt.template_version) == ("ward", 1)

    clock.advance(timedelta(minutes=5))
    answer = await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "POMOCY"),
        sms_settings.twilio_auth_token,
    )
    assert answer.status_code == 200
    [escalation] = await escalations(db, patient.id)
    assert (escalation.reason, escalation.severity) == ("help_request", "urgent")
    # No Polish crisis reply on this ward: the English one, with every number in it.
    assert "116 123" in answer.text and "999" in answer.text


async def test_english_help_and_stop_are_understood_whatever_the_language(
    sms_client, db, clock, sms_worker, sms_settings
):
    team = await _team(sms_client, db)
    patient, _ = await _prompt_sent(db, clock, sms_worker, team, language="pl")
    answer = await post_signed(
        sms_client,
        "/webhooks/twilio/sms",
        inbound_params(patient.mobile, "STOP"),
        sms_settings.twilio_auth_token,
    )
    assert answer.status_code == 200
    await db.refresh(patient)
    assert patient.sms_opted_out is True


async def test_a_pt_br_patient_with_only_pt_templates_gets_pt(db, clock, sms_worker, sms_client):
    team = await _team(sms_client, db)
    body = "Olá! $question Responda com um número de 1 a 5."
    assert (await _put(sms_client, team, "checkin.prompt", "pt", body)).status_code == 200
    _, prompt = await _prompt_sent(db, clock, sms_worker, team, language="pt-BR")
    assert prompt.body == "Olá! How are you feeling today? Responda com um número de 1 a 5."
    assert (prompt.template_language, prompt.template_source) == ("pt", "ward")


async def test_a_welsh_patient_gets_english_until_a_manager_confirms_welsh(
    db, clock, sms_worker, sms_client
):
    team = await _team(sms_client, db)
    listed = (await sms_client.get(_url(team), headers=team.nurse_headers)).json()
    [welsh] = [
        t for t in listed["items"] if (t["purpose"], t["language"]) == ("checkin.prompt", "cy")
    ]
    assert welsh["confirmed"] is False
    assert welsh["review_note"] == "Needs review by a fluent speaker before use."
    assert welsh["in_force_language"] == "en"

    _, prompt = await _prompt_sent(db, clock, sms_worker, team, language="cy")
    assert prompt.body == EN_PROMPT
    assert prompt.template_language == "en"

    confirmed = await sms_client.post(
        f"{_url(team)}/languages/cy/confirm", headers=team.manager_headers
    )
    assert confirmed.status_code == 200, confirmed.text
    [event] = (
        await db.scalars(
            select(AuditEvent).where(AuditEvent.action == "message_template.confirm_language")
        )
    ).all()
    assert event.actor_id == team.manager.id
    _, prompt = await _prompt_sent(db, clock, sms_worker, team, language="cy")
    assert prompt.body.startswith("Gwiriad Homeward: Sut ydych chi'n teimlo heddiw?")
    assert (prompt.template_language, prompt.template_source) == ("cy", "builtin")


async def test_a_template_with_an_unknown_placeholder_is_refused_naming_it(client, db):
    team = await _team(client, db)
    answer = await _put(client, team, "checkin.prompt", "pl", "Cześć $imie! $question")
    assert answer.status_code == 422
    assert "$imie" in answer.json()["detail"]
    assert [e["field"] for e in answer.json()["errors"]] == ["body"]
    assert (await db.scalars(select(MessageTemplate))).all() == []


async def test_a_crisis_reply_without_the_crisis_routes_is_refused(client, db):
    """Hazard: a ward's edit drops the numbers a person in crisis could ring."""
    team = await _team(client, db)
    answer = await _put(client, team, "crisis.reply", "en", "Please call the ward tomorrow.")
    assert answer.status_code == 422
    assert "$crisis_routes" in answer.json()["detail"]
    assert (await db.scalars(select(MessageTemplate))).all() == []
    kept = await _put(client, team, "crisis.reply", "pl", "Potrzebujesz pomocy? $crisis_routes")
    assert kept.status_code == 200, kept.text


async def test_a_discreet_variant_with_a_clinical_word_or_over_budget_is_refused(client, db):
    team = await _team(client, db)
    clinical = await _put(client, team, "checkin.prompt.discreet", "en", "Ward check: $question")
    assert clinical.status_code == 422
    assert "discreet" in clinical.json()["detail"]
    long = await _put(client, team, "checkin.prompt", "en", "$question " + "€" * 400)
    assert long.status_code == 422
    assert "segments" in long.json()["detail"]


async def test_staff_read_managers_write_and_a_delete_goes_back_to_the_builtin(client, db):
    team = await _team(client, db)
    refused = await client.put(
        _url(team, "checkin.prompt", "pl"), json={"body": "$question"}, headers=team.nurse_headers
    )
    assert refused.status_code == 403
    assert (await _put(client, team, "checkin.prompt", "en", "Hi! $question")).status_code == 200
    second = await _put(client, team, "checkin.prompt", "en", "Hello! $question")
    assert second.json()["version"] == 2
    gone = await client.delete(_url(team, "checkin.prompt", "en"), headers=team.manager_headers)
    assert gone.status_code == 204
    listed = (await client.get(_url(team), headers=team.nurse_headers)).json()["items"]
    [entry] = [t for t in listed if (t["purpose"], t["language"]) == ("checkin.prompt", "en")]
    assert entry["source"] == "builtin"
    assert entry["segments"] == 2 and entry["encoding"] == "GSM-7"
    # Every version is kept: two texts and the withdrawal, newest first.
    kept = await client.get(
        _url(team, "checkin.prompt", "en") + "/versions", headers=team.nurse_headers
    )
    assert [(v["version"], v["body"]) for v in kept.json()["items"]] == [
        (3, None),
        (2, "Hello! $question"),
        (1, "Hi! $question"),
    ]
    actions = (
        await db.scalars(
            select(AuditEvent.action).where(
                AuditEvent.action.like("message_template.%"), AuditEvent.outcome != "denied"
            )
        )
    ).all()
    assert sorted(actions) == [
        "message_template.delete",
        "message_template.update",
        "message_template.update",
    ]


async def test_the_message_history_shows_the_template_version_of_each_text(
    sms_client, db, clock, sms_worker
):
    team = await _team(sms_client, db)
    await _put(sms_client, team, "checkin.prompt", "en", "Hi from the ward. $question Reply 1-5.")
    patient, _ = await _prompt_sent(db, clock, sms_worker, team)
    sent = await sms_client.post(
        f"/api/v1/patients/{patient.id}/messages",
        json={"body": "See you on Friday."},
        headers=team.nurse_headers,
    )
    assert sent.status_code == 201, sent.text
    history = (
        await sms_client.get(f"/api/v1/patients/{patient.id}/messages", headers=team.nurse_headers)
    ).json()["items"]
    used = {m["purpose"]: m["template"] for m in history}
    assert used["checkin_prompt"] == {
        "purpose": "checkin.prompt",
        "language": "en",
        "source": "ward",
        "version": 1,
    }
    assert used["ward_message"] == {
        "purpose": "staff.signature",
        "language": "en",
        "source": "builtin",
        "version": 1,
    }


def test_segment_counts_for_gsm_7_a_euro_sign_and_an_emoji():
    plain = "a" * 160
    assert (count(plain).encoding, count(plain).segments) == ("GSM-7", 1)
    assert count(plain + "a").segments == 2  # 161 septets: two parts of up to 153
    assert count("a" * 306).segments == 2 and count("a" * 307).segments == 3
    # € is an extension character: two septets, so 159 letters and a € are 161 septets.
    euro = "a" * 158 + "€"
    assert (count(euro).encoding, count(euro).units, count(euro).segments) == ("GSM-7", 160, 1)
    assert count("a" * 159 + "€").segments == 2
    # An emoji makes the text UCS-2; outside the BMP it is two UTF-16 code units.
    emoji = "Thanks \U0001f600"
    assert (count(emoji).encoding, count(emoji).units, count(emoji).segments) == ("UCS-2", 9, 1)
    assert count("a" * 69 + "\U0001f600").segments == 2  # 71 code units
    assert count("a" * 70).segments == 1 and count("a" * 69 + "é").encoding == "GSM-7"


# ---- the board pages (service/web/message_templates.py) ------------------------------------


async def _page_session(client, who):
    token = builders.bearer(client.app, who)["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"homeward_session={token}"}, csrf_for(TEST_JWT_SECRET, token)


async def test_the_edit_page_refuses_an_unknown_placeholder_with_the_words_kept(client, db):
    team = await _team(client, db)
    headers, csrf = await _page_session(client, team.manager)
    url = "/board/ward/message-templates/checkin.prompt/pl"
    refused = await client.post(
        url,
        data={"csrf_token": csrf, "body": "Cześć $imie! $question", "action": "save"},
        headers=headers,
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert 'href="#f-body"' in refused.text and "$imie" in refused.text
    assert "Cześć $imie! $question" in refused.text
    assert (await db.scalars(select(MessageTemplate))).all() == []

    preview = await client.post(
        url,
        data={"csrf_token": csrf, "body": "Cześć! $question €", "action": "preview"},
        headers=headers,
        follow_redirects=False,
    )
    assert preview.status_code == 200
    assert "Cześć! How are you feeling today? €" in preview.text
    assert "1 SMS segment (UCS-2)" in preview.text  # ś is not in GSM-7
    assert (await db.scalars(select(MessageTemplate))).all() == []

    saved = await client.post(
        url,
        data={"csrf_token": csrf, "body": "Cześć! $question", "action": "save"},
        headers=headers,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    listed = await client.get(saved.headers["location"], headers=headers)
    assert "Saved: checkin.prompt/pl." in listed.text and "Cześć! $question" in listed.text


async def test_staff_see_the_templates_and_the_welsh_review_note_but_no_forms(client, db):
    team = await _team(client, db)
    headers, _ = await _page_session(client, team.nurse)
    listed = await client.get("/board/ward/message-templates", headers=headers)
    assert listed.status_code == 200
    assert "Needs review by a fluent speaker before use." in listed.text
    assert "/languages/cy/confirm" not in listed.text
    edit = await client.get("/board/ward/message-templates/crisis.reply/en", headers=headers)
    assert edit.status_code == 200
    assert "Discreet wording" in edit.text and 'name="body"' not in edit.text


async def test_a_survey_item_and_the_carer_notice_are_worded_by_the_wards_templates(
    client, db, clock
):
    from db.models import Carer, OutboxMessage, PromItem, PromSurvey
    from service.escalations.service import raise_escalation
    from service.paging.texts import carer_notice
    from service.principal import SystemActor
    from service.proms.service import advance, schedule_surveys

    team = await _team(client, db)
    first = await db.scalar(
        select(PromItem).where(PromItem.instrument == "dialog").order_by(PromItem.position)
    )
    assert first is not None
    item = await _put(client, team, f"survey.{first.key}", "pl", "(1/11) Jak oceniasz zdrowie?")
    assert item.status_code == 200, item.text
    notice = await _put(client, team, "carer.notice", "pl", "Prosimy o kontakt: $ward, $phone.")
    assert notice.status_code == 200, notice.text

    patient = await builders.home_patient(db, team.ward.id, language="pl")
    now = clock.now()
    await schedule_surveys(db, patient.id, now - timedelta(days=1), now)
    survey = await db.scalar(
        select(PromSurvey).where(
            PromSurvey.patient_id == patient.id, PromSurvey.time_point == "discharge"
        )
    )
    assert survey is not None
    await advance(db, survey, now)
    await db.commit()
    [sent] = (
        await db.scalars(select(OutboxMessage).where(OutboxMessage.prom_survey_id == survey.id))
    ).all()
    assert sent.body == "(1/11) Jak oceniasz zdrowie?"
    assert (sent.template_purpose, sent.template_language) == (f"survey.{first.key}", "pl")

    team.ward.escalation_policy = {**team.ward.escalation_policy, "on_call_phone": "+442079460000"}
    db.add(
        Carer(
            patient_id=patient.id,
            name="Ola",
            mobile=builders.mobile(),
            consent_to_contact=True,
            consent_given_at=now - timedelta(days=1),
            created_at=now,
            updated_at=now,
        )
    )
    await db.commit()
    escalation = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=team.ward.id,
        reason="help_request",
        severity="urgent",
        source_type="sms_inbound",
        source_id=uuid.uuid4(),
        now=now,
        note="test",
        actor=SystemActor("test"),
        level=2,
    )
    await carer_notice(db, escalation, now)  # queued once, whoever asks first
    row = await db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.escalation_id == escalation.id, OutboxMessage.purpose == "carer_notice"
        )
    )
    assert row is not None
    assert row.body == f"Prosimy o kontakt: {team.ward.name}, +442079460000."
    assert (row.template_language, row.template_source) == ("pl", "ward")


async def test_an_english_reply_is_read_as_before_whatever_the_ward_lists(db, sms_client):
    """English's built-in lists are shown for reference; they are not read again as a ward's
    list (where "help" anywhere would count), so "thanks for your help" stays free text."""
    from service.interpretation.meaning import interpret
    from service.message_templates.service import keywords_for

    team = await _team(sms_client, db)
    for language in ("en", "cy", "pl"):
        extra = await keywords_for(db, team.ward.id, language)
        assert interpret("thanks for your help yesterday", extra).kind == "free_text"
    welsh = await keywords_for(db, team.ward.id, "cy")
    assert interpret("Cymorth", welsh).kind == "help"


async def test_opening_another_language_goes_to_its_edit_page_or_says_why_not(client, db):
    team = await _team(client, db)
    headers, csrf = await _page_session(client, team.manager)
    opened = await client.post(
        "/board/ward/message-templates/open",
        data={"csrf_token": csrf, "purpose": "crisis.reply", "language": "PT-br"},
        headers=headers,
        follow_redirects=False,
    )
    assert opened.status_code == 303
    assert opened.headers["location"] == "/board/ward/message-templates/crisis.reply/pt-BR"
    refused = await client.post(
        "/board/ward/message-templates/open",
        data={"csrf_token": csrf, "purpose": "crisis.reply", "language": "not a tag!"},
        headers=headers,
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert 'href="#f-language"' in refused.text and 'value="not a tag!"' in refused.text


def test_the_language_falls_back_from_the_exact_tag_to_its_base_then_english():
    from service.message_templates.service import fallbacks

    assert fallbacks("pt-BR") == ["pt-BR", "pt", "en"]
    assert fallbacks("PT-br") == ["pt-BR", "pt", "en"]
    assert fallbacks("cy") == ["cy", "en"]
    assert fallbacks("en-GB") == ["en-GB", "en"]
    assert fallbacks("not a tag") == ["en"]
    assert fallbacks(None) == ["en"]
