"""The patient's check-ins and conversation pages over HTTP (cookie sessions, real PostgreSQL):
what they show, their forms' refusals (422, nothing written) and successes (the database
after), another ward's patient (404, audited); the ward board's replies-to-read count; and the
services they brought: cancelling a check-in, and withdrawing SMS consent withdrawing queued
texts. The browser journey is in test_browser_nurse_conversation.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from api_tests import builders
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.sms_helpers import check_ins, discharged_patient, outbox_rows
from db.models import AuditEvent, CheckIn, Patient, ReplyToRead, User
from service.conversation import inbound
from service.web.session import csrf_for

SESSION_COOKIE = "homeward_session"


class Nurse:
    """A signed-in member of ward staff: the page session cookie and its CSRF token."""

    def __init__(self, client: Any, user: User) -> None:
        token = builders.bearer(client.app, user)["Authorization"].removeprefix("Bearer ")
        self.client = client
        self.user = user
        self.cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
        self.csrf = csrf_for(TEST_JWT_SECRET, token)
        self.api = {"Authorization": f"Bearer {token}"}

    async def get(self, url: str) -> Any:
        return await self.client.get(url, headers=self.cookie, follow_redirects=False)

    async def post(self, url: str, **fields: str) -> Any:
        return await self.client.post(
            url,
            data={"csrf_token": self.csrf, **fields},
            headers=self.cookie,
            follow_redirects=False,
        )


async def _nurse(client: Any, db: Any, ward_id: uuid.UUID, **fields: Any) -> Nurse:
    return Nurse(client, await builders.user(db, "ward_staff", ward_id=ward_id, **fields))


async def _count(db: Any, *conditions: Any) -> int:
    return int(await db.scalar(select(func.count()).where(*conditions)) or 0)


async def _free_text(db: Any, patient: Patient, clock: Any, body: str) -> ReplyToRead:
    """The patient texts words that need a person: the inbound service holds them to read."""
    await inbound.handle_inbound(
        db,
        message_sid="SM" + uuid.uuid4().hex,
        from_number=patient.mobile or "",
        to_number="+447700900001",
        body=body,
        now=clock.now(),
    )
    await db.commit()
    reply = await db.scalar(select(ReplyToRead).where(ReplyToRead.patient_id == patient.id))
    assert reply is not None
    return reply


# --- the check-ins page -----------------------------------------------------------------------


async def test_check_ins_page_shows_schedule_next_texts_held_and_past_answers(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    # Discharged at 09:00 with contact hours from 10:00: each daily check-in waits an hour.
    patient = await discharged_patient(
        db, ward.id, clock.now(), contact_window_start=time(10, 0), contact_window_end=time(20, 0)
    )
    db.add(
        CheckIn(
            patient_id=patient.id,
            kind="extra",
            due_at=clock.now() - timedelta(hours=3),
            status="answered",
            sent_at=clock.now() - timedelta(hours=3),
            answered_at=clock.now() - timedelta(hours=2),
            score=4,
            reply="4 feeling steadier",
            reply_window_minutes=240,
            reminder_after_minutes=120,
            closed_at=clock.now() - timedelta(hours=2),
            created_at=clock.now() - timedelta(days=1),
            updated_at=clock.now() - timedelta(hours=2),
        )
    )
    await db.commit()

    page = await nurse.get(f"/board/patients/{patient.id}/check-ins")
    assert page.status_code == 200, page.text
    assert 'aria-current="page">Check-ins' in page.text
    assert "24, 48, 72" in page.text  # the default taper's first offsets
    assert "Wed 02 Dec 09:00" in page.text
    assert "held until Wed 02 Dec 10:00 (outside contact hours)" in page.text
    assert "These would not be sent now" not in page.text
    assert "answered" in page.text and "4 feeling steadier" in page.text
    actions = set((await db.scalars(select(AuditEvent.action))).all())
    assert {"checkin_schedule.read", "checkin.list"} <= actions


async def test_check_ins_page_says_why_no_text_would_go(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await discharged_patient(db, ward.id, clock.now(), sms_consent=False)
    page = await nurse.get(f"/board/patients/{patient.id}/check-ins")
    assert page.status_code == 200
    assert "These would not be sent now" in page.text
    assert "has not consented to SMS" in page.text
    assert "held: not sent" in page.text


async def test_an_extra_check_in_refused_comes_back_and_one_accepted_is_stored(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await builders.home_patient(db, ward.id)
    url = f"/board/patients/{patient.id}/check-ins"

    refused = await nurse.post(
        url, due_at="2026-11-30T10:00", reply_window_minutes="90", reminder_after_minutes="30"
    )
    assert refused.status_code == 422
    assert 'id="f-due_at-error"' in refused.text and "must not be in the past" in refused.text
    assert 'value="90"' in refused.text  # what was typed stays
    bad_window = await nurse.post(
        url, due_at="2026-12-02T10:00", reply_window_minutes="90", reminder_after_minutes="95"
    )
    assert bad_window.status_code == 422
    assert "must be shorter than reply_window_minutes" in bad_window.text
    assert await _count(db, CheckIn.patient_id == patient.id) == 0

    added = await nurse.post(
        url, due_at="2026-12-02T10:00", reply_window_minutes="90", reminder_after_minutes=""
    )
    assert (added.status_code, added.headers["location"]) == (303, f"{url}?done=added")
    [row] = await check_ins(db, patient.id)
    assert (row.kind, row.status, row.reply_window_minutes) == ("extra", "scheduled", 90)
    assert row.due_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # London is on GMT in December
    assert row.created_by == nurse.user.id
    shown = await nurse.get(f"{url}?done=added")
    assert "Extra check-in added." in shown.text and "Wed 02 Dec 10:00" in shown.text


async def test_cancelling_a_check_in_withdraws_it_and_a_sent_one_cannot_be(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    first, second, *_ = await check_ins(db, patient.id)

    done = await nurse.post(f"/board/patients/{patient.id}/check-ins/{first.id}/cancel")
    assert done.status_code == 303
    await db.refresh(first)
    assert (first.status, first.status_reason) == ("cancelled", "staff_cancelled")
    assert await _count(db, AuditEvent.action == "checkin.cancel") == 1

    again = await nurse.post(f"/board/patients/{patient.id}/check-ins/{first.id}/cancel")
    assert again.status_code == 422
    assert "Only a check-in not yet sent can be cancelled" in again.text
    # Saving the schedule again does not bring a cancelled check-in back.
    saved = await nurse.post(
        f"/board/patients/{patient.id}/check-ins/schedule",
        offsets_hours="24, 48",
        reply_window_minutes="240",
        reminder_after_minutes="120",
        active="yes",
    )
    assert saved.status_code == 303
    rows = await check_ins(db, patient.id)
    assert [(r.offset_hours, r.status) for r in rows] == [(24, "cancelled"), (48, "scheduled")]
    assert second.id not in {r.id for r in rows}  # unsent ones were made again from the schedule


async def test_the_api_cancels_a_scheduled_check_in_and_refuses_a_sent_one(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    first, second, *_ = await check_ins(db, patient.id)
    second.status, second.sent_at = "sent", clock.now()
    await db.commit()
    url = f"/api/v1/patients/{patient.id}/check-ins"

    ok = await client.post(f"{url}/{first.id}/cancel", headers=nurse.api)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["status"], ok.json()["status_reason"]) == ("cancelled", "staff_cancelled")
    sent = await client.post(f"{url}/{second.id}/cancel", headers=nurse.api)
    assert sent.status_code == 409
    assert sent.headers["content-type"].startswith("application/problem+json")
    missing = await client.post(f"{url}/{uuid.uuid4()}/cancel", headers=nurse.api)
    assert missing.status_code == 404
    await db.refresh(second)
    assert second.status == "sent"


async def test_the_schedule_form_refuses_what_the_api_refuses(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    url = f"/board/patients/{patient.id}/check-ins/schedule"
    form = await nurse.get(url)
    assert form.status_code == 200 and 'value="24, 48, 72' in form.text
    before = [(r.id, r.status) for r in await check_ins(db, patient.id)]

    words = await nurse.post(
        url, offsets_hours="24, soon", reply_window_minutes="240", reminder_after_minutes="120"
    )
    assert words.status_code == 422
    assert 'href="#f-offsets_hours"' in words.text and "must be whole hours" in words.text
    assert 'value="24, soon"' in words.text
    too_long = await nurse.post(
        url, offsets_hours="24", reply_window_minutes="60", reminder_after_minutes="60"
    )
    assert too_long.status_code == 422 and "must be shorter than" in too_long.text
    assert [(r.id, r.status) for r in await check_ins(db, patient.id)] == before

    off = await nurse.post(
        url, offsets_hours="24", reply_window_minutes="240", reminder_after_minutes="120"
    )
    assert off.status_code == 303  # "active" unticked: the schedule is switched off
    assert await _count(db, CheckIn.patient_id == patient.id, CheckIn.status == "scheduled") == 0


# --- the conversation page --------------------------------------------------------------------


async def test_a_text_from_the_ward_is_queued_and_shown_with_its_writer(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id, full_name="Sam Nurse")
    patient = await builders.home_patient(db, ward.id)
    url = f"/board/patients/{patient.id}/messages"

    blank = await nurse.post(url, body="   ")
    assert blank.status_code == 422
    assert 'id="f-body-error"' in blank.text and "Text must not be empty" in blank.text
    assert await outbox_rows(db, patient.id) == []

    sent = await nurse.post(url, body="Please ring the ward when you can.")
    assert sent.status_code == 303
    [row] = await outbox_rows(db, patient.id)
    assert (row.status, row.purpose, row.sent_by) == ("queued", "ward_message", nurse.user.id)
    page = await nurse.get(f"/board/patients/{patient.id}/conversation?done=sent")
    assert page.status_code == 200
    assert "Text queued" in page.text
    assert "Sam Nurse (staff)" in page.text and "Please ring the ward when you can." in page.text
    assert 'class="status">queued<' in page.text
    assert 'data-live-url="/board/patients/' in page.text
    live = await nurse.get(f"/board/patients/{patient.id}/conversation/live")
    assert live.status_code == 200 and "Please ring the ward" in live.text
    assert "<html" not in live.text  # a fragment


async def test_a_patient_who_may_not_be_texted_is_said_so_and_nothing_is_queued(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await builders.home_patient(db, ward.id, sms_opted_out=True)
    page = await nurse.get(f"/board/patients/{patient.id}/conversation")
    assert 'id="cannot-text"' in page.text and "opted out of SMS" in page.text

    refused = await nurse.post(f"/board/patients/{patient.id}/messages", body="Hello")
    assert refused.status_code == 422
    assert "data-error-summary" in refused.text and "opted out of SMS" in refused.text
    assert await outbox_rows(db, patient.id) == []
    discreet = await builders.home_patient(db, ward.id, discreet_messages=True)
    clinical = await nurse.post(
        f"/board/patients/{discreet.id}/messages", body="Your mental health nurse will call"
    )
    assert clinical.status_code == 422 and "must not name health services" in clinical.text
    assert await outbox_rows(db, discreet.id) == []


async def test_a_reply_waiting_is_shown_with_its_deadline_and_marked_read(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await builders.home_patient(db, ward.id)
    reply = await _free_text(db, patient, clock, "not sleeping again, can someone ring me")

    page = await nurse.get(f"/board/patients/{patient.id}/conversation")
    assert "not sleeping again, can someone ring me" in page.text
    assert f"Read by {reply.read_due_at.strftime('%a %d %b %H:%M')}" in page.text
    assert f'/replies/{reply.id}/read"' in page.text
    board = await nurse.get("/board")
    assert f'href="/board/patients/{patient.id}/conversation">1 reply to read' in board.text

    done = await nurse.post(f"/board/patients/{patient.id}/replies/{reply.id}/read")
    assert done.status_code == 303
    await db.refresh(reply)
    assert (reply.status, reply.read_by, reply.read_at) == ("read", nurse.user.id, clock.now())
    again = await nurse.post(f"/board/patients/{patient.id}/replies/{reply.id}/read")
    assert again.status_code == 422 and "already been read" in again.text
    board = await nurse.get("/board")
    assert "reply to read" not in board.text


async def test_stop_texting_needs_confirming_and_withdraws_queued_texts(client, db, clock):
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await discharged_patient(db, ward.id, clock.now())
    await nurse.post(f"/board/patients/{patient.id}/messages", body="See you Thursday.")
    url = f"/board/patients/{patient.id}/stop-texting"

    unconfirmed = await nurse.post(url)
    assert unconfirmed.status_code == 422
    assert 'id="f-confirm-error"' in unconfirmed.text
    await db.refresh(patient)
    assert patient.sms_consent is True
    assert [r.status for r in await outbox_rows(db, patient.id)] == ["queued"]

    stopped = await nurse.post(url, confirm="yes")
    assert stopped.status_code == 303
    await db.refresh(patient)
    assert patient.sms_consent is False
    [row] = await outbox_rows(db, patient.id)
    assert (row.status, row.status_reason) == ("cancelled", "no_consent")
    page = await nurse.get(f"/board/patients/{patient.id}/conversation?done=stopped")
    assert 'id="no-consent"' in page.text and "has not consented to SMS" in page.text


async def test_withdrawing_sms_consent_withdraws_queued_texts_at_once(client, db, clock):
    """PATCH sms_consent false: texts still queued are cancelled in the same transaction, so
    consent given again before the next send pass cannot release them."""
    ward = await builders.ward(db)
    nurse = await _nurse(client, db, ward.id)
    patient = await builders.home_patient(db, ward.id)
    queued = await client.post(
        f"/api/v1/patients/{patient.id}/messages", json={"body": "Hello"}, headers=nurse.api
    )
    assert queued.status_code == 201
    withdrawn = await client.patch(
        f"/api/v1/patients/{patient.id}", json={"sms_consent": False}, headers=nurse.api
    )
    assert withdrawn.status_code == 200, withdrawn.text
    again = await client.patch(
        f"/api/v1/patients/{patient.id}", json={"sms_consent": True}, headers=nurse.api
    )
    assert again.status_code == 200
    [row] = await outbox_rows(db, patient.id)
    assert (row.status, row.status_reason) == ("cancelled", "no_consent")


async def test_another_wards_patient_is_404_on_every_page_and_audited(client, db, clock):
    ward, other_ward = await builders.ward(db), await builders.ward(db)
    stranger = await _nurse(client, db, other_ward.id)
    patient = await discharged_patient(db, ward.id, clock.now(), family_name="Hidden")
    reply = await _free_text(db, patient, clock, "please call me")
    [first, *_] = await check_ins(db, patient.id)
    base = f"/board/patients/{patient.id}"

    for url in ("check-ins", "check-ins/schedule", "conversation", "conversation/live"):
        response = await stranger.get(f"{base}/{url}")
        assert response.status_code == 404, url
        assert "Hidden" not in response.text
    posts = {
        "check-ins": {"due_at": "2026-12-02T10:00"},
        f"check-ins/{first.id}/cancel": {},
        "check-ins/schedule": {
            "offsets_hours": "24",
            "reply_window_minutes": "240",
            "reminder_after_minutes": "120",
        },
        "messages": {"body": "Hello"},
        f"replies/{reply.id}/read": {},
        "stop-texting": {"confirm": "yes"},
    }
    for url, fields in posts.items():
        response = await stranger.post(f"{base}/{url}", **fields)
        assert response.status_code == 404, url
    denied = await _count(
        db,
        AuditEvent.actor_id == stranger.user.id,
        AuditEvent.outcome == "denied",
        AuditEvent.patient_id == patient.id,
    )
    assert denied == 4 + len(posts)
    await db.refresh(patient)
    await db.refresh(first)
    await db.refresh(reply)
    assert (patient.sms_consent, first.status, reply.status) == (True, "scheduled", "unread")
    assert await outbox_rows(db, patient.id) == []
    assert await _count(db, CheckIn.patient_id == patient.id, CheckIn.kind == "extra") == 0
