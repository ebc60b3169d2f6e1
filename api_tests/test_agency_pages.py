"""The agency workspace over HTTP (cookie sessions, the forms convention): answer referrals,
log support actions, raise concerns; refusals come back as the form with its errors and change
nothing; another agency's referral or patient is the audited 404 and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from api_tests import builders
from api_tests.conftest import TEST_JWT_SECRET
from db.models import AuditEvent, Escalation, Referral, ReferralStatusChange, SupportAction
from service.web.session import csrf_for


def _session(app, worker) -> tuple[dict[str, str], str]:
    token = builders.bearer(app, worker)["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"homeward_session={token}"}, csrf_for(TEST_JWT_SECRET, token)


async def _world(db, app, clock):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    ours, theirs = await builders.agency(db), await builders.agency(db)
    worker = await builders.user(db, "agency_worker", agency_id=ours.id)
    patient = await builders.home_patient(db, ward.id, given_name="Sam", family_name="Ours")
    foreign = await builders.home_patient(db, ward.id, given_name="Kim", family_name="Theirs")
    await builders.consent(db, patient.id, ours.id, nurse.id, given_at=clock.now())
    await builders.consent(db, foreign.id, theirs.id, nurse.id, given_at=clock.now())
    first = await builders.referral(db, patient.id, ours.id, nurse.id, at=clock.now())
    foreign_ref = await builders.referral(db, foreign.id, theirs.id, nurse.id, at=clock.now())
    cookie, csrf = _session(app, worker)
    return {
        "nurse": nurse,
        "ours": ours,
        "worker": worker,
        "patient": patient,
        "foreign": foreign,
        "first": first,
        "foreign_ref": foreign_ref,
        "cookie": cookie,
        "csrf": csrf,
    }


async def _post(client, w, url, **fields):
    return await client.post(
        url, data={"csrf_token": w["csrf"], **fields}, headers=w["cookie"], follow_redirects=False
    )


async def _count(db, model, *where) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_an_agency_worker_answers_referrals_from_the_inbox(client, db, app, clock):
    w = await _world(db, app, clock)
    second = await builders.referral(
        db, w["patient"].id, w["ours"].id, w["nurse"].id, at=clock.now(), goal_id=None
    )
    # The inbox lists the soonest answer first.
    await db.execute(
        Referral.__table__.update()
        .where(Referral.id == second.id)
        .values(respond_by=w["first"].respond_by - timedelta(hours=1))
    )
    await db.commit()
    home = await client.get("/board/agency", headers=w["cookie"])
    assert home.status_code == 200
    assert home.text.index(str(second.id)) < home.text.index(str(w["first"].id))
    assert "Kim" not in home.text

    accepted = await _post(client, w, f"/board/agency/referrals/{w['first'].id}/accept")
    assert (accepted.status_code, accepted.headers["location"]) == (
        303,
        "/board/agency?done=accept",
    )
    completed = await _post(client, w, f"/board/agency/referrals/{w['first'].id}/complete")
    assert completed.status_code == 303
    declined = await _post(
        client, w, f"/board/agency/referrals/{second.id}/decline", reason="No capacity"
    )
    assert declined.status_code == 303
    after = await client.get("/board/agency?done=decline", headers=w["cookie"])
    assert "Referral declined." in after.text

    for row in (w["first"], second):
        await db.refresh(row)
    assert (w["first"].status, second.status, second.decline_reason) == (
        "completed",
        "declined",
        "No capacity",
    )


async def test_declining_without_a_reason_is_the_form_again_and_changes_nothing(
    client, db, app, clock
):
    w = await _world(db, app, clock)
    url = f"/board/agency/referrals/{w['first'].id}/decline"
    history = await _count(db, ReferralStatusChange)

    refused = await _post(client, w, url, reason="   ")

    assert refused.status_code == 422
    assert "data-error-summary" in refused.text
    assert 'href="#f-reason"' in refused.text
    assert "Reason for declining" in refused.text
    await db.refresh(w["first"])
    assert (w["first"].status, w["first"].decline_reason) == ("pending", None)
    assert await _count(db, ReferralStatusChange) == history


async def test_support_actions_and_concerns_go_through_the_api_services(client, db, app, clock):
    w = await _world(db, app, clock)
    pid = w["patient"].id

    logged = await _post(
        client,
        w,
        f"/board/agency/patients/{pid}/support-actions",
        kind="visit",
        occurred_at="2026-12-01T08:30",
        note="Home visit, flat is fine.",
        agency_id=str(uuid.uuid4()),  # not a field of the form: never read
    )
    assert (logged.status_code, logged.headers["location"]) == (
        303,
        f"/board/patients/{pid}?done=action",
    )
    [action] = (await db.scalars(select(SupportAction))).all()
    assert (action.kind, action.agency_id, action.recorded_by_id) == (
        "visit",
        w["ours"].id,
        w["worker"].id,
    )
    assert action.occurred_at.isoformat() == "2026-12-01T08:30:00+00:00"  # London in winter
    page = await client.get(f"/board/patients/{pid}?done=action", headers=w["cookie"])
    assert "Support action logged." in page.text and "Home visit, flat is fine." in page.text
    home = await client.get("/board/agency", headers=w["cookie"])
    assert "Home visit, flat is fine." in home.text  # their own history

    bad = await _post(client, w, f"/board/agency/patients/{pid}/support-actions", kind="nap")
    assert bad.status_code == 422 and 'href="#f-kind"' in bad.text
    assert await _count(db, SupportAction) == 1

    form = await client.get(f"/board/agency/patients/{pid}/concerns", headers=w["cookie"])
    assert form.status_code == 200
    blank = await _post(client, w, f"/board/agency/patients/{pid}/concerns", note=" ")
    assert blank.status_code == 422 and 'href="#f-note"' in blank.text
    raised = await _post(
        client, w, f"/board/agency/patients/{pid}/concerns", note="Not answering.", urgent="yes"
    )
    assert raised.status_code == 303
    [escalation] = (await db.scalars(select(Escalation))).all()
    assert (escalation.reason, escalation.severity) == ("agency_concern", "urgent")


async def test_another_agencys_ids_in_urls_are_an_audited_404_that_changes_nothing(
    client, db, app, clock
):
    w = await _world(db, app, clock)
    foreign_ref, foreign = w["foreign_ref"], w["foreign"]
    attempts = [
        (f"/board/agency/referrals/{foreign_ref.id}/accept", {}),
        (f"/board/agency/referrals/{foreign_ref.id}/decline", {"reason": "No"}),
        (f"/board/agency/referrals/{foreign_ref.id}/complete", {}),
        (f"/board/agency/patients/{foreign.id}/support-actions", {"kind": "visit"}),
        (f"/board/agency/patients/{foreign.id}/concerns", {"note": "Worried"}),
    ]
    for url, fields in attempts:
        response = await _post(client, w, url, **fields)
        assert response.status_code == 404, url
        assert "Kim" not in response.text
    for url in (
        f"/board/agency/referrals/{foreign_ref.id}",
        f"/board/agency/patients/{foreign.id}/concerns",
        f"/board/patients/{foreign.id}",
    ):
        assert (await client.get(url, headers=w["cookie"])).status_code == 404, url

    await db.refresh(foreign_ref)
    assert (foreign_ref.status, foreign_ref.responded_at) == ("pending", None)
    assert await _count(db, SupportAction) == 0
    assert await _count(db, Escalation) == 0
    denied = await _count(
        db, AuditEvent, AuditEvent.actor_id == w["worker"].id, AuditEvent.outcome == "denied"
    )
    assert denied == len(attempts) + 3
