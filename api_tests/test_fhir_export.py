"""The FHIR exports: one patient's Bundle and a ward's bulk NDJSON.

Each mapping is compared with values written out by hand here, from the FHIR R4 and UK Core
definitions, never with the builders' own tables. fhir.resources (R4B models) parses what
came back; the checks it does not make (code bindings, UK Core's fixed identifier system,
references that resolve) are made here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select, text

from api_tests import builders, bulk_rows
from api_tests.fhir_world import world
from db.models import AuditEvent
from service.fhir import consents, follow_ups, goals, messages, referrals
from service.fhir.common import relative_ref

UK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# Hand-written from FHIR R4 (4.0.1): the `required` value sets of the status elements.
R4_STATUSES: dict[str, tuple[str, set[str]]] = {
    "EpisodeOfCare": (
        "status",
        {"planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"},
    ),
    "Encounter": (
        "status",
        {
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        },
    ),
    "Goal": (
        "lifecycleStatus",
        {
            "proposed",
            "planned",
            "accepted",
            "active",
            "on-hold",
            "completed",
            "cancelled",
            "entered-in-error",
            "rejected",
        },
    ),
    "CarePlan": (
        "status",
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ),
    "Consent": (
        "status",
        {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ),
    "ServiceRequest": (
        "status",
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ),
    "Task": (
        "status",
        {
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        },
    ),
    "QuestionnaireResponse": (
        "status",
        {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    ),
    "Questionnaire": ("status", {"draft", "active", "retired", "unknown"}),
    "Communication": (
        "status",
        {
            "preparation",
            "in-progress",
            "not-done",
            "on-hold",
            "stopped",
            "completed",
            "entered-in-error",
            "unknown",
        },
    ),
    "Flag": ("status", {"active", "inactive", "entered-in-error"}),
}

# Which UK Core profile each type must declare (Goal has none: base R4).
PROFILES = {
    kind: f"{UK}{kind}"
    for kind in (
        "Patient",
        "Organization",
        "EpisodeOfCare",
        "Encounter",
        "CarePlan",
        "Consent",
        "ServiceRequest",
        "Task",
        "Questionnaire",
        "QuestionnaireResponse",
        "Communication",
        "Flag",
    )
}


def references(node: Any) -> list[str]:
    """Every Reference.reference anywhere in a resource's JSON."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                found += references(value)
    elif isinstance(node, list):
        for item in node:
            found += references(item)
    return found


def check_profile_rules(resource: dict[str, Any]) -> None:
    """What the library does not check: bindings of status codes, meta.profile, and the
    required elements of the UK Core profiles used."""
    kind = resource["resourceType"]
    if kind in PROFILES:
        assert resource["meta"]["profile"] == [PROFILES[kind]], kind
    else:
        assert kind == "Goal" and "profile" not in resource.get("meta", {})
    if kind in R4_STATUSES:
        element, allowed = R4_STATUSES[kind]
        assert resource[element] in allowed, (kind, resource[element])
    if kind == "Patient":
        # UKCore-Patient: identifier.system and .value required; the NHS number slice fixed.
        for identifier in resource["identifier"]:
            assert identifier["system"] == "https://fhir.nhs.uk/Id/nhs-number"
            assert len(identifier["value"]) == 10 and identifier["value"].isdigit()
        for c in resource.get("communication", []):
            assert c["language"]["coding"][0]["system"] == "urn:ietf:bcp:47"
    if kind == "Organization":
        for identifier in resource.get("identifier", []):
            assert identifier.get("system") and identifier.get("value")
    if kind == "Consent":
        # R4 ppc-1: a policy or a policy rule.
        assert resource.get("policy") or resource.get("policyRule")
    if kind == "Task":
        assert resource["intent"] in {"unknown", "proposal", "plan", "order", "original-order"}


def by_type(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]


