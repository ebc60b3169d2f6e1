from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from api_tests import builders
from db.models import AuditEvent, Referral, ReferralStatusChange
from service.referrals.deadlines import add_working_days

LONDON = ZoneInfo("Europe/London")


async def _setup(client, db, *, consent=True):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    if consent:
        # A referral goes only where a consent to share is in force (the send rule).
        given = datetime(2026, 1, 1, tzinfo=UTC)
        await builders.consent(db, patient.id, agency.id, nurse.id, given_at=given)
    return {
        "ward": ward,
        "nurse": nurse,
        "patient": patient,
        "agency": agency,
        "worker": worker,
        "ward_h": builders.bearer(client.app, nurse),
        "agency_h": builders.bearer(client.app, worker),
    }


# A consent recorded with the referral (the patient or agency of `_setup` has none).
FULL = {"scope": "full"}


async def _refer(client, s, **extra):
    payload = {
        "patient_id": str(s["patient"].id),
        "agency_id": str(s["agency"].id),
        "reason": "Needs a tenancy before discharge",
        **extra,
    }
    return await client.post("/api/v1/referrals", json=payload, headers=s["ward_h"])


# ---- respond_by: working days


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Friday -> Tuesday, same wall-clock time
        (datetime(2026, 12, 4, 9, 0, tzinfo=UTC), datetime(2026, 12, 8, 9, 0, tzinfo=UTC)),
        # Saturday and Sunday -> Tuesday
        (datetime(2026, 12, 5, 14, 0, tzinfo=UTC), datetime(2026, 12, 8, 14, 0, tzinfo=UTC)),
        (datetime(2026, 12, 6, 14, 0, tzinfo=UTC), datetime(2026, 12, 8, 14, 0, tzinfo=UTC)),
        # Wednesday -> Friday
        (datetime(2026, 12, 2, 9, 0, tzinfo=UTC), datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        # Thursday -> Monday
        (datetime(2026, 12, 3, 16, 30, tzinfo=UTC), datetime(2026, 12, 7, 16, 30, tzinfo=UTC)),
        # Friday 09:00 BST -> Tuesday 09:00 GMT across the October clock change
        (datetime(2026, 10, 23, 8, 0, tzinfo=UTC), datetime(2026, 10, 27, 9, 0, tzinfo=UTC)),
        # Friday 23:30 UTC is already Saturday in London in summer: -> Tuesday 00:30 BST
        (datetime(2026, 7, 3, 23, 30, tzinfo=UTC), datetime(2026, 7, 6, 23, 30, tzinfo=UTC)),
    ],
)
def test_two_working_days_skip_the_weekend_in_the_ward_time_zone(start, expected):
    assert add_working_days(start, 2, LONDON) == expected


async def test_respond_by_defaults_to_two_working_days_friday_to_tuesday(client, db, clock):
    clock.set(datetime(2026, 12, 4, 15, 0, tzinfo=UTC))  # a Friday
    s = await _setup(client, db)

    response = await _refer(client, s)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["respond_by"] == "2026-12-08T15:00:00Z"
    assert body["status"] == "pending"
    assert body["responded_at"] is None
    assert body["history"] == [
        {
            "from": None,
            "to": "pending",
            "at": "2026-12-04T15:00:00Z",
            "by": str(s["nurse"].id),
            "reason": None,
        }
    ]


async def test_explicit_respond_by_and_goal_id_are_kept(client, db, clock):
    s = await _setup(client, db)
    goal_id = str((await builders.goal(db, s["patient"].id, at=clock.now())).id)
    due = (clock.now() + timedelta(days=5)).isoformat()

    body = (await _refer(client, s, respond_by=due, goal_id=goal_id)).json()

    assert body["respond_by"] == "2026-12-06T09:00:00Z"
    assert body["goal_id"] == goal_id


async def test_referral_input_is_checked(client, db, clock):
    s = await _setup(client, db)
    inactive = await builders.agency(db, active=False)
    cases = [
        ({"agency_id": str(uuid.uuid4())}, 422, "agency_id"),
        ({"agency_id": str(inactive.id)}, 422, "agency_id"),
        ({"reason": "   "}, 422, "reason"),
        ({"respond_by": clock.now().isoformat()}, 422, "respond_by"),
        ({"status": "accepted"}, 422, None),
    ]
    for extra, status, field in cases:
        response = await _refer(client, s, **extra)
        assert response.status_code == status, (extra, response.text)
        if field:
            assert response.json()["errors"][0]["field"].endswith(field)
    assert await db.scalar(select(func.count()).select_from(Referral)) == 0


