"""A reply that arrives while PostgreSQL is down: kept on local disk by the signed webhook,
answered (HELP with the crisis routes), and handled once when the database is back. Real
PostgreSQL (the outage test stops this process's embedded server), the real webhook."""

from __future__ import annotations

import asyncio
import json
import os
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from api_tests import builders, pg
from api_tests.sms_helpers import (
    check_ins,
    discharged_patient,
    escalations,
    inbound_params,
    outbox_rows,
    post_signed,
)
from db.engine import make_engine, make_sessionmaker
from db.models import InboundMessage
from jobs.worker import Worker
from service.app import create_app
from service.conversation.spool import SPOOL_KEY, InboundSpool, SpooledText
from service.sms.gateway import CHANNEL_KEY

# Written out by hand: what a person in crisis is told while the database is down.
OUTAGE_ROUTES = (
    "Need to talk to someone now? Call 111 and choose option 2, or call 116 123 free, "
    "any time. In an emergency call 999."
)


def _messages(twiml: str) -> list[str]:
    return [m.text or "" for m in ET.fromstring(twiml).iter("Message")]


async def _prompted_patient(db, clock, sms_worker):
    """A patient whose first check-in prompt went out (day 2, 09:00 London)."""
    ward = await builders.ward(db)
    patient = await discharged_patient(db, ward.id, clock.now())
    clock.advance(timedelta(hours=24))
    await sms_worker.run_once("checkins")
    await sms_worker.run_once("outbox")
    [check_in, *_] = await check_ins(db, patient.id)
    assert check_in.status == "sent"
    return patient


async def _inbound_count(db) -> int:
    return int(await db.scalar(select(func.count()).select_from(InboundMessage)) or 0)


async def test_spooled_replies_are_handled_once_and_their_files_removed_after_commit(
    db, clock, sms_worker, sessionmaker, sms_channel, tmp_path
):
    patient = await _prompted_patient(db, clock, sms_worker)
    spool = InboundSpool(tmp_path / "inbound-spool")
    received = clock.now()
    low = SpooledText("SM" + "a" * 32, patient.mobile, None, "1", received, None)
    help_ = SpooledText("SM" + "b" * 32, patient.mobile, None, "help", received, OUTAGE_ROUTES)
    spool.keep(low)
    spool.keep(help_)
    spool.keep(replace(low, body="a retry of the same text"))  # Twilio retried: first stands
    assert len(spool.pending()) == 2
    assert oct(spool.directory.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in spool.pending()} == {"0o600"}

    clock.advance(timedelta(minutes=20))  # the database is back twenty minutes later
    worker = Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: sms_channel, SPOOL_KEY: spool})
    assert (await worker.run_once("inbound_spool"))["inbound_spool"] == 2

    assert spool.pending() == []
    [check_in, *_] = await check_ins(db, patient.id)
    assert (check_in.status, check_in.score) == ("answered", 1)
    raised = {(e.reason, e.severity) for e in await escalations(db, patient.id)}
    assert raised == {("low_score", "urgent"), ("help_request", "urgent")}
    # Effects run from the replay (staff get a full deadline); the text keeps its own time.
    rows = (await db.scalars(select(InboundMessage).order_by(InboundMessage.message_sid))).all()
    assert [(r.body, r.received_at) for r in rows] == [("1", received), ("help", received)]
    # The conversation records the answer that really went during the outage, nothing else.
    answers = [r for r in await outbox_rows(db, patient.id) if r.purpose == "crisis_reply"]
    assert [a.body for a in answers] == [OUTAGE_ROUTES]

    # A crash after the commit and before the delete leaves the file: the next replay finds
    # the text handled already (MessageSid), removes the file and does nothing else.
    spool.keep(low)
    assert (await worker.run_once("inbound_spool"))["inbound_spool"] == 1
    assert spool.pending() == []
    assert await _inbound_count(db) == 2
    assert len(await escalations(db, patient.id)) == 2


async def test_a_file_another_process_holds_is_left_to_it_and_a_torn_write_is_never_replayed(
    db, clock, sessionmaker, tmp_path
):
    import fcntl

    spool = InboundSpool(tmp_path / "inbound-spool")
    path = spool.keep(SpooledText("SM" + "c" * 32, "+447700900123", None, "hi", clock.now(), None))
    # A crash mid-write leaves only a temporary file, which is not a spooled text.
    torn = spool.directory / ".SMdead.0.tmp"
    torn.write_text('{"message_sid": "SMde')
    os.utime(torn, (time.time() - 7200, time.time() - 7200))
    worker = Worker(sessionmaker, clock, 1, extras={SPOOL_KEY: spool})
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert (await worker.run_once("inbound_spool"))["inbound_spool"] == 0
        assert path.exists()
    finally:
        os.close(fd)
    assert (await worker.run_once("inbound_spool"))["inbound_spool"] == 1
    assert spool.pending() == [] and not torn.exists()
    assert await _inbound_count(db) == 0  # an unknown number: kept for admins instead


