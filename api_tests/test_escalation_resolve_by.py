"""Acknowledged is not done: a resolve-by deadline from the ward's policy, a sweep that re-opens
an escalation one level up when it passes, and resolutions that record what staff found."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from api_tests import builders
from api_tests.conftest import TEST_JWT_SECRET
from db.models import AuditEvent, Escalation, EscalationEvent, Ward
from jobs.escalations import resolve_by_sweep
from jobs.runner import run_sweep
from service.errors import InvalidInput
from service.escalations import resolve_by
from service.escalations.service import (
    acknowledge,
    raise_escalation,
    resolve,
    resolve_all_for_patient,
    resolve_for_source,
)
from service.principal import SystemActor
from service.wards.schemas import EscalationPolicy, ResolveMinutes
from service.web.session import csrf_for

ON_CALL = "+442079460777"
CRISIS = "+442079460999"
OUTCOMES = [
    "contacted_patient_safe",
    "contacted_patient_needs_support",
    "could_not_contact",
    "duplicate",
    "other",
]


async def _ward(db, **policy):
    ward = await builders.ward(
        db,
        escalation_policy=EscalationPolicy(on_call_phone=ON_CALL, crisis_phone=CRISIS, **policy),
    )
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    manager = await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    return ward, key_worker, manager, patient


async def _raise(db, patient, clock, severity: str = "urgent", reason: str = "help_request"):
    row = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason=reason,
        severity=severity,
        source_type="test",
        source_id=uuid.uuid4(),
        now=clock.now(),
    )
    await db.commit()
    return row


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


def _staff_texts(fake, patient) -> list[str]:
    return [m.to for m in fake.accepted if m.to != patient.mobile]


async def _kinds(db, escalation_id) -> list[str]:
    return list(
        (
            await db.scalars(
                select(EscalationEvent.kind)
                .where(EscalationEvent.escalation_id == escalation_id)
                .order_by(EscalationEvent.id)
            )
        ).all()
    )


async def _fresh(db, escalation_id) -> Escalation:
    row = await db.get(Escalation, escalation_id, populate_existing=True)
    assert row is not None
    return row


async def test_acknowledged_past_resolve_by_reopens_one_level_up_and_pages_again(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    _, key_worker, manager, patient = await _ward(
        db, resolve_minutes=ResolveMinutes(urgent=90, routine=600)
    )
    row = await _raise(db, patient, clock)
    await _tick(sms_worker, clock)
    assert _staff_texts(fake_twilio, patient) == [key_worker.mobile]

    headers = builders.bearer(sms_app, key_worker)
    url = f"/api/v1/escalations/{row.id}"
    acked = await sms_client.post(f"{url}/acknowledge", headers=headers)
    assert acked.status_code == 200, acked.text
    acked_at = clock.now()
    # The ward's urgent resolve-by allowance: 90 minutes from the acknowledgement.
    assert acked.json()["resolve_due_at"] == (acked_at + timedelta(minutes=90)).isoformat().replace(
        "+00:00", "Z"
    )

    # A minute before the deadline nothing happens (and the ladder leaves it alone).
    await _tick(sms_worker, clock, 89)
    assert (await _fresh(db, row.id)).status == "acknowledged"
    assert _staff_texts(fake_twilio, patient) == [key_worker.mobile]

    # At it: open again at level 2, with level 2's acknowledge deadline (urgent: 30 min), and
    # the manager and the on-call line are texted.
    await _tick(sms_worker, clock, 1)
    reopened = await _fresh(db, row.id)
    assert (reopened.status, reopened.level) == ("open", 2)
    assert reopened.ack_due_at == acked_at + timedelta(minutes=90 + 30)
    assert (reopened.acknowledged_at, reopened.acknowledged_by, reopened.resolve_due_at) == (
        None,
        None,
        None,
    )
    assert sorted(_staff_texts(fake_twilio, patient)[1:]) == sorted([manager.mobile, ON_CALL])
    kinds = await _kinds(db, row.id)
    assert kinds == ["opened", "notified", "acknowledged", "reopened", "notified"]
    note = await db.scalar(
        select(EscalationEvent.note).where(
            EscalationEvent.escalation_id == row.id, EscalationEvent.kind == "reopened"
        )
    )
    assert note is not None
    assert "acknowledged at level 1 but not resolved by" in note
    assert "re-opened at level 2" in note
    reopen_audit = await db.scalar(
        select(AuditEvent.detail).where(AuditEvent.action == "escalation.reopen")
    )
    assert reopen_audit is not None
    assert (reopen_audit["from_level"], reopen_audit["to_level"]) == (1, 2)

    # Later sweeps do not re-open or page it again; acknowledging again sets a new deadline.
    await _tick(sms_worker, clock, 1)
    assert len(_staff_texts(fake_twilio, patient)) == 3
    manager_headers = builders.bearer(sms_app, manager)
    again = await sms_client.post(f"{url}/acknowledge", headers=manager_headers)
    assert again.status_code == 200, again.text
    assert again.json()["acknowledged_by"] == str(manager.id)
    assert (await _fresh(db, row.id)).resolve_due_at == clock.now() + timedelta(minutes=90)
    # Each text went once: no retried or repeated send.
    assert len(fake_twilio.accepted) == len(fake_twilio.creates)


async def test_at_the_top_an_overdue_acknowledgement_reopens_at_the_top(db, clock):
    _, key_worker, _, patient = await _ward(db)
    row = await _raise(db, patient, clock)
    await db.execute(update(Escalation).where(Escalation.id == row.id).values(level=3))
    await db.commit()
    await acknowledge(db, builders.principal(key_worker), row.id, clock.now())
    await db.commit()
    clock.advance(timedelta(minutes=240))  # the default urgent resolve-by: 4 h

    [due] = await resolve_by.claim_overdue(db, clock.now())
    await resolve_by.reopen(db, due, clock.now())
    await db.commit()
    assert ((await _fresh(db, row.id)).status, (await _fresh(db, row.id)).level) == ("open", 3)


async def test_two_resolve_by_sweeps_at_once_reopen_and_page_once(
    db, sessionmaker, clock, sms_channel, sms_worker, fake_twilio
):
    _, key_worker, manager, patient = await _ward(db)
    rows = [
        await _raise(db, patient, clock, severity="routine", reason="no_reply") for _ in range(3)
    ]
    for row in rows:
        await acknowledge(db, builders.principal(key_worker), row.id, clock.now())
    await db.commit()
    await _tick(sms_worker, clock)
    before = len(fake_twilio.accepted)
    clock.advance(timedelta(hours=24))  # the default routine resolve-by

    handled = await asyncio.gather(
        run_sweep("escalation_resolve_by", resolve_by_sweep, sessionmaker, clock),
        run_sweep("escalation_resolve_by", resolve_by_sweep, sessionmaker, clock),
    )
    assert sum(handled) == 3
    await _tick(sms_worker, clock)

    for row in rows:
        fresh = await _fresh(db, row.id)
        assert (fresh.status, fresh.level) == ("open", 2)
        assert (await _kinds(db, row.id)).count("reopened") == 1
    # Three escalations re-opened, each paged once to the manager and the on-call line.
    assert Counter(m.to for m in fake_twilio.accepted[before:]) == Counter(
        {manager.mobile: 3, ON_CALL: 3}
    )
    assert (
        await db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "escalation.reopen")
        )
        == 3
    )


async def test_a_resolve_by_sweep_skips_a_row_another_worker_holds(db, sessionmaker, clock):
    _, key_worker, _, patient = await _ward(db)
    row = await _raise(db, patient, clock)
    await acknowledge(db, builders.principal(key_worker), row.id, clock.now())
    await db.commit()
    clock.advance(timedelta(hours=4))

    async with sessionmaker() as first:
        [claimed] = await resolve_by.claim_overdue(first, clock.now())
        # The second worker neither waits for the held row nor re-opens it.
        async with sessionmaker() as second:
            assert await asyncio.wait_for(resolve_by.claim_overdue(second, clock.now()), 10) == []
        await resolve_by.reopen(first, claimed, clock.now())
        await first.commit()
    async with sessionmaker() as later:
        assert await resolve_by.claim_overdue(later, clock.now()) == []
    assert (await _kinds(db, row.id)).count("reopened") == 1


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_resolving_records_the_outcome_and_note(client, db, clock, outcome):
    _, key_worker, _, patient = await _ward(db)
    row = await _raise(db, patient, clock, severity="routine", reason="low_score")
    headers = builders.bearer(client.app, key_worker)

    resolved = await client.post(
        f"/api/v1/escalations/{row.id}/resolve",
        json={"resolution_outcome": outcome, "resolution_note": "Rang twice at 14:00."},
        headers=headers,
    )

    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolution_outcome"], body["resolution_note"]) == (
        "resolved",
        outcome,
        "Rang twice at 14:00.",
    )
    assert (body["resolved_by"], body["follow_on_of"]) == (str(key_worker.id), None)
    audit = await db.scalar(
        select(AuditEvent.detail).where(
            AuditEvent.action == "escalation.resolve", AuditEvent.object_id == str(row.id)
        )
    )
    assert audit == {"outcome": outcome}
    # A routine escalation closes whatever the outcome: no follow-on.
    assert await db.scalar(select(func.count()).select_from(Escalation)) == 1
    read = (await client.get(f"/api/v1/escalations/{row.id}", headers=headers)).json()
    assert read["resolution_outcome"] == outcome


async def test_could_not_contact_on_an_urgent_escalation_opens_a_paged_follow_on(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    _, key_worker, manager, patient = await _ward(db)
    row = await _raise(db, patient, clock)
    await _tick(sms_worker, clock)
    headers = builders.bearer(sms_app, key_worker)
    url = f"/api/v1/escalations/{row.id}/resolve"
    body = {"resolution_outcome": "could_not_contact", "resolution_note": "No answer, twice."}

    resolved = await sms_client.post(url, json=body, headers=headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolution_outcome"] == "could_not_contact"
    # A retried request changes nothing and raises no second follow-on.
    assert (await sms_client.post(url, json=body, headers=headers)).status_code == 409

    [follow_on] = (await db.scalars(select(Escalation).where(Escalation.id != row.id))).all()
    assert (follow_on.reason, follow_on.severity, follow_on.status, follow_on.level) == (
        "help_request",
        "urgent",
        "open",
        2,
    )
    assert follow_on.ack_due_at == clock.now() + timedelta(minutes=30)  # urgent level 2
    listed = await sms_client.get(
        f"/api/v1/escalations?status=open&patient_id={patient.id}", headers=headers
    )
    assert [(i["id"], i["follow_on_of"]) for i in listed.json()["items"]] == [
        (str(follow_on.id), str(row.id))
    ]
    assert (await _kinds(db, row.id))[-2:] == ["resolved", "follow_on_raised"]

    # Paged at once through the ladder's path: the manager and the on-call line.
    await _tick(sms_worker, clock)
    assert sorted(_staff_texts(fake_twilio, patient)[1:]) == sorted([manager.mobile, ON_CALL])

    # Could not contact again: the next follow-on is one level higher still.
    again = await sms_client.post(
        f"/api/v1/escalations/{follow_on.id}/resolve", json=body, headers=headers
    )
    assert again.status_code == 200, again.text
    third = await db.scalar(select(Escalation).where(Escalation.source_id == str(follow_on.id)))
    assert third is not None
    assert (third.status, third.level, third.source_type) == ("open", 3, "escalation")


@pytest.mark.parametrize(
    "body",
    [
        {"resolution_outcome": "fine", "resolution_note": "Rang."},
        {"resolution_outcome": "source_dealt_with", "resolution_note": "Rang."},
        {"resolution_note": "Rang."},
        {"resolution_outcome": "other"},
        {"resolution_outcome": "other", "resolution_note": "   "},
    ],
)
async def test_a_bad_resolution_is_a_422_problem_and_changes_nothing(client, db, clock, body):
    _, key_worker, _, patient = await _ward(db)
    row = await _raise(db, patient, clock)
    headers = builders.bearer(client.app, key_worker)
    events_before = await _kinds(db, row.id)

    response = await client.post(
        f"/api/v1/escalations/{row.id}/resolve", json=body, headers=headers
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert "Rang" not in response.text
    fresh = await _fresh(db, row.id)
    assert (fresh.status, fresh.resolution_outcome, fresh.resolution_note) == ("open", None, None)
    assert await _kinds(db, row.id) == events_before
    assert await db.scalar(select(func.count()).select_from(Escalation)) == 1


async def test_a_bad_outcome_from_the_board_is_refused_and_changes_nothing(client, db, clock):
    _, key_worker, _, patient = await _ward(db)
    row = await _raise(db, patient, clock)
    with pytest.raises(InvalidInput, match="resolution_outcome"):
        await resolve(db, builders.principal(key_worker), row.id, clock.now(), "", "Rang.")
    await db.rollback()
    assert (await _fresh(db, row.id)).status == "open"


async def test_other_wards_staff_may_not_acknowledge_or_resolve(client, db, clock):
    _, _, _, patient = await _ward(db)
    row = await _raise(db, patient, clock)
    elsewhere = await builders.ward(db)
    stranger = await builders.user(db, "ward_manager", ward_id=elsewhere.id)
    headers = builders.bearer(client.app, stranger)
    url = f"/api/v1/escalations/{row.id}"

    ack = await client.post(f"{url}/acknowledge", headers=headers)
    resolved = await client.post(
        f"{url}/resolve",
        json={"resolution_outcome": "duplicate", "resolution_note": "Same as the other one."},
        headers=headers,
    )
    absent = await client.post(f"/api/v1/escalations/{uuid.uuid4()}/acknowledge", headers=headers)

    assert (ack.status_code, resolved.status_code, absent.status_code) == (404, 404, 404)
    assert ack.json()["detail"] == absent.json()["detail"]  # indistinguishable from absent
    fresh = await _fresh(db, row.id)
    assert (fresh.status, fresh.acknowledged_by, fresh.resolved_by) == ("open", None, None)
    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.outcome == "denied", AuditEvent.object_id == str(row.id)
            )
        )
    ).all()
    assert {(e.action, e.actor_id, e.patient_id) for e in denied} == {
        ("escalation.acknowledge", stranger.id, patient.id),
        ("escalation.resolve", stranger.id, patient.id),
    }


async def test_the_systems_own_closing_paths_record_their_outcome(db, clock):
    _, key_worker, _, patient = await _ward(db)
    by_source = await _raise(db, patient, clock, severity="routine", reason="follow_up_due")
    by_admission = await _raise(db, patient, clock, severity="routine", reason="no_reply")
    actor = SystemActor("test")

    closed = await resolve_for_source(
        db,
        reason="follow_up_due",
        source_type="test",
        source_id=by_source.source_id,
        now=clock.now(),
        note="The follow-up was made.",
        actor=builders.principal(key_worker),
    )
    assert closed is not None
    assert await resolve_all_for_patient(db, patient.id, clock.now(), "Admitted.", actor) == 1
    await db.commit()

    assert (await _fresh(db, by_source.id)).resolution_outcome == "source_dealt_with"
    assert (await _fresh(db, by_admission.id)).resolution_outcome == "patient_admitted"


async def test_resolve_deadlines_in_the_ward_policy_have_defaults_and_bounds(client, db):
    admin = await builders.user(db, "admin")
    headers = builders.bearer(client.app, admin)

    made = await client.post("/api/v1/wards", json={"name": "Birch"}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["escalation_policy"]["resolve_minutes"] == {"urgent": 240, "routine": 1440}
    for bad in ({"urgent": 5}, {"routine": 5 * 24 * 60}, {"urgent": "soon"}):
        refused = await client.post(
            "/api/v1/wards",
            json={"name": "Rowan", "escalation_policy": {"resolve_minutes": bad}},
            headers=headers,
        )
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_a_ward_stored_before_resolve_deadlines_gets_the_default(client, db, clock):
    ward, key_worker, _, patient = await _ward(db)
    policy = dict(ward.escalation_policy)
    policy.pop("resolve_minutes")
    await db.execute(update(Ward).where(Ward.id == ward.id).values(escalation_policy=policy))
    await db.commit()
    row = await _raise(db, patient, clock, severity="routine", reason="no_reply")
    headers = builders.bearer(client.app, key_worker)

    acked = await client.post(f"/api/v1/escalations/{row.id}/acknowledge", headers=headers)

    assert acked.status_code == 200, acked.text
    assert (await _fresh(db, row.id)).resolve_due_at == clock.now() + timedelta(hours=24)


async def test_the_board_shows_the_resolve_by_time_and_resolves_with_an_outcome(
    app, client, db, clock
):
    _, key_worker, _, patient = await _ward(db)  # Europe/London: 09:00 UTC is 09:00 there
    row = await _raise(db, patient, clock)
    await acknowledge(db, builders.principal(key_worker), row.id, clock.now())
    await db.commit()
    token = builders.bearer(app, key_worker)["Authorization"].removeprefix("Bearer ")
    headers = {"Cookie": f"homeward_session={token}"}

    board = await client.get("/board", headers=headers)

    assert board.status_code == 200
    assert "resolve by 13:00" in board.text  # urgent: 4 h after acknowledging at 09:00
    assert 'name="resolution_outcome"' in board.text
    assert '<option value="could_not_contact">' in board.text
    resolved = await client.post(
        f"/board/escalations/{row.id}/resolve",
        data={
            "csrf_token": csrf_for(TEST_JWT_SECRET, token),
            "resolution_outcome": "could_not_contact",
            "resolution_note": "No answer.",
        },
        headers=headers,
        follow_redirects=False,
    )
    assert resolved.status_code == 303, resolved.text
    assert (await _fresh(db, row.id)).resolution_outcome == "could_not_contact"
    follow_on = await db.scalar(select(Escalation).where(Escalation.source_id == str(row.id)))
    assert follow_on is not None and follow_on.status == "open"
