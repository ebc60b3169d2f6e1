"""What an agency learns follows consent, everywhere: ONE table of cases, checked against the
API and against the agency's pages (service.referrals.access is the rule, in SQL).

consent state x what the agency sees of a referral and its patient:
  none       a referral from before the send rule, no consent ever given: only that a
             referral waits for consent (status pending, sharing "none")
  in_force   everything: reason, goal, history, the patient within scope
  withdrawn  withdrawal closed it in the same transaction: `withdrawn` / `consent_ended`
  expired    no event: the query-time rule shows `withdrawn` / `consent_ended` at once
Also here: the send rule (a referral goes only with a consent in force or given with it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api_tests import builders
from db.models import AuditEvent, Consent, Referral, User
from service.consents.service import withdraw_consent

REASON = "Rent arrears after a long admission"  # the staff-written words that must not leak
GOAL = "Keep the flat on Elm Road"


@dataclass(frozen=True)
class Case:
    consent: str  # none | in_force | withdrawn | expired
    status: str  # the status the agency is shown
    closed_reason: str | None
    sharing: str
    sees_reason: bool
    sees_goal: bool
    sees_history: bool
    sees_patient: bool


CASES = [
    Case("none", "pending", None, "none", False, False, False, False),
    Case("in_force", "pending", None, "in_force", True, True, True, True),
    Case("withdrawn", "withdrawn", "consent_ended", "ended", False, False, False, False),
    Case("expired", "withdrawn", "consent_ended", "ended", False, False, False, False),
]
IDS = [c.consent for c in CASES]


async def arrange(db, app, clock, consent: str):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    agency = await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=agency.id)
    patient = await builders.home_patient(db, ward.id, given_name="Ash", family_name="Quill")
    goal = await builders.goal(
        db, patient.id, at=clock.now(), owner_agency_id=agency.id, description=GOAL
    )
    given = clock.now() - timedelta(days=10)
    if consent != "none":
        expires = timedelta(days=9) if consent == "expired" else None
        row = await builders.consent(
            db, patient.id, agency.id, nurse.id, given_at=given, expires_in=expires
        )
    referral = await builders.referral(
        db, patient.id, agency.id, nurse.id, at=given + timedelta(hours=1), goal_id=goal.id
    )
    await db.execute(
        Referral.__table__.update().where(Referral.id == referral.id).values(reason=REASON)
    )
    await db.commit()
    if consent == "withdrawn":
        # Through the service, as the ward's own request would.
        await withdraw_consent(db, builders.principal(nurse), patient.id, row.id, clock.now())
        await db.commit()
    return patient, referral, goal, worker


def _cookie(app, worker) -> dict[str, str]:
    token = builders.bearer(app, worker)["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"homeward_session={token}"}


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_the_api_shows_an_agency_what_consent_allows(case, client, db, app, clock):
    patient, referral, goal, worker = await arrange(db, app, clock, case.consent)
    h = builders.bearer(app, worker)

    read = (await client.get(f"/api/v1/referrals/{referral.id}", headers=h)).json()
    [listed] = (await client.get("/api/v1/referrals", headers=h)).json()["items"]
    shown_patient = await client.get(f"/api/v1/patients/{patient.id}", headers=h)

    for body in (read, listed):
        assert body["status"] == case.status
        assert body["closed_reason"] == case.closed_reason
        assert body["sharing"] == case.sharing
        assert (body["reason"] == REASON) is case.sees_reason
        assert (body["goal_id"] == str(goal.id)) is case.sees_goal
        if not case.sees_reason:
            assert body["reason"] is None and body["goal_id"] is None
    assert bool(read["history"]) is case.sees_history
    assert (shown_patient.status_code == 200) is case.sees_patient
    if not case.sees_patient:
        assert shown_patient.status_code == 404
    for text in (str(read), str(listed)):
        assert (REASON in text) is case.sees_reason
    assert REASON not in shown_patient.text  # the patient view never carries it
    # The status filter matches what the agency is shown, not what is stored.
    filtered = await client.get(f"/api/v1/referrals?status={case.status}", headers=h)
    assert [r["id"] for r in filtered.json()["items"]] == [str(referral.id)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_the_agency_pages_show_the_same(case, client, db, app, clock):
    patient, referral, _goal, worker = await arrange(db, app, clock, case.consent)
    cookie = _cookie(app, worker)

    home = await client.get("/board/agency", headers=cookie)
    one = await client.get(f"/board/agency/referrals/{referral.id}", headers=cookie)
    patient_page = await client.get(f"/board/patients/{patient.id}", headers=cookie)

    assert home.status_code == one.status_code == 200
    for page in (home, one):
        assert (REASON in page.text) is case.sees_reason
        assert ("Ash Quill" in page.text) is case.sees_patient
    assert (GOAL in patient_page.text) is case.sees_goal
    assert ('id="referral-history"' in one.text) is case.sees_history
    assert (patient_page.status_code == 200) is case.sees_patient
    if not case.sees_patient:
        assert patient_page.status_code == 404
        assert "Ash" not in patient_page.text
    if case.closed_reason == "consent_ended":
        assert 'id="consent-ended"' in home.text
        assert "closed because consent to share with your agency ended" in one.text
    if case.sharing == "none":
        assert 'id="waiting-consent"' in home.text
        assert "waiting for the patient's consent" in one.text


@pytest.mark.parametrize("case", [c for c in CASES if c.sharing != "in_force"], ids=str)
async def test_without_consent_in_force_the_agency_cannot_answer(case, client, db, app, clock):
    _, referral, _, worker = await arrange(db, app, clock, case.consent)
    h = builders.bearer(app, worker)
    for action in ("accept", "decline"):
        body = {"reason": "No capacity"} if action == "decline" else None
        answer = await client.post(
            f"/api/v1/referrals/{referral.id}/{action}", json=body, headers=h
        )
        assert answer.status_code == 409, answer.text
        assert REASON not in answer.text
    await db.refresh(referral)
    assert referral.responded_at is None


async def test_withdrawal_closes_the_referral_for_good_and_settles_nothing_else(
    client, db, app, clock
):
    patient, referral, _, worker = await arrange(db, app, clock, "withdrawn")
    await db.refresh(referral)
    assert (referral.status, referral.closed_reason) == ("withdrawn", "consent_ended")
    # A new consent does not reopen it: the ward refers again if the work should go on.
    nurse_id = referral.created_by_id
    await builders.consent(db, patient.id, referral.agency_id, nurse_id, given_at=clock.now())
    shown = await client.get(
        f"/api/v1/referrals/{referral.id}", headers=builders.bearer(app, worker)
    )
    assert shown.json()["status"] == "withdrawn"


# ---- the send rule


async def _ward(db, app):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.patient(db, ward.id)
    agency = await builders.agency(db)
    return nurse, patient, agency, builders.bearer(app, nurse)


async def test_a_referral_is_not_sent_without_a_consent_in_force(client, db, app, clock):
    nurse, patient, agency, h = await _ward(db, app)
    # An expired and a withdrawn consent are not in force.
    await builders.consent(
        db,
        patient.id,
        agency.id,
        nurse.id,
        given_at=clock.now() - timedelta(days=3),
        expires_in=timedelta(days=1),
    )
    body = {"patient_id": str(patient.id), "agency_id": str(agency.id), "reason": REASON}

    refused = await client.post("/api/v1/referrals", json=body, headers=h)

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "consent"
    assert await db.scalar(select(func.count()).select_from(Referral)) == 0


async def test_consent_given_with_the_referral_is_recorded_in_the_same_request(
    client, db, app, clock
):
    nurse, patient, agency, h = await _ward(db, app)
    body = {"patient_id": str(patient.id), "agency_id": str(agency.id), "reason": REASON}

    bad = await client.post(
        "/api/v1/referrals",
        json={**body, "consent": {"scope": "plan", "expires_at": clock.now().isoformat()}},
        headers=h,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "consent.expires_at"
    assert await db.scalar(select(func.count()).select_from(Consent)) == 0
    assert await db.scalar(select(func.count()).select_from(Referral)) == 0

    sent = await client.post(
        "/api/v1/referrals", json={**body, "consent": {"scope": "plan"}}, headers=h
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["sharing"] == "in_force"
    [consent] = (await db.scalars(select(Consent))).all()
    assert (consent.agency_id, consent.scope, consent.recorded_by_id) == (
        agency.id,
        "plan",
        nurse.id,
    )
    actions = set(
        (
            await db.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == patient.id))
        ).all()
    )
    assert {"consent.create", "referral.create"} <= actions


async def test_a_foreign_referral_id_on_the_referral_page_is_an_audited_404(client, db, app, clock):
    _, referral, _, _ = await arrange(db, app, clock, "in_force")
    stranger = await builders.user(db, "agency_worker", agency_id=(await builders.agency(db)).id)
    for rid in (referral.id, uuid.uuid4()):
        page = await client.get(f"/board/agency/referrals/{rid}", headers=_cookie(app, stranger))
        assert page.status_code == 404
        assert REASON not in page.text
    denied = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.actor_id == stranger.id, AuditEvent.outcome == "denied")
    )
    assert denied == 2


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_the_ward_sees_everything_and_what_the_agency_is_shown(case, client, db, app, clock):
    patient, referral, _, _ = await arrange(db, app, clock, case.consent)
    nurse = await db.get(User, referral.created_by_id)
    assert nurse is not None
    read = await client.get(f"/api/v1/referrals/{referral.id}", headers=builders.bearer(app, nurse))
    page = await client.get(f"/board/patients/{patient.id}", headers=_cookie(app, nurse))

    assert read.json()["reason"] == REASON and read.json()["sharing"] == case.sharing
    assert REASON in page.text
    assert ("closed: consent to share ended" in page.text) is (case.consent == "withdrawn")
    assert ("the agency sees nothing" in page.text) is (case.consent in ("none", "expired"))