async def test_a_second_open_referral_to_the_same_agency_is_a_conflict(client, db, clock):
    s = await _setup(client, db)
    goal = await builders.goal(db, s["patient"].id, at=clock.now())
    first = await _refer(client, s)
    second = await _refer(client, s)
    for_a_goal = await _refer(client, s, goal_id=str(goal.id))
    assert (first.status_code, second.status_code, for_a_goal.status_code) == (201, 409, 201)


async def test_referring_a_patient_of_another_ward_is_an_audited_404(client, db):
    s = await _setup(client, db)
    elsewhere = await builders.ward(db)
    foreign = await builders.patient(db, elsewhere.id)

    response = await _refer(client, s, patient_id=str(foreign.id))

    assert response.status_code == 404
    event = await db.scalar(select(AuditEvent).where(AuditEvent.patient_id == foreign.id))
    assert (event.action, event.outcome, event.actor_id) == (
        "referral.create",
        "denied",
        s["nurse"].id,
    )


# ---- the state machine


async def test_accept_then_complete_keeps_the_full_status_history(client, db, clock):
    s = await _setup(client, db)
    created = (await _refer(client, s)).json()
    rid = created["id"]

    clock.advance(timedelta(hours=3))
    accepted = await client.post(f"/api/v1/referrals/{rid}/accept", headers=s["agency_h"])
    clock.advance(timedelta(days=30))
    completed = await client.post(
        f"/api/v1/referrals/{rid}/complete",
        json={"reason": "Tenancy signed"},
        headers=s["agency_h"],
    )

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["responded_at"] == "2026-12-01T12:00:00Z"
    assert completed.status_code == 200, completed.text
    body = completed.json()
    assert body["status"] == "completed"
    assert body["responded_at"] == "2026-12-01T12:00:00Z"
    worker = str(s["worker"].id)
    assert [(h["from"], h["to"], h["at"], h["by"], h["reason"]) for h in body["history"]] == [
        (None, "pending", "2026-12-01T09:00:00Z", str(s["nurse"].id), None),
        ("pending", "accepted", "2026-12-01T12:00:00Z", worker, None),
        ("accepted", "completed", "2026-12-31T12:00:00Z", worker, "Tenancy signed"),
    ]
    ward_h = builders.bearer(client.app, s["nurse"])
    read = (await client.get(f"/api/v1/referrals/{rid}", headers=ward_h)).json()
    assert read["history"] == body["history"]


async def test_decline_needs_a_reason_and_records_it(client, db, clock):
    s = await _setup(client, db)
    rid = (await _refer(client, s)).json()["id"]

    missing = await client.post(f"/api/v1/referrals/{rid}/decline", json={}, headers=s["agency_h"])
    blank = await client.post(
        f"/api/v1/referrals/{rid}/decline", json={"reason": "  "}, headers=s["agency_h"]
    )
    no_body = await client.post(f"/api/v1/referrals/{rid}/decline", headers=s["agency_h"])
    declined = await client.post(
        f"/api/v1/referrals/{rid}/decline",
        json={"reason": "Outside our area"},
        headers=s["agency_h"],
    )

    assert (missing.status_code, blank.status_code) == (422, 422)
    assert no_body.status_code in (400, 422)
    assert declined.status_code == 200, declined.text
    body = declined.json()
    assert (body["status"], body["decline_reason"]) == ("declined", "Outside our area")
    assert body["responded_at"] == "2026-12-01T09:00:00Z"
    assert body["history"][-1]["reason"] == "Outside our area"