async def audit_rows(db: Any, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list((await db.scalars(query.execution_options(populate_existing=True))).all())


async def test_a_patient_bundle_carries_every_record_mapped_and_resolvable(client, db, app):
    team = await builders.ward_team(db, app)
    w = await world(db, team)
    url = f"/api/v1/patients/{w.patient.id}/fhir"

    response = await client.get(url, headers=team.nurse_headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "collection"
    raw = json.loads(response.content)
    assert raw["meta"]["profile"] == [f"{UK}Bundle"]
    resources = [e["resource"] for e in raw["entry"]]
    full_urls = {e["fullUrl"] for e in raw["entry"]}
    for entry in raw["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
        check_profile_rules(entry["resource"])
        for ref in references(entry["resource"]):
            assert ref in full_urls, (entry["resource"]["resourceType"], ref)
    # Without ?include=history every fullUrl is one resource.
    assert len(full_urls) == len(raw["entry"])
    counts = {k: len(by_type(resources, k)) for k in {r["resourceType"] for r in resources}}
    assert counts == {
        "Patient": 1,
        "Organization": 2,
        "EpisodeOfCare": 2,
        "Encounter": 2,
        "Goal": 3,
        "CarePlan": 1,
        "Consent": 2,
        "ServiceRequest": 2,
        "Task": 4,  # two referrals, two follow-ups
        "Questionnaire": 1,  # DIALOG only: no FFT was answered
        "QuestionnaireResponse": 1,
        "Communication": 4,
        "Flag": 1,  # the resolved escalation is not a flag
    }
    me = f"urn:uuid:{w.patient.id}"

    (patient,) = by_type(resources, "Patient")
    assert patient["identifier"] == [
        {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
    ]
    assert patient["name"] == [{"use": "official", "family": "Nowak", "given": ["Ania"]}]
    assert patient["telecom"] == [{"system": "phone", "value": "+447700900123", "use": "mobile"}]
    assert patient["communication"] == [
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "pl"}]}, "preferred": True}
    ]
    assert patient["birthDate"] == "1980-01-01"

    episodes = {r["id"]: r for r in by_type(resources, "EpisodeOfCare")}
    first, second = episodes[str(w.first.id)], episodes[str(w.second.id)]
    assert first["status"] == second["status"] == "finished"
    assert first["period"] == {"start": "2026-10-01T09:00:00Z", "end": "2026-10-20T09:00:00Z"}
    assert first["patient"]["reference"] == me
    encounters = {r["episodeOfCare"][0]["reference"]: r for r in by_type(resources, "Encounter")}
    one, two = encounters[f"urn:uuid:{w.first.id}"], encounters[f"urn:uuid:{w.second.id}"]
    assert one["class"]["code"] == two["class"]["code"] == "IMP"
    assert one["hospitalization"] == {"dischargeDisposition": {"text": "Home with family"}}
    assert two["hospitalization"]["dischargeDisposition"] == {"text": "Supported housing"}
    assert two["hospitalization"]["reAdmission"]["coding"][0]["code"] == "within_30_days"
    assert two["period"]["start"] == "2026-11-05T09:00:00Z"

    goals = {r["id"]: r for r in by_type(resources, "Goal")}
    home, money, job = goals[str(w.home.id)], goals[str(w.money.id)], goals[str(w.job.id)]
    assert (home["lifecycleStatus"], home["achievementStatus"]["coding"][0]["code"]) == (
        "active",
        "in-progress",
    )
    assert (money["lifecycleStatus"], money["achievementStatus"]["coding"][0]["code"]) == (
        "completed",
        "achieved",
    )
    assert job["lifecycleStatus"] == "on-hold" and "achievementStatus" not in job
    assert home["category"][0]["coding"][0]["code"] == "housing"
    assert home["subject"]["reference"] == me

    (plan,) = by_type(resources, "CarePlan")
    assert plan["meta"]["versionId"] == "2"
    assert (plan["status"], plan["intent"]) == ("active", "plan")
    assert sorted(g["reference"] for g in plan["goal"]) == sorted(
        f"urn:uuid:{g.id}" for g in (w.home, w.money, w.job)
    )
    assert plan["activity"] == [
        {"detail": {"status": "unknown", "description": "Walk by the river"}}
    ]
    assert {"text": "Early warning sign: Not sleeping"} in plan["note"]

    consents = {r["id"]: r for r in by_type(resources, "Consent")}
    given, withdrawn = consents[str(w.given.id)], consents[str(w.withdrawn.id)]
    assert given["status"] == "active" and withdrawn["status"] == "inactive"
    assert given["scope"]["coding"][0]["code"] == "patient-privacy"
    assert given["provision"]["actor"][0]["reference"]["reference"] == f"urn:uuid:{w.housing.id}"
    assert given["provision"]["actor"][0]["role"]["coding"][0]["code"] == "IRCP"
    assert given["provision"]["period"] == {"start": "2026-10-09T09:00:00Z"}
    assert withdrawn["provision"]["period"] == {
        "start": "2026-10-09T09:00:00Z",
        "end": "2026-11-10T09:00:00Z",
    }
    assert withdrawn["provision"]["code"][0]["coding"][0]["code"] == "plan"

    requests = {r["id"]: r for r in by_type(resources, "ServiceRequest")}
    assert requests[str(w.accepted.id)]["status"] == "active"
    assert requests[str(w.declined.id)]["status"] == "revoked"
    assert requests[str(w.accepted.id)]["performer"][0]["reference"] == f"urn:uuid:{w.housing.id}"
    assert requests[str(w.accepted.id)]["supportingInfo"][0]["reference"] == f"urn:uuid:{w.home.id}"
    tasks = by_type(resources, "Task")
    referral_tasks = {t["focus"]["reference"]: t for t in tasks if "owner" in t}
    took = referral_tasks[f"urn:uuid:{w.accepted.id}"]
    refused = referral_tasks[f"urn:uuid:{w.declined.id}"]
    assert (took["status"], took["owner"]["reference"]) == ("accepted", f"urn:uuid:{w.housing.id}")
    assert "statusReason" not in took
    assert refused["status"] == "rejected"
    assert refused["statusReason"] == {"text": "Outside our area"}
    assert refused["for"]["reference"] == me
    follow_ups = {t["id"]: t for t in tasks if "owner" not in t}
    done, due = follow_ups[str(w.done.id)], follow_ups[str(w.due.id)]
    assert done["status"] == "completed"
    assert {"type": {"text": "outcome"}, "valueString": "Settled at home"} in done["output"]
    assert done["restriction"]["period"]["end"] == "2026-10-23T09:00:00Z"
    assert due["status"] == "requested" and due["priority"] == "urgent"
    assert due["restriction"]["period"]["end"] == "2026-11-27T09:00:00Z"
    assert due["focus"]["reference"] == two_ref(encounters, w.second.id)

    (questionnaire,) = by_type(resources, "Questionnaire")
    (answers,) = by_type(resources, "QuestionnaireResponse")
    assert answers["status"] == "in-progress"
    assert answers["questionnaire"] == questionnaire["url"]
    assert questionnaire["publisher"].startswith("DIALOG scale")
    assert [(i["linkId"], i["answer"]) for i in answers["item"]] == [
        ("dialog.mental_health", [{"valueInteger": 5}]),
        ("dialog.accommodation", [{"valueInteger": 3}]),
    ]
    linked = {i["linkId"] for i in questionnaire["item"]}
    assert {i["linkId"] for i in answers["item"]} <= linked

    texts = {r["id"]: r for r in by_type(resources, "Communication")}
    prompt, failed = texts[str(w.prompt.id)], texts[str(w.failed.id)]
    reply, free = texts[str(w.reply.id)], texts[str(w.free.id)]
    for message in texts.values():
        assert message["medium"][0]["text"] == "SMS"
    assert prompt["status"] == "completed" and prompt["recipient"][0]["reference"] == me
    assert failed["status"] == "not-done" and failed["statusReason"] == {"text": "21610"}
    assert reply["sender"]["reference"] == me
    assert reply["inResponseTo"] == [
        {"reference": f"urn:uuid:{w.prompt.id}", "type": "Communication"}
    ]
    assert reply["payload"] == [{"contentString": "4"}]
    assert "inResponseTo" not in free

    (flag,) = by_type(resources, "Flag")
    assert flag["id"] == str(w.open_escalation.id)
    assert flag["status"] == "active"
    assert flag["code"]["coding"][0]["code"] == "unread_reply"
    assert flag["period"] == {"start": "2026-11-28T13:00:00Z"}

    # Audited once, as a read of everything handed over.
    (row,) = await audit_rows(db, "patient.fhir_read")
    assert (row.outcome, row.patient_id, row.actor_id) == ("allowed", w.patient.id, team.nurse.id)
    assert row.detail["counts"] == counts
    assert sorted(row.detail["resources"]["Goal"]) == sorted(goals)