@pytest.mark.slow
async def test_a_reply_during_a_database_outage_is_answered_kept_and_handled_once_after(
    embedded_server, database_url, db, clock, sms_worker, sms_settings, tmp_path
):
    patient = await _prompted_patient(db, clock, sms_worker)
    mobile, patient_id = patient.mobile, patient.id
    await db.close()
    settings = replace(sms_settings, data_dir=tmp_path)
    spool = InboundSpool.for_settings(settings)
    token = settings.twilio_auth_token
    app = create_app(settings, clock=clock)
    low = inbound_params(mobile, "1")
    help_ = inbound_params(mobile, "help")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        await asyncio.to_thread(pg.stop_server, embedded_server)
        try:
            answered = await post_signed(client, "/webhooks/twilio/sms", low, token)
            assert (answered.status_code, _messages(answered.text)) == (200, [])
            crisis = await post_signed(client, "/webhooks/twilio/sms", help_, token)
            assert (crisis.status_code, _messages(crisis.text)) == (200, [OUTAGE_ROUTES])
            # Twilio retries a delivery: the same answer, still one file per text.
            again = await post_signed(client, "/webhooks/twilio/sms", help_, token)
            assert _messages(again.text) == [OUTAGE_ROUTES]
            forged = await client.post(
                "/webhooks/twilio/sms", data=low, headers={"X-Twilio-Signature": "forged"}
            )
            assert forged.status_code == 403  # the signature is checked first, outage or not
            kept = [json.loads(p.read_text()) for p in spool.pending()]
            assert sorted(k["body"] for k in kept) == ["1", "help"]
        finally:
            await asyncio.to_thread(pg.start_server, embedded_server)

        # Once the database answers, the spool drains (by the API process's own loop, or
        # before the next text), and the next text is handled after the kept ones.
        async def ready() -> int:
            return (await client.get("/health/ready")).status_code

        deadline = time.monotonic() + 60
        while await ready() != 200:
            assert time.monotonic() < deadline, "the database did not come back"
            await asyncio.sleep(0.5)
        clock.advance(timedelta(minutes=5))
        after = await post_signed(
            client, "/webhooks/twilio/sms", inbound_params(mobile, "thanks"), token
        )
        assert after.status_code == 200
        while spool.pending():
            assert time.monotonic() < deadline, "the spool did not drain"
            await asyncio.sleep(0.5)

    # A fresh engine: the fixtures' pooled connections died with the server.
    engine = make_engine(database_url)
    try:
        await _check_handled_once(make_sessionmaker(engine), patient_id)
    finally:
        await engine.dispose()


async def _check_handled_once(sessionmaker, patient_id) -> None:
    async with sessionmaker() as session:
        [check_in, *_] = await check_ins(session, patient_id)
        assert (check_in.status, check_in.score) == ("answered", 1)
        raised = sorted((e.reason, e.severity) for e in await escalations(session, patient_id))
        assert raised == [("help_request", "urgent"), ("low_score", "urgent")]
        bodies = sorted(
            (
                await session.scalars(
                    select(InboundMessage.body).where(InboundMessage.patient_id == patient_id)
                )
            ).all()
        )
        assert bodies == ["1", "help", "thanks"]


async def test_a_text_that_cannot_be_stored_does_not_hold_new_texts_back(
    db, clock, sms_worker, sms_settings, tmp_path, caplog
):
    patient = await _prompted_patient(db, clock, sms_worker)
    settings = replace(sms_settings, data_dir=tmp_path)
    spool = InboundSpool.for_settings(settings)
    # A kept text the database refuses (a "To" longer than any number): not an outage.
    poison = spool.keep(
        SpooledText("SM" + "d" * 32, patient.mobile, "9" * 200, "2", clock.now(), None)
    )
    app = create_app(settings, clock=clock)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        # The API's drain loop tries the kept text at start-up (and fails it).
        deadline = time.monotonic() + 20
        while not any("spooled text failed" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        answered = await post_signed(
            client,
            "/webhooks/twilio/sms",
            inbound_params(patient.mobile, "4"),
            settings.twilio_auth_token,
        )
    assert answered.status_code == 200
    # The new text was handled now, not queued behind the one that keeps failing.
    assert spool.pending() == [poison]
    [check_in, *_] = await check_ins(db, patient.id)
    assert (check_in.status, check_in.score) == ("answered", 4)
