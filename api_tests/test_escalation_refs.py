"""The short reference a staff alert quotes: shown next to the escalation on the board, found
by the board's search and by the API, the same for the escalation's whole life."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from api_tests import builders
from api_tests.sms_helpers import written_ref
from db.models import AuditEvent, OutboxMessage
from service.escalations.service import acknowledge, raise_escalation, resolve

SESSION_COOKIE = "homeward_session"


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


def _cookie(app, who) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={builders.bearer(app, who)['Authorization'][7:]}"}


def _rows(html: str) -> dict[str, str]:
    """The escalation table's rows by escalation id."""
    return dict(re.findall(r'<tr data-escalation="([0-9a-f-]{36})"(.*?)</tr>', html, re.S))


async def test_the_reference_in_the_alert_is_next_to_its_escalation_on_the_board_and_search_finds_it(
    app, client, db, clock
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id, mobile=builders.mobile())
    patient = await builders.home_patient(
        db, ward.id, key_worker_id=nurse.id, given_name="Morwenna", family_name="Tregear"
    )
    other = await builders.home_patient(db, ward.id)
    wanted = await _raise(db, patient, clock, "wanted")
    unwanted = await _raise(db, other, clock, "unwanted")
    ref = written_ref(wanted.id)
    assert ref != written_ref(unwanted.id)

    # The text the key worker was sent quotes the reference ...
    page = await db.scalar(
        select(OutboxMessage.body).where(OutboxMessage.escalation_id == wanted.id)
    )
    assert page is not None and f"escalation {ref}," in page
    assert "Morwenna" not in page and "Tregear" not in page

    # ... the board shows it in the escalation's own row ...
    board = await client.get("/board", headers=_cookie(app, nurse))
    assert board.status_code == 200
    rows = _rows(board.text)
    assert f'<code class="ref">{ref}</code>' in rows[str(wanted.id)]
    assert ref not in rows[str(unwanted.id)]

    # ... and the search finds it however it is typed, listing only that escalation.
    for typed in (ref, ref.lower(), ref.replace("-", ""), f" ref {ref.lower().replace('-', ' ')} "):
        found = await client.get("/board/search", params={"q": typed}, headers=_cookie(app, nurse))
        assert found.status_code == 200
        assert list(_rows(found.text)) == [str(wanted.id)], typed
        assert "Morwenna Tregear" in found.text

    # Stable: the same reference finds it once acknowledged and resolved.
    principal = builders.principal(nurse)
    await acknowledge(db, principal, wanted.id, clock.now())
    await resolve(
        db, principal, wanted.id, clock.now(), "contacted_patient_safe", "Called back; fine."
    )
    await db.commit()
    found = await client.get("/board/search", params={"q": ref}, headers=_cookie(app, nurse))
    assert list(_rows(found.text)) == [str(wanted.id)]
    assert "resolved" in _rows(found.text)[str(wanted.id)]


async def test_the_board_search_does_not_reach_another_ward(app, client, db, clock):
    ward = await builders.ward(db)
    patient = await builders.home_patient(db, ward.id)
    theirs = await _raise(db, patient, clock, "theirs")
    other_ward = await builders.ward(db)
    stranger = await builders.user(db, "ward_staff", ward_id=other_ward.id)

    found = await client.get(
        "/board/search", params={"q": written_ref(theirs.id)}, headers=_cookie(app, stranger)
    )
    assert found.status_code == 200
    assert _rows(found.text) == {}
    assert 'id="no-results"' in found.text


async def test_the_board_search_finds_patients_by_name_and_audits_it(app, client, db, clock):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id, given_name="Ottoline", family_name="Marsh")
    await builders.home_patient(db, ward.id, given_name="Someone", family_name="Else")

    found = await client.get("/board/search", params={"q": "otto"}, headers=_cookie(app, nurse))
    assert found.status_code == 200
    assert f'href="/board/patients/{patient.id}"' in found.text
    assert "Someone Else" not in found.text
    audited = await db.scalar(
        select(AuditEvent.detail).where(
            AuditEvent.action == "patient.list", AuditEvent.actor_id == nurse.id
        )
    )
    assert audited is not None and audited["patient_ids"] == [str(patient.id)]


async def test_the_api_returns_the_reference_and_filters_by_it(app, client, db, clock):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    patient = await builders.home_patient(db, ward.id)
    wanted = await _raise(db, patient, clock, "api-wanted")
    await _raise(db, patient, clock, "api-other")
    headers = builders.bearer(app, nurse)

    read = await client.get(f"/api/v1/escalations/{wanted.id}", headers=headers)
    assert read.json()["ref"] == written_ref(wanted.id)
    listed = await client.get(
        "/api/v1/escalations", params={"ref": written_ref(wanted.id).lower()}, headers=headers
    )
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["items"]] == [str(wanted.id)]

    bad = await client.get("/api/v1/escalations", params={"ref": "not-a-ref"}, headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "ref"


def test_a_reference_is_the_ids_first_eight_hex_digits():
    from service.refs import escalation_ref, id_range, parse_ref

    escalation_id = uuid.UUID("3f2a9c1b-0000-4000-8000-000000000001")
    assert escalation_ref(escalation_id) == "3F2A-9C1B"
    assert parse_ref("3f2a 9c1b") == "3f2a9c1b"
    assert parse_ref("3F2A-9C1") is None
    low, high = id_range("3f2a9c1b")
    assert low <= escalation_id <= high
    assert not low <= uuid.UUID("3f2a9c1c-0000-4000-8000-000000000000") <= high
