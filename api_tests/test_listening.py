"""Listening: FFT results counted by hand, comments without identifiers, and the ward's
"You said, we did" log shown beside the feedback it answers.

Clock: 2026-12-01T09:00Z; default period: the 90 days before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from db.models import PatientFeedback, PromAnswer, PromSurvey

URL = "/api/v1/reports/outcomes/listening"
ANCHOR = datetime(2026, 11, 1, 12, tzinfo=UTC)


async def _fft(
    db: AsyncSession, ward_id: object, status: str, score: int | None, comment: str | None
) -> PromSurvey:
    patient = await builders.home_patient(db, ward_id)  # type: ignore[arg-type]
    survey = PromSurvey(
        patient_id=patient.id,
        ward_id=ward_id,
        instrument="fft",
        time_point="2_weeks",
        anchor_at=ANCHOR,
        due_at=ANCHOR + timedelta(days=14),
        status=status,
        created_at=ANCHOR,
        updated_at=ANCHOR,
    )
    db.add(survey)
    await db.flush()
    at = ANCHOR + timedelta(days=14, hours=1)
    if score is not None:
        db.add(
            PromAnswer(survey_id=survey.id, item_key="fft.experience", score=score, answered_at=at)
        )
    if comment is not None:
        db.add(
            PromAnswer(survey_id=survey.id, item_key="fft.comment", text=comment, answered_at=at)
        )
    await db.commit()
    return survey


async def test_fft_results_comments_and_you_said_we_did(
    db: AsyncSession, client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    other = await builders.ward_team(db, app)
    w = team.ward.id
    # Sent 5 (a scheduled one is not sent): answered 4 -> 1 very good, 2 good, 1 poor.
    # Positive 3 of 4 = 0.75; response 4 of 5 = 0.8.
    s1 = await _fft(db, w, "completed", 1, "Nurses rang when they said they would")
    await _fft(db, w, "completed", 2, None)
    await _fft(db, w, "completed", 2, None)
    s4 = await _fft(db, w, "completed", 4, "Texts came too early in the morning")
    await _fft(db, w, "unanswered", None, None)
    await _fft(db, w, "scheduled", None, None)
    patient = await builders.home_patient(db, w)
    carer = PatientFeedback(
        patient_id=patient.id,
        ward_id=w,
        source="carer",
        relationship="partner",
        given_by="Alex Example",
        text="Hard to reach the ward at weekends",
        received_at=ANCHOR,
        created_at=ANCHOR,
    )
    db.add(carer)
    await db.commit()
    carer_id, s4_id, s1_id = carer.id, s4.id, s1.id

    log = f"/api/v1/wards/{w}/you-said-we-did"
    body = {
        "heard": "Texts came too early",
        "changed": "Check-in texts now wait for 9 am",
        "changed_on": "2026-11-20",
        "survey_id": str(s4_id),
    }
    r = await client.post(log, json=body, headers=team.nurse_headers)
    assert r.status_code == 403
    r = await client.post(log, json=body, headers=team.manager_headers)
    assert r.status_code == 201, r.text
    entry = r.json()["id"]
    # Another ward's feedback cannot be answered here; a future date is refused.
    r = await client.post(
        f"/api/v1/wards/{other.ward.id}/you-said-we-did",
        json={**body, "survey_id": str(s4_id)},
        headers=other.manager_headers,
    )
    assert r.status_code == 422
    r = await client.post(
        log, json={**body, "changed_on": "2027-01-01"}, headers=team.manager_headers
    )
    assert r.status_code == 422
    r = await client.post(
        log, json={**body, "survey_id": None, "feedback_id": str(carer_id)},
        headers=team.manager_headers,
    )  # fmt: skip
    assert r.status_code == 201

    r = await client.get(URL, headers=team.nurse_headers)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["fft_sent"], rep["fft_answered"], rep["fft_positive"]) == (5, 4, 3)
    assert rep["fft_response_rate"] == 0.8 and rep["fft_positive_share"] == 0.75
    assert [a["count"] for a in rep["fft_answers"]] == [1, 2, 0, 1, 0]
    by_id = {c["id"]: c for c in rep["comments"]}
    assert by_id[str(s4_id)]["answered_by"] == [entry]
    assert by_id[str(s1_id)]["answered_by"] == []
    assert by_id[str(carer_id)]["kind"] == "carer"
    assert len(rep["you_said_we_did"]) == 2
    # No identifiers of who spoke: not the carer's name, not the patient's.
    assert "Alex Example" not in r.text and patient.family_name not in r.text

    r = await client.get(URL, params={"ward_id": str(w)}, headers=other.nurse_headers)
    assert r.status_code == 404
    r = await client.get(log, headers=team.nurse_headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 2