async def test_ward_staff_withdraw_with_an_optional_reason(client, db):
    s = await _setup(client, db)
    first = (await _refer(client, s)).json()["id"]
    withdrawn = await client.post(
        f"/api/v1/referrals/{first}/withdraw",
        json={"reason": "Patient moved area"},
        headers=s["ward_h"],
    )
    second = (await _refer(client, s)).json()["id"]
    await client.post(f"/api/v1/referrals/{second}/accept", headers=s["agency_h"])
    bare = await client.post(f"/api/v1/referrals/{second}/withdraw", headers=s["ward_h"])

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["history"][-1]["reason"] == "Patient moved area"
    assert bare.status_code == 200, bare.text
    assert [h["to"] for h in bare.json()["history"]] == ["pending", "accepted", "withdrawn"]


LEGAL = {
    ("pending", "accept"),
    ("pending", "decline"),
    ("pending", "withdraw"),
    ("accepted", "complete"),
    ("accepted", "withdraw"),
}
ILLEGAL = [
    (status, action)
    for status in ("pending", "accepted", "declined", "withdrawn", "completed")
    for action in ("accept", "decline", "complete", "withdraw")
    if (status, action) not in LEGAL
]


async def test_every_illegal_transition_is_a_409_that_changes_nothing(client, db, clock):
    s = await _setup(client, db)
    assert len(ILLEGAL) == 15
    failures = []
    for status, action in ILLEGAL:
        referral = await builders.referral(
            db, s["patient"].id, s["agency"].id, s["nurse"].id, at=clock.now(), status=status
        )
        headers = s["ward_h"] if action == "withdraw" else s["agency_h"]
        body = {"reason": "because"} if action == "decline" else None
        response = await client.post(
            f"/api/v1/referrals/{referral.id}/{action}", json=body, headers=headers
        )
        await db.refresh(referral)
        changes = await db.scalar(
            select(func.count())
            .select_from(ReferralStatusChange)
            .where(ReferralStatusChange.referral_id == referral.id)
        )
        if response.status_code != 409 or referral.status != status or changes != 1:
            failures.append((status, action, response.status_code, referral.status, changes))
        else:
            assert response.headers["content-type"].startswith("application/problem+json")
    assert failures == []


async def test_roles_outside_the_transition_get_403_or_404(client, db):
    s = await _setup(client, db)
    rid = (await _refer(client, s)).json()["id"]
    other_agency = await builders.agency(db)
    stranger = await builders.user(db, "agency_worker", agency_id=other_agency.id)
    stranger_h = builders.bearer(client.app, stranger)

    assert (
        await client.post(f"/api/v1/referrals/{rid}/accept", headers=s["ward_h"])
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/referrals/{rid}/withdraw", headers=s["agency_h"])
    ).status_code == 403
    denied = await client.post(f"/api/v1/referrals/{rid}/accept", headers=stranger_h)
    assert denied.status_code == 404
    referral = await db.get(Referral, uuid.UUID(rid))
    assert referral.status == "pending"
    event = await db.scalar(select(AuditEvent).where(AuditEvent.actor_id == stranger.id))
    assert (event.action, event.outcome, event.object_type, event.patient_id) == (
        "referral.accept",
        "denied",
        "referral",
        s["patient"].id,
    )


# ---- who sees which referrals


async def test_agency_workers_see_only_their_agencys_referrals(client, db, clock):
    s = await _setup(client, db)
    mine = (await _refer(client, s)).json()
    other_agency = await builders.agency(db)
    theirs = (await _refer(client, s, agency_id=str(other_agency.id), consent=FULL)).json()

    listed = (await client.get("/api/v1/referrals", headers=s["agency_h"])).json()
    smuggled = (
        await client.get(f"/api/v1/referrals?agency_id={other_agency.id}", headers=s["agency_h"])
    ).json()
    read_other = await client.get(f"/api/v1/referrals/{theirs['id']}", headers=s["agency_h"])
    read_absent = await client.get(f"/api/v1/referrals/{uuid.uuid4()}", headers=s["agency_h"])

    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert smuggled["items"] == []
    assert read_other.status_code == read_absent.status_code == 404
    assert read_other.json()["detail"] == read_absent.json()["detail"]
    denied = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.actor_id == s["worker"].id, AuditEvent.outcome == "denied"
            )
        )
    ).all()
    assert {(e.action, e.object_id) for e in denied} == {
        ("referral.read", theirs["id"]),
        ("referral.read", read_absent.request.url.path.rsplit("/", 1)[1]),
    }