def two_ref(encounters: dict[str, dict[str, Any]], episode_id: uuid.UUID) -> str:
    return f"urn:uuid:{encounters[f'urn:uuid:{episode_id}']['id']}"


async def test_the_plan_history_comes_as_versions_of_one_care_plan(client, db, app):
    team = await builders.ward_team(db, app)
    w = await world(db, team)

    response = await client.get(
        f"/api/v1/patients/{w.patient.id}/fhir",
        params={"include": "history"},
        headers=team.nurse_headers,
    )

    assert response.status_code == 200, response.text
    entries = [e for e in response.json()["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    assert [(e["resource"]["meta"]["versionId"], e["resource"]["status"]) for e in entries] == [
        ("1", "revoked"),
        ("2", "active"),
    ]
    # bdl-7: one fullUrl twice only with different versionIds.
    assert len({e["fullUrl"] for e in entries}) == 1
    bad = await client.get(
        f"/api/v1/patients/{w.patient.id}/fhir",
        params={"include": "everything"},
        headers=team.nurse_headers,
    )
    assert bad.status_code in (400, 422)


async def test_only_the_patients_ward_staff_get_the_bundle(client, db, app):
    team = await builders.ward_team(db, app)
    w = await world(db, team)
    other_ward = await builders.ward(db)
    stranger = await builders.user(db, "ward_staff", ward_id=other_ward.id)
    admin = await builders.user(db, "admin")
    worker = await builders.user(db, "agency_worker", agency_id=w.housing.id)
    url = f"/api/v1/patients/{w.patient.id}/fhir"

    assert (await client.get(url, headers=builders.bearer(app, admin))).status_code == 403
    assert (await client.get(url, headers=builders.bearer(app, worker))).status_code == 403
    hidden = await client.get(url, headers=builders.bearer(app, stranger))
    missing = await client.get(
        f"/api/v1/patients/{uuid.uuid4()}/fhir", headers=builders.bearer(app, stranger)
    )

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]
    denied = [r for r in await audit_rows(db, "patient.fhir_read") if r.outcome == "denied"]
    assert [(r.actor_id, r.patient_id) for r in denied] == [
        (stranger.id, w.patient.id),
        (stranger.id, None),
    ]


