"""Staff alerts by email, the second channel: the real aiosmtplib client against a loopback
aiosmtpd server, the real twilio SDK against the loopback fake Twilio, real PostgreSQL.

Messages are counted where they land (the SMTP server's mailbox, the fake Twilio's
requests), never in our own tables alone."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import staff_notice, written_ref
from db.models import Escalation, EscalationEvent, StaffEmail
from jobs.worker import Worker
from service.conversation.delivery import DELIVERY_HOOKS, STAFF_EMAIL_HOOKS
from service.email import outbox as email_outbox
from service.email.channel import EMAIL_CHANNEL_KEY, build_email_channel
from service.escalations.service import raise_escalation
from service.sms import outbox as sms_outbox
from service.sms.gateway import CHANNEL_KEY
from service.wards.schemas import EscalationPolicy

ON_CALL = "+442079460777"


async def _raise(db, patient, clock, *, source: str, reason="help_request", severity="urgent"):
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


async def _tick(worker: Worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()


async def _emails(db) -> list[StaffEmail]:
    rows = (
        await db.scalars(
            select(StaffEmail)
            .order_by(StaffEmail.created_at, StaffEmail.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    await db.commit()  # end the read; the session keeps what it loaded (no expiry on commit)
    return list(rows)


async def _notes(db, escalation: Escalation) -> list[str]:
    rows = (
        await db.scalars(
            select(EscalationEvent.note)
            .where(
                EscalationEvent.escalation_id == escalation.id,
                EscalationEvent.kind == "notice_not_delivered",
            )
            .order_by(EscalationEvent.id)
        )
    ).all()
    await db.commit()
    return [n or "" for n in rows]


@pytest.mark.parametrize(
    "refusal", ["invalid_number", "opted_out", "server_error", "rate_limited", "drop_before"]
)
async def test_twilio_refusing_every_staff_text_the_same_alerts_arrive_by_email_once_each(
    db, clock, email_worker, fake_twilio, fake_smtp, refusal
):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    manager = await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(
        db, ward.id, key_worker_id=key_worker.id, given_name="Alexandra", family_name="Quill"
    )
    for number in (key_worker.mobile, manager.mobile, ON_CALL):
        fake_twilio.fail_for(number, refusal)

    escalation = await _raise(db, patient, clock, source=f"refused-{refusal}")
    await email_worker.run_once("outbox")  # the key worker's text is refused
    # Two email sweeps at once, then another: the email still goes once.
    await asyncio.gather(email_worker.run_once("staff_email"), email_worker.run_once("staff_email"))
    await email_worker.run_once("staff_email")
    level_1 = staff_notice(escalation, level=1, reason="help request", severity="urgent")
    assert [(m.rcpt_to, m.body) for m in fake_smtp.received] == [([key_worker.email], level_1)]

    # 15 minutes, not acknowledged: level 2 (the manager and the on-call line), refused too.
    # Ticks go on (texts retried where Twilio said "later"); nobody is emailed twice.
    await _tick(email_worker, clock, 15)
    for _ in range(3):
        await _tick(email_worker, clock, 1)
    level_2 = staff_notice(escalation, level=2, reason="help request", severity="urgent")
    assert sorted((m.rcpt_to[0], m.body) for m in fake_smtp.received) == sorted(
        [(key_worker.email, level_1), (manager.email, level_2)]
    )
    # Twilio really was asked (and refused) for every page; the on-call line has no email.
    asked = {r.form.get("To") for r in fake_twilio.creates}
    assert {key_worker.mobile, manager.mobile, ON_CALL} <= asked
    assert fake_twilio.accepted == [] or refusal == "server_error"
    first = fake_smtp.received[0]
    assert first.subject == f"Homeward escalation {written_ref(escalation.id)}"
    assert first.message["From"] == "alerts@homeward.test"
    # No name and nothing clinical beyond the ladder's reason.
    assert all("Alexandra" not in m.body and "Quill" not in m.body for m in fake_smtp.received)
    assert {e.reason for e in await _emails(db)} == {"text_not_delivered"}


async def test_a_user_with_no_mobile_gets_the_alert_by_email_only(
    db, clock, email_worker, fake_twilio, fake_smtp
):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)  # no mobile
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)

    escalation = await _raise(db, patient, clock, source="no-mobile", severity="routine")
    await _tick(email_worker, clock)
    await _tick(email_worker, clock, 1)

    notice = staff_notice(escalation, level=1, reason="help request", severity="routine")
    assert [(m.rcpt_to, m.body) for m in fake_smtp.received] == [([key_worker.email], notice)]
    assert fake_twilio.creates == []  # nobody texted: the key worker was reached at level 1
    await db.refresh(escalation)
    assert escalation.level == 1
    told = await db.scalar(
        select(EscalationEvent.note).where(
            EscalationEvent.escalation_id == escalation.id, EscalationEvent.kind == "notified"
        )
    )
    assert told == "texted 1 of 1 at level 1"
    assert [(e.reason, e.status) for e in await _emails(db)] == [("no_mobile", "sent")]


async def test_a_ward_that_wants_both_channels_gets_each_alert_by_text_and_by_email_once(
    db, clock, email_worker, fake_twilio, fake_smtp
):
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(staff_email="always"))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)

    escalation = await _raise(db, patient, clock, source="both")
    await _tick(email_worker, clock)
    await _tick(email_worker, clock, 1)

    notice = staff_notice(escalation, level=1, reason="help request", severity="urgent")
    assert [(m.to, m.body) for m in fake_twilio.accepted] == [(key_worker.mobile, notice)]
    assert [(m.rcpt_to, m.body) for m in fake_smtp.received] == [([key_worker.email], notice)]
    assert [e.reason for e in await _emails(db)] == ["both_channels"]


async def test_the_default_ward_emails_nobody_while_texts_are_delivered(
    db, clock, email_worker, fake_twilio, fake_smtp
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    await _raise(db, patient, clock, source="texts-fine")
    await _tick(email_worker, clock)
    assert len(fake_twilio.sent_to(key_worker.mobile)) == 1
    assert fake_smtp.received == []


async def test_smtp_down_the_email_is_retried_later_and_not_lost(
    db, clock, email_worker, fake_smtp
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)  # email only
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    await fake_smtp.stop()

    escalation = await _raise(db, patient, clock, source="smtp-down", severity="routine")
    await _tick(email_worker, clock)
    [row] = await _emails(db)
    assert (row.status, row.attempts) == ("queued", 1)  # connection refused: nothing went
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)

    await fake_smtp.start()  # back, on the same port
    await _tick(email_worker, clock, 0.25)  # before the retry is due: nothing
    assert fake_smtp.received == []
    await _tick(email_worker, clock, 0.5)
    for _ in range(3):
        await _tick(email_worker, clock, 5)
    notice = staff_notice(escalation, level=1, reason="help request", severity="routine")
    assert [(m.rcpt_to, m.body) for m in fake_smtp.received] == [([key_worker.email], notice)]
    [row] = await _emails(db)
    assert (row.status, row.attempts) == ("sent", 2)


@pytest.mark.parametrize("fault", ["slow", "drop"])
async def test_an_email_the_server_may_have_taken_is_never_sent_again_and_is_noted(
    db, clock, sessionmaker, sms_channel, email_settings, fake_smtp, fault
):
    # A client timeout shorter than the server's pause: the server has the message, the
    # client cannot know.
    channel = build_email_channel(
        replace(email_settings, smtp_timeout_seconds=0.5), STAFF_EMAIL_HOOKS
    )
    worker = Worker(
        sessionmaker, clock, 1, extras={CHANNEL_KEY: sms_channel, EMAIL_CHANNEL_KEY: channel}
    )
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    fake_smtp.fail_next(fault)

    # Routine: its level-1 deadline (4 h) stays ahead, so no later step pages anyone again.
    escalation = await _raise(db, patient, clock, source=f"ambiguous-{fault}", severity="routine")
    await _tick(worker, clock)
    for _ in range(3):
        await _tick(worker, clock, 10)

    assert len(fake_smtp.to(key_worker.email)) == 1  # the one copy the server took
    [row] = await _emails(db)
    assert (row.status, row.attempts) == ("unknown", 1)
    assert await _notes(db, escalation) == [
        "The email to a staff member at level 1 was not delivered "
        "(delivery could not be confirmed)."
    ]


async def test_an_email_the_server_refuses_for_good_is_noted_on_the_escalation(
    db, clock, email_worker, fake_smtp
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    fake_smtp.fail_next("reject")

    escalation = await _raise(db, patient, clock, source="refused-mailbox", severity="routine")
    await _tick(email_worker, clock)
    await _tick(email_worker, clock, 10)

    assert fake_smtp.received == []
    [row] = await _emails(db)
    assert (row.status, row.status_reason, row.attempts) == ("failed", "smtp 550", 1)
    assert await _notes(db, escalation) == [
        "The email to a staff member at level 1 was not delivered (smtp 550)."
    ]


async def test_an_email_abandoned_mid_send_by_a_dead_worker_becomes_unknown_not_resent(
    db, clock, email_channel, fake_smtp
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    escalation = await _raise(db, patient, clock, source="dead-worker")
    # A worker marks the email `sending` (committed) and dies before its SMTP call returns.
    claimed = await email_outbox.claim_and_mark_sending(
        db, now=clock.now(), owner="dead", limit=10, lease=timedelta(minutes=1)
    )
    await db.commit()
    assert len(claimed) == 1

    clock.advance(timedelta(minutes=2))
    expired = await email_outbox.expire_sending_leases(db, email_channel.hooks, clock.now())
    await db.commit()
    assert expired == 1
    result = await email_outbox.send_due(db, email_channel, clock)
    assert result.claimed == 0
    assert fake_smtp.received == []
    [row] = await _emails(db)
    assert (row.status, row.status_reason) == ("unknown", "lease_expired")
    assert await _notes(db, escalation) == [
        "The email to a staff member at level 1 was not delivered "
        "(delivery could not be confirmed)."
    ]


async def test_sweeps_racing_over_many_due_emails_send_each_once(
    db, clock, sessionmaker, email_channel, fake_smtp
):
    ward = await builders.ward(db)
    managers = [await builders.user(db, "ward_manager", ward_id=ward.id) for _ in range(7)]
    patient = await builders.home_patient(db, ward.id)  # no key worker: level 2, the managers
    await _raise(db, patient, clock, source="many")
    assert len(await _emails(db)) == 7

    async def sweep(n: int) -> int:
        async with sessionmaker() as session:
            result = await email_outbox.send_due(
                session, email_channel, clock, owner=f"racer-{n}", limit=2
            )
            return result.sent

    sent = 0
    for _ in range(4):
        sent += sum(await asyncio.gather(*(sweep(n) for n in range(3))))
    assert sent == 7
    assert sorted(m.rcpt_to[0] for m in fake_smtp.received) == sorted(m.email for m in managers)
    assert len({m.message_id for m in fake_smtp.received}) == 7


async def test_without_smtp_a_user_with_no_mobile_is_passed_over_as_before(
    db, clock, sms_worker, fake_twilio
):
    # Staff email off (no SMTP_URL): someone without a mobile cannot be reached, so the
    # notice passes up to the on-call line rather than waiting on a channel that is not there.
    ward = await builders.ward(db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL))
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    escalation = await _raise(db, patient, clock, source="no-smtp")
    await _tick(sms_worker, clock)
    await db.refresh(escalation)
    assert escalation.level == 2
    assert [m.to for m in fake_twilio.accepted] == [ON_CALL]
    assert await _emails(db) == []


async def test_with_starttls_required_nothing_is_sent_to_a_server_without_it(
    db, clock, email_settings, fake_smtp
):
    # The loopback server offers no STARTTLS: the default setting refuses to send in clear
    # (the email waits to be retried) rather than fall back to plain text.
    channel = build_email_channel(
        replace(email_settings, smtp_starttls="required"), STAFF_EMAIL_HOOKS
    )
    assert channel is not None
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    await _raise(db, patient, clock, source="starttls", severity="routine")

    result = await email_outbox.send_due(db, channel, clock)
    assert (result.claimed, result.retried, result.sent) == (1, 1, 0)
    assert fake_smtp.received == []
    [row] = await _emails(db)
    assert row.status == "queued"


async def test_a_staff_text_reported_undelivered_later_is_emailed_once(
    db, clock, email_worker, fake_twilio, fake_smtp
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    escalation = await _raise(db, patient, clock, source="undelivered-later", severity="routine")
    await _tick(email_worker, clock)
    [text] = fake_twilio.sent_to(key_worker.mobile)
    assert fake_smtp.received == []  # accepted by Twilio: no email yet

    # The carrier's delivery report comes back "undelivered" (twice, as callbacks may).
    for _ in range(2):
        await sms_outbox.apply_status_callback(
            db,
            DELIVERY_HOOKS,
            outbox_id=None,
            message_sid=text.sid,
            message_status="undelivered",
            error_code=30003,
            now=clock.now(),
        )
        await db.commit()
    await _tick(email_worker, clock, 1)

    notice = staff_notice(escalation, level=1, reason="help request", severity="routine")
    assert [(m.rcpt_to, m.body) for m in fake_smtp.received] == [([key_worker.email], notice)]
    assert await _notes(db, escalation) == [
        "The text to a staff member at level 1 was not delivered (error 30003)."
    ]


async def test_a_staff_text_a_dead_worker_left_sending_is_emailed_at_once(
    db, clock, email_worker, fake_twilio, fake_smtp
):
    ward = await builders.ward(db)
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    escalation = await _raise(db, patient, clock, source="dead-sms-worker", severity="routine")
    # A worker claims the text, marks it `sending` (committed) and dies before Twilio answers.
    [claimed] = await sms_outbox.claim_batch(
        db, now=clock.now(), owner="dead", limit=10, lease=timedelta(minutes=1)
    )
    await db.commit()
    assert await sms_outbox.mark_sending(
        db, DELIVERY_HOOKS, [claimed.id], "dead", clock.now(), timedelta(minutes=1)
    )
    await db.commit()

    # Its lease runs out: the text is `unknown` (never resent) and the email goes in the
    # same tick, not after the 15 minutes an unconfirmed text waits for a delivery report.
    await _tick(email_worker, clock, 2)
    assert fake_twilio.creates == []
    notice = staff_notice(escalation, level=1, reason="help request", severity="routine")
    assert [(m.rcpt_to, m.body) for m in fake_smtp.received] == [([key_worker.email], notice)]
    await _tick(email_worker, clock, 20)  # the unconfirmed report later: no second email
    assert len(fake_smtp.received) == 1