async def test_ward_staff_list_their_wards_referrals_with_filters(client, db, clock):
    s = await _setup(client, db)
    second_patient = await builders.patient(db, s["ward"].id)
    a = (await _refer(client, s)).json()
    clock.advance(timedelta(minutes=5))
    b = (await _refer(client, s, patient_id=str(second_patient.id), consent=FULL)).json()
    await client.post(f"/api/v1/referrals/{b['id']}/accept", headers=s["agency_h"])
    elsewhere = await builders.ward(db)
    stranger = await builders.user(db, "ward_staff", ward_id=elsewhere.id)
    stranger_h = builders.bearer(client.app, stranger)

    everything = (await client.get("/api/v1/referrals", headers=s["ward_h"])).json()
    pending = (await client.get("/api/v1/referrals?status=pending", headers=s["ward_h"])).json()
    by_patient = (
        await client.get(f"/api/v1/referrals?patient_id={second_patient.id}", headers=s["ward_h"])
    ).json()
    paged = (await client.get("/api/v1/referrals?limit=1", headers=s["ward_h"])).json()
    foreign = (
        await client.get(f"/api/v1/referrals?patient_id={s['patient'].id}", headers=stranger_h)
    ).json()
    bad_status = await client.get("/api/v1/referrals?status=lost", headers=s["ward_h"])

    assert [r["id"] for r in everything["items"]] == [b["id"], a["id"]]  # newest first
    assert [r["id"] for r in pending["items"]] == [a["id"]]
    assert [r["id"] for r in by_patient["items"]] == [b["id"]]
    assert len(paged["items"]) == 1 and paged["next_cursor"]
    assert foreign["items"] == []
    assert bad_status.status_code == 422


# ---- on hold while the patient is back on the ward


async def test_a_hold_is_a_field_set_at_readmission_and_cleared_at_discharge_or_closing(
    client, db, clock
):
    from service.referrals import service as referrals

    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    s = await _setup(client, db)
    kept = (await _refer(client, s)).json()["id"]
    other_agency = await builders.agency(db)
    closed = (await _refer(client, s, agency_id=str(other_agency.id), consent=FULL)).json()["id"]
    assert (await client.get(f"/api/v1/referrals/{kept}", headers=s["ward_h"])).json()[
        "on_hold_since"
    ] is None

    paused = await referrals.pause_open_referrals(db, s["patient"].id, clock.now(), s["nurse"].id)
    await db.commit()
    assert set(paused) == {uuid.UUID(kept), uuid.UUID(closed)}
    # Seen by the agency in its list (which carries no history) as well as by the ward.
    listed = (await client.get("/api/v1/referrals", headers=s["agency_h"])).json()["items"]
    assert [r["on_hold_since"] for r in listed if r["id"] == kept] == ["2026-12-01T09:00:00Z"]
    kinds = (
        await db.scalars(
            select(ReferralStatusChange.kind)
            .where(ReferralStatusChange.referral_id == uuid.UUID(kept))
            .order_by(ReferralStatusChange.id)
        )
    ).all()
    assert kinds == ["status", "hold"]

    # Accepting keeps the hold; withdrawing ends it.
    clock.advance(timedelta(hours=1))
    accepted = await client.post(f"/api/v1/referrals/{kept}/accept", headers=s["agency_h"])
    assert accepted.json()["on_hold_since"] == "2026-12-01T09:00:00Z"
    withdrawn = await client.post(f"/api/v1/referrals/{closed}/withdraw", headers=s["ward_h"])
    assert withdrawn.json()["on_hold_since"] is None

    clock.advance(timedelta(days=2))
    resumed = await referrals.resume_paused_referrals(
        db, s["patient"].id, clock.now(), s["nurse"].id
    )
    await db.commit()
    assert resumed == [uuid.UUID(kept)]
    body = (await client.get(f"/api/v1/referrals/{kept}", headers=s["ward_h"])).json()
    assert (body["status"], body["on_hold_since"]) == ("accepted", None)
    assert [h["to"] for h in body["history"]] == ["pending", "pending", "accepted", "accepted"]
    # A second discharge finds nothing on hold.
    assert await referrals.resume_paused_referrals(db, s["patient"].id, clock.now(), None) == []