def ndjson(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines() if line]


async def test_a_ward_exports_as_ndjson_one_type_after_another(client, db, app):
    team = await builders.ward_team(db, app)
    w = await world(db, team)
    other_ward = await builders.ward(db)
    elsewhere = await builders.patient(db, other_ward.id)
    url = f"/api/v1/wards/{team.ward.id}/fhir/$export"

    response = await client.get(url, headers=team.manager_headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    lines = ndjson(response.content)
    kinds = [r["resourceType"] for r in lines]
    order = [
        "Patient",
        "Organization",
        "EpisodeOfCare",
        "Encounter",
        "Goal",
        "CarePlan",
        "Consent",
        "ServiceRequest",
        "Task",
        "Questionnaire",
        "QuestionnaireResponse",
        "Communication",
        "Flag",
    ]
    # Grouped by type, in the documented order.
    assert sorted(kinds, key=order.index) == kinds
    header = response.headers["homeward-export-types"]
    counted = dict(part.split(";count=") for part in header.split(","))
    assert list(counted) == order
    assert {k: int(v) for k, v in counted.items()} == {k: kinds.count(k) for k in order}
    assert kinds.count("Questionnaire") == 2  # both instruments' definitions
    assert str(elsewhere.id) not in {r["id"] for r in lines}
    present = {f"{r['resourceType']}/{r['id']}" for r in lines}
    for resource in lines:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        check_profile_rules(resource)
        for ref in references(resource):
            assert ref in present, (resource["resourceType"], ref)
    (patient,) = [r for r in lines if r["resourceType"] == "Patient"]
    assert patient["id"] == str(w.patient.id)
    (row,) = await audit_rows(db, "ward.fhir_export")
    assert (row.ward_id, row.actor_id, row.patient_id) == (team.ward.id, team.manager.id, None)
    assert row.detail["counts"] == {k: int(v) for k, v in counted.items()}

    only = await client.get(url, params={"_type": "Flag,Patient"}, headers=team.manager_headers)
    assert only.status_code == 200
    assert [r["resourceType"] for r in ndjson(only.content)] == ["Patient", "Flag"]


async def test_who_may_export_a_ward(client, db, app):
    team = await builders.ward_team(db, app)
    await world(db, team)
    other_ward = await builders.ward(db)
    other_manager = await builders.user(db, "ward_manager", ward_id=other_ward.id)
    admin = await builders.user(db, "admin")
    url = f"/api/v1/wards/{team.ward.id}/fhir/$export"

    assert (await client.get(url, headers=team.nurse_headers)).status_code == 403
    assert (await client.get(url, headers=builders.bearer(app, admin))).status_code == 200
    assert (await client.get(url, headers=builders.bearer(app, other_manager))).status_code == 404
    bad = await client.get(url, params={"_type": "Observation"}, headers=team.manager_headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    rows = await audit_rows(db, "ward.fhir_export")
    assert sorted((r.actor_id == admin.id, r.outcome) for r in rows) == [
        (False, "denied"),
        (True, "allowed"),
    ]


async def test_a_large_ward_streams_every_patient_once_across_batches(client, db, app):
    # More patients than one cursor batch (service.fhir.sources.BATCH is 500), filled with
    # set-based inserts: every row comes once, in order, across the batch boundaries.
    conn = await db.connection()
    await bulk_rows.base_rows(conn, patients=1234)
    await bulk_rows.fill(conn, "follow_ups", n=1234, due=10, now=NOW)
    ward_id = (await conn.execute(text("SELECT id FROM wards ORDER BY name LIMIT 1"))).scalar()
    await db.commit()
    admin = await builders.user(db, "admin")
    url = f"/api/v1/wards/{ward_id}/fhir/$export"

    response = await client.get(
        url, params={"_type": "Patient,Task"}, headers=builders.bearer(app, admin)
    )

    assert response.status_code == 200, response.text
    lines = ndjson(response.content)
    patients = [r["id"] for r in lines if r["resourceType"] == "Patient"]
    tasks = [r for r in lines if r["resourceType"] == "Task"]
    assert len(patients) == len(set(patients)) == 1234
    assert patients == sorted(patients)
    assert len(tasks) == 1234
    assert {t["for"]["reference"] for t in tasks} == {f"Patient/{p}" for p in patients}


def test_the_states_the_world_above_does_not_reach_map_as_written():
    # Built straight from row-shaped values: a breached follow-up, a withdrawn and a
    # completed referral, an expired consent, a not-achieved goal, a failed-unknown text.
    pid, eid = uuid.uuid4(), uuid.uuid4()
    breached = follow_ups.build(
        SimpleNamespace(
            id=uuid.uuid4(),
            patient_id=pid,
            episode_id=eid,
            due_at=NOW,
            suicide_risk=False,
            status="breached",
            breached_at=NOW,
            completed_at=None,
            method=None,
            outcome=None,
            created_at=NOW,
        ),
        relative_ref,
    )
    assert (breached.status, breached.businessStatus.text) == (
        "in-progress",
        "Due time passed without a contact",
    )

    def referral(status: str) -> SimpleNamespace:
        return SimpleNamespace(
            id=uuid.uuid4(),
            patient_id=pid,
            agency_id=uuid.uuid4(),
            goal_id=None,
            reason="Needs support",
            status=status,
            respond_by=NOW,
            responded_at=NOW,
            on_hold_since=None,
            decline_reason=None,
            created_at=NOW,
            updated_at=NOW,
        )

    for status, task, request in (
        ("pending", "requested", "active"),
        ("withdrawn", "cancelled", "revoked"),
        ("completed", "completed", "completed"),
    ):
        row = referral(status)
        assert referrals.task(row, relative_ref).status == task
        assert referrals.service_request(row, relative_ref).status == request

    expired = SimpleNamespace(
        id=uuid.uuid4(),
        patient_id=pid,
        agency_id=uuid.uuid4(),
        scope="contact_details",
        given_at=datetime(2026, 1, 1, tzinfo=UTC),
        expires_at=datetime(2026, 6, 1, tzinfo=UTC),
        withdrawn_at=None,
    )
    built = consents.build(expired, relative_ref, NOW)
    assert built.status == "inactive"
    assert built.provision.period.end.isoformat().startswith("2026-06-01")

    goal = goals.build(
        SimpleNamespace(
            id=uuid.uuid4(),
            patient_id=pid,
            domain="medication",
            description="Take medication as agreed",
            target_date=None,
            status="not_achieved",
            created_at=NOW,
            updated_at=NOW,
        ),
        relative_ref,
    )
    assert goal.lifecycleStatus == "completed"
    assert goal.achievementStatus.coding[0].code == "not-achieved"

    unknown = messages.outbound(
        SimpleNamespace(
            id=uuid.uuid4(),
            patient_id=pid,
            purpose="checkin_prompt",
            status="unknown",
            status_reason="timeout",
            sent_at=None,
            finished_at=None,
            body="How are you?",
            updated_at=NOW,
        ),
        relative_ref,
    )
    assert unknown.status == "unknown" and unknown.statusReason is None
