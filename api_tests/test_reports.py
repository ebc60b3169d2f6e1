"""Outcome reports: every figure checked against numbers worked out by hand from the seed.

Clock: 2026-12-01T09:00Z. Period: [2026-10-01T00:00Z, 2026-12-01T00:00Z).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from api_tests import builders
from db.models import (
    CheckIn,
    Episode,
    Escalation,
    FollowUp,
    Goal,
    GoalStatusChange,
    OutboxMessage,
    Patient,
    PromAnswer,
    PromSurvey,
    Referral,
    ReferralStatusChange,
)
from service.reports import measures
from service.reports.service import compute

PERIOD = {"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def discharged(
    db: AsyncSession,
    ward_id: uuid.UUID,
    discharged_at: str,
    *,
    due_at: str | None = None,
    completed_at: str | None = None,
    suicide_risk: bool = False,
    readmitted_at: str | None = None,
    status: str | None = None,
) -> SimpleNamespace:
    patient = await builders.home_patient(db, ward_id)
    out = t(discharged_at)
    episode = Episode(
        patient_id=patient.id,
        admitted_at=out - timedelta(days=10),
        discharged_at=out,
        suicide_risk=suicide_risk,
    )
    db.add(episode)
    await db.flush()
    follow_up = None
    if due_at is not None:
        follow_up = FollowUp(
            patient_id=patient.id,
            episode_id=episode.id,
            due_at=t(due_at),
            suicide_risk=suicide_risk,
            status=status or ("completed" if completed_at else "pending"),
            completed_at=t(completed_at) if completed_at else None,
            method="phone" if completed_at else None,
            breached_at=t(due_at) if status == "breached" else None,
            created_at=out,
        )
        db.add(follow_up)
    if readmitted_at is not None:
        db.add(Episode(patient_id=patient.id, admitted_at=t(readmitted_at)))
    await db.commit()
    return SimpleNamespace(patient=patient, episode=episode, follow_up=follow_up)


def check_in(patient: Patient, due_at: str, status: str) -> CheckIn:
    return CheckIn(
        patient_id=patient.id,
        kind="extra",
        due_at=t(due_at),
        status=status,
        reply_window_minutes=240,
        reminder_after_minutes=120,
    )


def prompt(patient: Patient, at: str, status: str) -> OutboxMessage:
    return OutboxMessage(
        dedupe_key=f"test:{uuid.uuid4()}",
        recipient_kind="patient",
        patient_id=patient.id,
        ward_id=patient.ward_id,
        purpose="checkin_prompt",
        to_number=patient.mobile,
        body="How are you today?",
        status=status,
        created_at=t(at),
        updated_at=t(at),
    )


def escalation(
    patient: Patient,
    reason: str,
    severity: str,
    level: int,
    opened_at: str,
    acknowledged_at: str | None = None,
) -> Escalation:
    opened = t(opened_at)
    return Escalation(
        patient_id=patient.id,
        ward_id=patient.ward_id,
        reason=reason,
        severity=severity,
        level=level,
        status="acknowledged" if acknowledged_at else "open",
        source_type="test",
        source_id=str(uuid.uuid4()),
        opened_at=opened,
        ack_due_at=opened + timedelta(minutes=15),
        acknowledged_at=t(acknowledged_at) if acknowledged_at else None,
    )


async def referral(
    db: AsyncSession,
    patient: Patient,
    agency_id: uuid.UUID,
    by: uuid.UUID,
    created: str,
    status: str,
    responded: str | None = None,
    reason: str | None = None,
    withdrawn: str | None = None,
) -> Referral:
    at = t(created)
    row = Referral(
        patient_id=patient.id,
        agency_id=agency_id,
        reason="Needs support",
        status=status,
        respond_by=at + timedelta(hours=48),
        responded_at=t(responded) if responded else None,
        decline_reason=reason,
        created_by_id=by,
        created_at=at,
        updated_at=at,
    )
    db.add(row)
    await db.flush()
    db.add(ReferralStatusChange(referral_id=row.id, from_status=None, to_status="pending", at=at))
    if withdrawn:
        db.add(
            ReferralStatusChange(
                referral_id=row.id, from_status="pending", to_status="withdrawn", at=t(withdrawn)
            )
        )
    return row


def goal(patient: Patient, domain: str, status: str, closed: str) -> tuple[Goal, GoalStatusChange]:
    row = Goal(
        id=uuid.uuid4(),
        patient_id=patient.id,
        domain=domain,
        description="A goal",
        status=status,
        created_at=t("2026-09-01T09:00:00Z"),
        updated_at=t(closed),
    )
    return row, GoalStatusChange(
        goal_id=row.id, changed_at=t(closed), from_status="active", to_status=status
    )


async def seed(db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar) -> Any:
    team = await builders.ward_team(db, app)
    w = team.ward.id
    s = SimpleNamespace(team=team)
    # Follow-ups. Met: p1 (24 h). Late: p2 (48 h clock, contact at 72 h). Not yet due: p4.
    # Readmitted before due: p5 (excluded). Breached, no contact: p7. Outside period: p6.
    s.p1 = await discharged(
        db, w, "2026-11-02T10:00:00Z", due_at="2026-11-05T10:00:00Z",
        completed_at="2026-11-03T10:00:00Z",
    )  # fmt: skip
    s.p2 = await discharged(
        db, w, "2026-11-04T12:00:00Z", due_at="2026-11-06T12:00:00Z",
        completed_at="2026-11-07T12:00:00Z", suicide_risk=True,
    )  # fmt: skip
    s.p4 = await discharged(db, w, "2026-11-29T09:00:00Z", due_at="2026-12-02T09:00:00Z")
    s.p5 = await discharged(
        db, w, "2026-11-10T09:00:00Z", due_at="2026-11-13T09:00:00Z",
        readmitted_at="2026-11-12T09:00:00Z",
    )  # fmt: skip
    s.p6 = await discharged(
        db, w, "2026-09-20T09:00:00Z", due_at="2026-09-23T09:00:00Z",
        completed_at="2026-09-21T09:00:00Z",
    )  # fmt: skip
    s.p7 = await discharged(
        db, w, "2026-11-15T09:00:00Z", due_at="2026-11-18T09:00:00Z", status="breached"
    )
    # Readmission day 30 (exactly 720 h later) and day 31 (720 h and one minute).
    s.p8 = await discharged(db, w, "2026-10-01T12:00:00Z", readmitted_at="2026-10-31T12:00:00Z")
    s.p9 = await discharged(db, w, "2026-10-02T12:00:00Z", readmitted_at="2026-11-01T12:01:00Z")
    # The clock-change discharge goes through the API: 23:30 BST on Saturday 24 October,
    # the UK clocks go back at 02:00 on Sunday 25 October. 72 elapsed hours end at 22:30Z
    # (22:30 GMT) on the 27th; a contact at 22:45 GMT is late, though "23:30 local plus three
    # days" would call it on time.
    p3 = await builders.patient(db, w, admitted_at=t("2026-10-14T09:00:00Z"))
    headers = team.nurse_headers
    r = await client.post(
        f"/api/v1/patients/{p3.id}/discharge",
        json={"discharged_at": "2026-10-24T23:30:00+01:00", "suicide_risk": False},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/patients/{p3.id}/follow-ups", headers=headers)
    fu = r.json()["items"][0]
    assert fu["due_at"] in ("2026-10-27T22:30:00Z", "2026-10-27T22:30:00+00:00")
    r = await client.post(
        f"/api/v1/patients/{p3.id}/follow-ups/{fu['id']}/attempts",
        json={"occurred_at": "2026-10-27T22:45:00Z", "method": "phone", "successful": True},
        headers=headers,
    )
    assert r.status_code in (200, 201), r.text
    s.p3_follow_up = uuid.UUID(fu["id"])
    s.p3_episode = await db.scalar(
        select(Episode.id).where(Episode.patient_id == p3.id, Episode.discharged_at.is_not(None))
    )

    p1, p2 = s.p1.patient, s.p2.patient
    # Check-ins: answered 3, missed 2; scheduled and cancelled ones do not count.
    s.check_ins = [
        check_in(p1, "2026-11-03T09:00:00Z", "answered"),
        check_in(p1, "2026-11-04T09:00:00Z", "answered"),
        check_in(p1, "2026-11-05T09:00:00Z", "missed"),
        check_in(p1, "2026-11-06T09:00:00Z", "scheduled"),
        check_in(p1, "2026-11-07T09:00:00Z", "cancelled"),
        check_in(p2, "2026-11-05T09:00:00Z", "answered"),
        check_in(p2, "2026-11-06T09:00:00Z", "missed"),
        check_in(p2, "2026-09-06T09:00:00Z", "missed"),  # before the period
    ]
    # Prompts: 5 count (the cancelled one not): delivered 2, undeliverable 2 (undelivered,
    # failed), one merely sent.
    s.prompts = [
        prompt(p1, "2026-11-03T09:00:00Z", "delivered"),
        prompt(p1, "2026-11-04T09:00:00Z", "delivered"),
        prompt(p1, "2026-11-05T09:00:00Z", "undelivered"),
        prompt(p1, "2026-11-07T09:00:00Z", "cancelled"),
        prompt(p2, "2026-11-05T09:00:00Z", "failed"),
        prompt(p2, "2026-11-06T09:00:00Z", "sent"),
    ]
    # Escalations: 5 in the period; climbed: e2 (level 2), e4 (level 3).
    s.e1 = escalation(p1, "no_reply", "routine", 1, "2026-11-05T10:00:00Z", "2026-11-05T10:30:00Z")
    s.e2 = escalation(
        p1, "help_request", "urgent", 2, "2026-11-06T10:00:00Z", "2026-11-06T10:50:00Z"
    )
    s.e3 = escalation(p2, "low_score", "urgent", 1, "2026-11-07T10:00:00Z", "2026-11-07T10:10:00Z")
    s.e4 = escalation(p2, "follow_up_due", "routine", 3, "2026-11-08T10:00:00Z")
    s.e5 = escalation(p2, "opted_out", "routine", 1, "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z")
    s.e6 = escalation(p2, "no_reply", "routine", 1, "2026-09-01T10:00:00Z")
    db.add_all([*s.check_ins, *s.prompts, s.e1, s.e2, s.e3, s.e4, s.e5, s.e6])

    agency = await builders.agency(db)
    by = team.nurse.id
    s.r1 = await referral(db, p1, agency.id, by, "2026-11-01T09:00:00Z", "accepted",
                          "2026-11-02T09:00:00Z")  # fmt: skip
    s.r2 = await referral(db, p1, agency.id, by, "2026-11-02T09:00:00Z", "declined",
                          "2026-11-05T09:00:00Z", "No capacity")  # fmt: skip
    s.r3 = await referral(db, p1, agency.id, by, "2026-11-03T09:00:00Z", "pending")
    s.r4 = await referral(db, p2, agency.id, by, "2026-11-04T09:00:00Z", "completed",
                          "2026-11-04T21:00:00Z")  # fmt: skip
    s.r5 = await referral(db, p2, agency.id, by, "2026-11-05T09:00:00Z", "withdrawn",
                          withdrawn="2026-11-06T09:00:00Z")  # fmt: skip
    s.r6 = await referral(db, p2, agency.id, by, "2026-11-30T09:00:00Z", "pending")
    s.r7 = await referral(db, p2, agency.id, by, "2026-11-06T09:00:00Z", "declined",
                          "2026-11-07T09:00:00Z", " no capacity ")  # fmt: skip

    s.g1 = goal(p1, "housing", "achieved", "2026-11-10T09:00:00Z")
    s.g2 = goal(p1, "housing", "not_achieved", "2026-11-11T09:00:00Z")
    s.g3 = goal(p2, "finances", "achieved", "2026-11-12T09:00:00Z")
    s.g4 = goal(p2, "finances", "cancelled", "2026-09-01T09:00:00Z")
    s.g5 = goal(p2, "medication", "active", "2026-11-13T09:00:00Z")
    for row, change in (s.g1, s.g2, s.g3, s.g4, s.g5):
        db.add(row)
        await db.flush()
        db.add(change)
    await db.commit()
    return s


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["key"]: m for m in report["measures"]}


def ids(*rows: Any) -> list[str]:
    return [str(r.id) for r in rows]


async def test_ward_report_matches_hand_counted_figures(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    s = await seed(db, client, app)
    r = await client.get("/api/v1/reports/outcomes", params=PERIOD, headers=s.team.manager_headers)
    assert r.status_code == 200, r.text
    m = by_key(r.json())

    fu = m["follow_up.within_deadline"]
    # Due and countable: p1 (met), p2 (late), p3 (late by 15 min over the clock change), p7.
    assert (fu["numerator"], fu["denominator"], fu["rate"], fu["target"]) == (1, 4, 0.25, 0.8)
    assert fu["numerator_ids"] == ids(s.p1.follow_up)
    assert set(fu["record_ids"]) == {
        *ids(s.p1.follow_up, s.p2.follow_up, s.p7.follow_up),
        str(s.p3_follow_up),
    }
    # Contact after 24 h, 72 h and 72.25 h: the median is 72.
    med = m["follow_up.median_hours_to_contact"]
    assert (med["value"], med["denominator"], med["numerator"]) == (72.0, 3, None)

    re = m["readmission.within_30_days"]
    # Countable: p3 (30 days passed), p5 (readmitted day 2), p8 (day 30), p9 (day 31).
    assert (re["numerator"], re["denominator"], re["rate"]) == (2, 4, 0.5)
    assert set(re["numerator_ids"]) == set(ids(s.p5.episode, s.p8.episode))
    assert set(re["record_ids"]) == {*ids(s.p5.episode, s.p8.episode, s.p9.episode),
                                     str(s.p3_episode)}  # fmt: skip

    assert (m["check_ins.response_rate"]["numerator"],
            m["check_ins.response_rate"]["denominator"],
            m["check_ins.response_rate"]["rate"]) == (3, 5, 0.6)  # fmt: skip
    assert (m["check_ins.prompts_delivered"]["numerator"],
            m["check_ins.prompts_delivered"]["denominator"]) == (2, 5)  # fmt: skip
    assert m["check_ins.prompts_undeliverable"]["numerator"] == 2
    assert (m["check_ins.opted_out"]["numerator"],
            m["check_ins.opted_out"]["denominator"]) == (1, 2)  # fmt: skip
    assert m["check_ins.opted_out"]["numerator_ids"] == [str(s.p2.patient.id)]

    assert m["escalations.by_reason.no_reply"]["numerator"] == 1
    assert m["escalations.by_reason.no_reply"]["denominator"] == 5
    assert m["escalations.by_reason.help_request"]["numerator_ids"] == ids(s.e2)
    assert m["escalations.by_reason.undeliverable"]["numerator"] == 0
    assert m["escalations.by_severity.urgent"]["numerator"] == 2
    assert m["escalations.by_severity.routine"]["numerator"] == 3
    climbed = m["escalations.climbed"]
    assert (climbed["numerator"], climbed["denominator"], climbed["rate"]) == (2, 5, 0.4)
    assert set(climbed["numerator_ids"]) == set(ids(s.e2, s.e4))
    # Level 1 acknowledged after 30, 10 and 120 minutes: median 30. Level 2: 50. Level 3: none.
    level1 = m["escalations.median_minutes_to_acknowledge.level_1"]
    assert (level1["value"], level1["denominator"]) == (30.0, 3)
    assert m["escalations.median_minutes_to_acknowledge.level_2"]["value"] == 50.0
    level3 = m["escalations.median_minutes_to_acknowledge.level_3"]
    assert (level3["value"], level3["denominator"], level3["rate"]) == (None, 0, None)

    acc = m["referrals.acceptance_rate"]
    assert (acc["numerator"], acc["denominator"], acc["rate"]) == (2, 4, 0.5)
    assert set(acc["numerator_ids"]) == set(ids(s.r1, s.r4))
    # Response times 24, 72, 12, 24 hours: median 24.
    assert m["referrals.median_hours_to_respond"]["value"] == 24.0
    late = m["referrals.unanswered_by_deadline"]
    # Past deadline: r1, r2, r3, r4, r7 (r5 withdrawn before it, r6 not yet due).
    assert (late["numerator"], late["denominator"], late["rate"]) == (2, 5, 0.4)
    assert set(late["numerator_ids"]) == set(ids(s.r2, s.r3))
    declined = m["referrals.declined_by_reason.no capacity"]
    assert (declined["numerator"], declined["denominator"]) == (2, 2)

    goals = m["goals.achieved"]
    assert (goals["numerator"], goals["denominator"]) == (2, 3)
    assert goals["rate"] == 0.6667
    assert (m["goals.achieved.housing"]["numerator"],
            m["goals.achieved.housing"]["denominator"]) == (1, 2)  # fmt: skip
    assert m["goals.achieved.finances"]["rate"] == 1.0
    assert m["goals.achieved.medication"]["rate"] is None


async def test_csv_has_one_row_per_measure(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    s = await seed(db, client, app)
    r = await client.get(
        "/api/v1/reports/outcomes",
        params={**PERIOD, "format": "csv"},
        headers=s.team.nurse_headers,
    )
    assert r.status_code == 200, r.text
    # Exactly one charset parameter (it was sent twice, which some parsers refuse).
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    row = next(x for x in rows if x["measure"] == "follow_up.within_deadline")
    assert row == {
        "ward": s.team.ward.name,
        "measure": "follow_up.within_deadline",
        "numerator": "1",
        "denominator": "4",
        "rate": "0.25",
        "value": "",
        "unit": "ratio",
    }
    assert len({x["measure"] for x in rows}) == len(rows)


async def test_staff_of_another_ward_get_404_and_admins_must_name_a_ward(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    other = await builders.ward_team(db, app)
    admin = await builders.user(db, "admin")
    url = "/api/v1/reports/outcomes"
    r = await client.get(url, params={"ward_id": str(team.ward.id)}, headers=other.nurse_headers)
    assert r.status_code == 404
    r = await client.get(url, headers=builders.bearer(app, admin))
    assert r.status_code == 422
    r = await client.get(
        url, params={"ward_id": str(team.ward.id)}, headers=builders.bearer(app, admin)
    )
    assert r.status_code == 200
    assert r.json()["ward_id"] == str(team.ward.id)
    # Bare numbers are not timestamps.
    r = await client.get(url, params={"from": "1700000000"}, headers=team.nurse_headers)
    assert r.status_code == 422
    r = await client.get(
        url,
        params={"from": "2026-11-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"},
        headers=team.nurse_headers,
    )
    assert r.status_code == 422


async def test_ward_comparison_shows_only_own_ward_record_ids_to_a_manager(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    s = await seed(db, client, app)
    other = await builders.ward_team(db, app)
    # The other ward: one follow-up met.
    o = await discharged(
        db, other.ward.id, "2026-11-02T10:00:00Z", due_at="2026-11-05T10:00:00Z",
        completed_at="2026-11-02T12:00:00Z",
    )  # fmt: skip
    url = "/api/v1/reports/outcomes/wards"
    r = await client.get(url, params=PERIOD, headers=s.team.manager_headers)
    assert r.status_code == 200, r.text
    wards = {w["ward_id"]: by_key(w) for w in r.json()["wards"]}
    mine, theirs = wards[str(s.team.ward.id)], wards[str(other.ward.id)]
    assert mine["follow_up.within_deadline"]["rate"] == 0.25
    assert mine["follow_up.within_deadline"]["numerator_ids"] == ids(s.p1.follow_up)
    assert theirs["follow_up.within_deadline"]["rate"] == 1.0
    assert theirs["follow_up.within_deadline"]["record_ids"] is None
    assert all(m["record_ids"] is None and m["numerator_ids"] is None for m in theirs.values())
    assert str(o.follow_up.id) not in r.text

    admin = await builders.user(db, "admin")
    r = await client.get(url, params=PERIOD, headers=builders.bearer(app, admin))
    assert r.status_code == 200
    wards = {w["ward_id"]: by_key(w) for w in r.json()["wards"]}
    assert wards[str(other.ward.id)]["follow_up.within_deadline"]["numerator_ids"] == ids(
        o.follow_up
    )
    r = await client.get(url, params=PERIOD, headers=s.team.nurse_headers)
    assert r.status_code == 403
    r = await client.get(url, params={**PERIOD, "format": "csv"}, headers=s.team.manager_headers)
    assert r.status_code == 200
    lines = r.text.strip().splitlines()
    assert lines[0] == "ward,measure,numerator,denominator,rate,value,unit"


async def dialog_surveys(db: AsyncSession, patient: Patient, anchor: str) -> None:
    """A discharge survey and a 1-month one on the same discharge, a life and a treatment
    item each, so every DIALOG figure (means and changes) has a record."""
    at = t(anchor)
    for point, due, life, treatment in (("discharge", at, 3, 4), ("1_month", at + timedelta(days=30), 5, 6)):  # fmt: skip
        survey = PromSurvey(
            patient_id=patient.id,
            ward_id=patient.ward_id,
            instrument="dialog",
            time_point=point,
            anchor_at=at,
            due_at=due,
            status="completed",
            created_at=at,
            updated_at=due,
        )
        db.add(survey)
        await db.flush()
        db.add_all(
            [
                PromAnswer(
                    survey_id=survey.id,
                    item_key="dialog.mental_health",
                    score=life,
                    answered_at=due,
                ),
                PromAnswer(
                    survey_id=survey.id,
                    item_key="dialog.medication",
                    score=treatment,
                    answered_at=due,
                ),
            ]
        )
    await db.commit()


def figures(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (m["key"], m["numerator"], m["denominator"], m["rate"], m["value"])
        for m in report["measures"]
    ]


async def test_ward_comparison_builds_no_record_ids_of_wards_the_caller_may_not_see(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    """Another ward's record ids are not built at all (every id column of its rows is NULL in
    every statement), and its counts are the same as its own manager sees."""
    s = await seed(db, client, app)
    await dialog_surveys(db, s.p1.patient, "2026-11-02T10:00:00Z")
    mine, theirs = s.team.ward.id, (await builders.ward_team(db, app)).ward.id
    await discharged(
        db, theirs, "2026-11-02T10:00:00Z", due_at="2026-11-05T10:00:00Z",
        completed_at="2026-11-02T12:00:00Z",
    )  # fmt: skip
    params = {
        "wards": [mine, theirs],
        "id_wards": [theirs],
        "start": t(PERIOD["from"]),
        "end": t(PERIOD["to"]),
        "now": t("2026-12-01T09:00:00Z"),
    }
    statements = {
        n: v
        for n, v in vars(measures).items()
        if isinstance(v, TextClause) and "array_agg" in v.text
    }
    assert len(statements) == 14
    for name, statement in statements.items():
        result = await db.execute(statement, params)
        columns = [c for c in result.keys() if c.endswith("ids")]  # noqa: SIM118 (a Result)
        rows = [r._mapping for r in result.all() if r.ward_id == mine]
        assert columns and rows, name  # the seed gives the hidden ward a row in each
        assert all(row[c] is None for row in rows for c in columns), name
        params_all = {**params, "id_wards": [mine, theirs]}
        shown = [r._mapping for r in (await db.execute(statement, params_all)).all()]
        assert any(r[c] for r in shown if r["ward_id"] == mine for c in columns), name
        if name.endswith("_EVERY_WARD"):
            # The comparison's way to each row's ward gives the same rows as one ward's.
            plain = await db.execute(statements[name.removesuffix("_EVERY_WARD")], params_all)
            assert sorted(map(tuple, plain.all())) == sorted(tuple(r.values()) for r in shown), name

    # Through the API: the hidden ward's ids are null, its counts what its own manager reads.
    them = await builders.user(db, "ward_manager", ward_id=theirs)
    url = "/api/v1/reports/outcomes/wards"
    r = await client.get(url, params=PERIOD, headers=builders.bearer(app, them))
    assert r.status_code == 200, r.text
    hidden = next(w for w in r.json()["wards"] if w["ward_id"] == str(mine))
    assert all(m["record_ids"] is None and m["numerator_ids"] is None for m in hidden["measures"])
    r = await client.get(url, params=PERIOD, headers=s.team.manager_headers)
    own = next(w for w in r.json()["wards"] if w["ward_id"] == str(mine))
    assert figures(hidden) == figures(own)
    by = {m["key"]: m for m in own["measures"]}
    # Counted by hand from the seed: 5 escalations, 2 climbed; 3 goals closed, 2 achieved.
    assert (by["escalations.climbed"]["numerator"], by["escalations.climbed"]["denominator"]) == (
        2,
        5,
    )
    assert by["escalations.by_reason.no_reply"]["numerator"] == 1
    assert (by["goals.achieved"]["numerator"], by["goals.achieved"]["denominator"]) == (2, 3)
    assert by["proms.dialog.life_change.1_month"]["value"] == 2.0
    assert len(by["escalations.climbed"]["numerator_ids"]) == 2
    # The one-ward report keeps its ids, the same as the comparison gives the ward's manager.
    r = await client.get("/api/v1/reports/outcomes", params=PERIOD, headers=s.team.manager_headers)
    assert r.json()["measures"] == own["measures"]


async def test_ward_comparison_gives_the_same_figures_from_the_period_rows_or_the_patients(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar, monkeypatch: Any
) -> None:
    """The comparison reads check-ins, prompts and the prompted from the period's rows when
    they are few and from the wards' patients otherwise; the figures and ids are the same."""
    s = await seed(db, client, app)
    mine, other = s.team.ward.id, (await builders.ward_team(db, app)).ward.id
    wards, start, end = [mine, other], t(PERIOD["from"]), t(PERIOD["to"])
    now = t("2026-12-01T09:00:00Z")
    answers = []
    for few in ("true", "false"):
        monkeypatch.setattr(measures, "FEW_PERIOD_ROWS", text(f"SELECT {few}"))
        figures = await compute(db, wards, start, end, now, wards, every_ward=True)
        answers.append(msgspec.to_builtins(figures))
        await db.rollback()
    assert answers[0] == answers[1]
    assert answers[0][str(mine)] == msgspec.to_builtins(
        (await compute(db, [mine], start, end, now, [mine]))[mine]
    )
    monkeypatch.undo()
    # Few: fewer check-ins and prompts in the period than an eighth of the patients.
    await db.execute(text("ANALYZE patients"))
    patients = await db.scalar(select(func.count()).select_from(Patient))
    assert patients is not None and patients >= 8  # so an eighth is at least one
    params = {"start": start, "end": end}
    assert await db.scalar(measures.FEW_PERIOD_ROWS, params) is False  # 7 check-ins, 6 texts
    empty = {"start": t("2020-01-01T00:00:00Z"), "end": t("2020-02-01T00:00:00Z")}
    assert await db.scalar(measures.FEW_PERIOD_ROWS, empty) is True
