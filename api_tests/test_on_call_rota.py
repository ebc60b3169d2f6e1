"""The on-call rota: who holds a shift decides who is paged at levels 1 and 2, and a shift is
only accepted for someone a page can reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text

from api_tests import builders
from db.models import AuditEvent, OnCallShift
from service.escalations.service import raise_escalation
from service.paging.recipients import recipients_at
from service.wards.schemas import EscalationPolicy

ON_CALL = "+442079460777"
CRISIS = "+442079460999"


async def _ward(db):
    ward = await builders.ward(
        db, escalation_policy=EscalationPolicy(on_call_phone=ON_CALL, crisis_phone=CRISIS)
    )
    manager = await builders.user(db, "ward_manager", ward_id=ward.id, mobile=builders.mobile())
    key_worker = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(db, ward.id, key_worker_id=key_worker.id)
    return ward, manager, key_worker, patient


async def _nurse(db, ward, **fields):
    fields.setdefault("mobile", builders.mobile())
    return await builders.user(db, "ward_staff", ward_id=ward.id, **fields)


def _shift_body(user, clock, *, start: float = -1, hours: float = 12) -> dict:
    """A shift from `start` hours from now, lasting `hours`."""
    starts = clock.now() + timedelta(hours=start)
    return {
        "user_id": str(user.id),
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=hours)).isoformat(),
    }


async def _put_on_call(client, app, manager, ward, body) -> dict:
    response = await client.post(
        f"/api/v1/wards/{ward.id}/on-call", json=body, headers=builders.bearer(app, manager)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _raise(db, patient, clock, source: str):
    row = await raise_escalation(
        db,
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason="low_score",
        severity="routine",
        source_type="test",
        source_id=source,
        now=clock.now(),
    )
    await db.commit()
    return row


async def _tick(worker, clock, minutes: float = 0) -> None:
    clock.advance(timedelta(minutes=minutes))
    await worker.run_once()
    await worker.run_once()  # what the first pass queued goes out on the second


def _told(fake, since: int = 0) -> list[str]:
    return sorted(m.to for m in fake.accepted[since:])


async def test_an_on_call_shift_receives_level_two_and_a_key_worker_off_shift_does_not_receive_level_one(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, key_worker, patient = await _ward(db)
    nurse = await _nurse(db, ward)
    shift = await _put_on_call(
        sms_client, sms_app, manager, ward, _shift_body(nurse, clock, hours=24)
    )
    assert shift["on_call_now"] is True

    row = await _raise(db, patient, clock, "rota")
    await _tick(sms_worker, clock)
    # The key worker holds no shift: level 1 goes to whoever is on call now.
    assert _told(fake_twilio) == [nurse.mobile]

    await _tick(sms_worker, clock, 4 * 60)
    await db.refresh(row)
    assert row.level == 2
    # Level 2: the on-call nurse and the managers; the ward's number only when nobody is.
    assert _told(fake_twilio, 1) == sorted([nurse.mobile, manager.mobile])
    assert key_worker.mobile not in _told(fake_twilio)
    assert ON_CALL not in _told(fake_twilio)


async def test_a_key_worker_on_shift_receives_level_one(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, key_worker, patient = await _ward(db)
    await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(key_worker, clock))

    await _raise(db, patient, clock, "on-shift")
    await _tick(sms_worker, clock)

    assert _told(fake_twilio) == [key_worker.mobile]


async def test_overlapping_shifts_are_all_paged(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, key_worker, patient = await _ward(db)
    first, second = await _nurse(db, ward), await _nurse(db, ward)
    await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(first, clock, start=-2))
    await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(second, clock, start=-1))
    # The manager on call too is paged once, not twice.
    await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(manager, clock))

    row = await _raise(db, patient, clock, "overlap")
    await _tick(sms_worker, clock)
    assert _told(fake_twilio) == sorted([first.mobile, second.mobile, manager.mobile])
    await _tick(sms_worker, clock, 4 * 60)
    await db.refresh(row)
    assert row.level == 2
    assert _told(fake_twilio, 3) == sorted([first.mobile, second.mobile, manager.mobile])
    assert key_worker.mobile not in _told(fake_twilio)


async def test_with_nobody_on_call_now_the_page_goes_up_to_the_managers_and_the_wards_number(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, _key_worker, patient = await _ward(db)
    nurse = await _nurse(db, ward)
    # A rota whose only shift starts tonight: nobody covers now, the key worker is off shift.
    await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(nurse, clock, start=10))

    row = await _raise(db, patient, clock, "gap")
    await _tick(sms_worker, clock)

    await db.refresh(row)
    assert row.level == 2
    assert _told(fake_twilio) == sorted([manager.mobile, ON_CALL])


async def test_a_ward_whose_rota_has_run_out_pages_the_key_worker_again(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, key_worker, patient = await _ward(db)
    nurse = await _nurse(db, ward)
    await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(nurse, clock, hours=2))
    clock.advance(timedelta(hours=2))  # the last shift has ended: no rota any more

    await _raise(db, patient, clock, "ran-out")
    await _tick(sms_worker, clock)

    assert _told(fake_twilio) == [key_worker.mobile]


async def test_someone_who_left_the_ward_or_lost_their_number_after_the_shift_is_not_paged(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, _key_worker, patient = await _ward(db)
    moved, deactivated = await _nurse(db, ward), await _nurse(db, ward)
    for nurse in (moved, deactivated):
        await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(nurse, clock))
    other = await builders.ward(db)
    moved.ward_id = other.id
    deactivated.active = False
    await db.commit()

    row = await _raise(db, patient, clock, "left")
    await _tick(sms_worker, clock)

    # Nobody reachable on call: level 1 passes up to level 2 and its fallback number.
    await db.refresh(row)
    assert row.level == 2
    assert _told(fake_twilio) == sorted([manager.mobile, ON_CALL])


async def test_a_shift_removed_pages_nobody_and_is_audited(
    db, sms_client, sms_app, clock, sms_worker, fake_twilio
):
    ward, manager, key_worker, patient = await _ward(db)
    nurse = await _nurse(db, ward)
    headers = builders.bearer(sms_app, manager)
    shift = await _put_on_call(sms_client, sms_app, manager, ward, _shift_body(nurse, clock))
    listed = await sms_client.get(f"/api/v1/wards/{ward.id}/on-call", headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [shift["id"]]

    removed = await sms_client.delete(
        f"/api/v1/wards/{ward.id}/on-call/{shift['id']}", headers=headers
    )
    assert removed.status_code == 204
    again = await sms_client.delete(
        f"/api/v1/wards/{ward.id}/on-call/{shift['id']}", headers=headers
    )
    assert again.status_code == 404

    await _raise(db, patient, clock, "removed")
    await _tick(sms_worker, clock)
    assert _told(fake_twilio) == [key_worker.mobile]  # no rota left: the key worker
    actions = await db.scalars(
        select(AuditEvent.action)
        .where(
            AuditEvent.ward_id == ward.id,
            AuditEvent.action.like("ward.on_call.%"),
            AuditEvent.outcome == "allowed",
        )
        .order_by(AuditEvent.id)
    )
    assert list(actions) == ["ward.on_call.add", "ward.on_call.remove"]


async def _refused_cases(db, ward, clock):
    other = await builders.ward(db)
    return {
        "another ward's staff": _shift_body(await _nurse(db, other), clock),
        "inactive": _shift_body(await _nurse(db, ward, active=False), clock),
        "no mobile": _shift_body(await _nurse(db, ward, mobile=None), clock),
        "an admin": _shift_body(await builders.user(db, "admin", mobile=builders.mobile()), clock),
    }


@pytest.mark.parametrize(
    "case",
    [
        "another ward's staff",
        "inactive",
        "no mobile",
        "an admin",
        "unknown user",
        "ends before it starts",
        "longer than a week",
        "already ended",
        "naive times",
        "the same person twice at once",
    ],
)
async def test_refused_shifts_are_problems_and_change_nothing(db, client, app, clock, case):
    ward, manager, key_worker, _ = await _ward(db)
    headers = builders.bearer(app, manager)
    held = _shift_body(key_worker, clock)
    await _put_on_call(client, app, manager, ward, held)
    bodies = await _refused_cases(db, ward, clock)
    ok = _shift_body(key_worker, clock, start=24)
    bodies |= {
        "unknown user": {**ok, "user_id": "00000000-0000-4000-8000-000000000000"},
        "ends before it starts": {**ok, "ends_at": ok["starts_at"]},
        "longer than a week": _shift_body(key_worker, clock, start=24, hours=7 * 24 + 1),
        "already ended": _shift_body(key_worker, clock, start=-30, hours=6),
        "naive times": {
            **ok,
            "starts_at": ok["starts_at"][:19],
            "ends_at": ok["ends_at"][:19],
        },
        "the same person twice at once": _shift_body(key_worker, clock, start=2),
    }
    count = select(func.count()).select_from(OnCallShift)
    before = await db.scalar(count)
    await db.commit()

    response = await client.post(
        f"/api/v1/wards/{ward.id}/on-call", json=bodies[case], headers=headers
    )

    expected = 409 if case == "the same person twice at once" else 422
    assert response.status_code == expected, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await db.scalar(count) == before
    await db.commit()


async def test_who_may_read_and_write_the_rota(db, client, app, clock):
    ward, manager, key_worker, _ = await _ward(db)
    other = await builders.ward(db)
    other_manager = await builders.user(db, "ward_manager", ward_id=other.id)
    admin = await builders.user(db, "admin")
    url = f"/api/v1/wards/{ward.id}/on-call"
    body = _shift_body(key_worker, clock)

    def as_(who):
        return builders.bearer(app, who)

    assert (await client.post(url, json=body, headers=as_(key_worker))).status_code == 403
    assert (await client.post(url, json=body, headers=as_(other_manager))).status_code == 404
    assert (await client.get(url, headers=as_(other_manager))).status_code == 404
    created = await client.post(url, json=body, headers=as_(admin))
    assert created.status_code == 201, created.text
    shift_id = created.json()["id"]
    # The ward's staff read it; another ward's manager cannot reach it through their ward.
    listed = await client.get(url, headers=as_(key_worker))
    assert [s["id"] for s in listed.json()["items"]] == [shift_id]
    foreign = f"/api/v1/wards/{other.id}/on-call/{shift_id}"
    assert (await client.delete(foreign, headers=as_(other_manager))).status_code == 404
    assert (await client.delete(f"{url}/{shift_id}", headers=as_(key_worker))).status_code == 403
    assert (await client.delete(f"{url}/{shift_id}", headers=as_(manager))).status_code == 204
    denied = await db.scalars(
        select(AuditEvent.action).where(AuditEvent.outcome == "denied").order_by(AuditEvent.id)
    )
    assert list(denied) == [
        "ward.on_call.add",
        "ward.on_call.add",
        "ward.on_call.remove",
        "ward.on_call.remove",
    ]


async def test_the_rota_lists_current_and_coming_shifts_and_past_ones_on_request(
    db, client, app, clock
):
    ward, manager, key_worker, _ = await _ward(db)
    headers = builders.bearer(app, manager)
    past = await _put_on_call(client, app, manager, ward, _shift_body(key_worker, clock, hours=2))
    coming = await _put_on_call(
        client, app, manager, ward, _shift_body(key_worker, clock, start=24)
    )
    clock.advance(timedelta(hours=3))
    url = f"/api/v1/wards/{ward.id}/on-call"

    now_view = (await client.get(url, headers=headers)).json()["items"]
    assert [(s["id"], s["on_call_now"]) for s in now_view] == [(coming["id"], False)]
    since = (clock.now() - timedelta(days=1)).isoformat()
    history = (await client.get(url, params={"from": since}, headers=headers)).json()["items"]
    assert [s["id"] for s in history] == [past["id"], coming["id"]]


async def test_who_is_on_call_now_reads_the_rota_ahead_not_its_history(db, clock):
    """Years of ended shifts: the page's rota queries read through the (ward_id, ends_at)
    index, so their cost follows the shifts still to come, not every shift ever held."""
    ward, _, key_worker, patient = await _ward(db)
    nurse = await _nurse(db, ward)
    conn = await db.connection()
    for who in (key_worker, nurse):
        await conn.execute(
            text(
                """
                INSERT INTO on_call_shifts (id, ward_id, user_id, starts_at, ends_at, created_at)
                SELECT gen_random_uuid(), :ward, :user, t - interval '8 hours', t, t
                FROM generate_series(1, 10000) AS d,
                     LATERAL (SELECT CAST(:now AS timestamptz) - d * interval '8 hours') AS x(t)
                """
            ),
            {"ward": ward.id, "user": who.id, "now": clock.now()},
        )
    db.add(
        OnCallShift(
            ward_id=ward.id,
            user_id=nurse.id,
            starts_at=clock.now() - timedelta(hours=1),
            ends_at=clock.now() + timedelta(hours=7),
            created_at=clock.now(),
        )
    )
    await db.commit()
    await (await db.connection()).exec_driver_sql("ANALYZE on_call_shifts")
    await db.commit()
    await db.refresh(ward)

    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, *_):
        seen.append((statement, parameters))

    engine = db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        level, found = await recipients_at(db, ward, patient.id, 1, clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert (level, [r.user_id for r in found]) == (1, [nurse.id])

    rota_statements = [(s, p) for s, p in seen if "on_call_shifts" in s]
    assert len(rota_statements) == 2  # the key worker's shift, then who is on call
    conn = await db.connection()
    for statement, parameters in rota_statements:
        result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        nodes = list(_nodes(result.scalar_one()[0]["Plan"]))
        reads = {
            (n["Node Type"], n.get("Index Name"))
            for n in nodes
            if n.get("Relation Name") == "on_call_shifts"
        }
        assert reads, nodes
        assert all(name == "ix_on_call_shifts_ward_id_ends_at" for _, name in reads), reads
    await db.rollback()


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
