"""HTTP hardening from the black-box probe (issue 23): deep JSON, response headers, /docs,
forwarded addresses, idempotent replays, duplicate probes and content types."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api_tests import builders
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.live_server import LiveServer
from db.models import AuditEvent, LoginAttempt
from jobs.cli import uvicorn_options
from service.app import create_app
from service.clock import ManualClock
from service.http.json_depth import nesting_exceeds
from service.principal import Role
from service.settings import Settings, SettingsError, load_settings


def _json_body_routes() -> list[tuple[str, str, frozenset[Role]]]:
    """Every (method, path, roles) of the app whose handler reads a JSON body, from the
    app's own route table (no database is touched to build it)."""
    app = create_app(
        Settings(database_url="postgresql://nobody@127.0.0.1:1/none", jwt_secret=TEST_JWT_SECRET)
    )
    found = []
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            if "data" not in handler.parsed_fn_signature.parameters:
                continue
            for method in sorted(handler.http_methods):
                allowed = frozenset() if handler.opt.get("public") else handler.opt["roles"]
                found.append((method, route.path_format, allowed))
    return sorted(found, key=lambda r: (r[1], r[0]))


JSON_ROUTES = _json_body_routes()
DEEP = "[" * 1000 + "]" * 1000


def test_the_route_table_has_the_json_routes_we_expect() -> None:
    keys = {(m, p) for m, p, _ in JSON_ROUTES}
    # A few worked out by hand, so an empty or broken table cannot pass the test below.
    assert ("POST", "/api/v1/auth/login") in keys
    assert ("POST", "/api/v1/patients") in keys
    assert ("PATCH", "/api/v1/users/{user_id}") in keys
    assert ("PUT", "/api/v1/patients/{patient_id}/relapse-prevention-plan") in keys
    assert len(keys) > 20


async def _caller_for(db: AsyncSession, app: Litestar, allowed: frozenset[Role]) -> dict[str, str]:
    if not allowed:
        return {}
    role = sorted(allowed)[0]
    ward = await builders.ward(db)
    agency = await builders.agency(db)
    who = await builders.user(
        db,
        role,
        ward_id=ward.id if role in ("ward_staff", "ward_manager") else None,
        agency_id=agency.id if role == "agency_worker" else None,
    )
    return builders.bearer(app, who)


def _fill(path: str) -> str:
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end]
        value = "sms_prompt" if name == "purpose" else "en" if name == "language" else None
        path = path[:start] + (value or str(uuid.uuid4())) + path[end + 1 :]
    return path


def _route_id(value: object) -> str:
    # Stable across processes (xdist compares ids): a frozenset's order follows hash seeds.
    if isinstance(value, frozenset):
        return "+".join(sorted(value)) or "public"
    return str(value)


@pytest.mark.parametrize(("method", "path", "allowed"), JSON_ROUTES, ids=_route_id)
async def test_deep_json_is_a_400_problem_on_every_json_route(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    db: AsyncSession,
    method: str,
    path: str,
    allowed: frozenset[Role],
) -> None:
    headers = {**await _caller_for(db, app, allowed), "Content-Type": "application/json"}
    for body in (DEEP, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 5000):
        r = await client.request(method, _fill(path), content=body, headers=headers)
        assert r.status_code == 400, (body[:20], r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/too-deep")


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b"[" * 32 + b"]" * 32, False),  # 32 levels: the limit
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a": [1, {"b": [2, 3]}], "c": {}}', False),  # depth 4
        (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),  # inside a string
        (b'{"a": "\\", "b": ""[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),  # escapes
        (b'{"a": "x"}' + b"[" * 40, True),  # unpaired, deep
        (b"", False),
    ],
)
def test_nesting_depth_is_counted_outside_strings(body: bytes, refused: bool) -> None:
    assert nesting_exceeds(body, 32) is refused


async def test_brackets_inside_strings_and_ordinary_nesting_are_accepted(
    client: AsyncTestClient[Litestar], db: AsyncSession, app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    plan = {
        "early_warning_signs": ["[" * 400 + '"quoted \\" {{{' + "]" * 3],
        "triggers": [],
        "coping_strategies": [],
        "crisis_contacts": [{"name": "Sam", "relationship": "friend", "phone": "07911 123456"}],
        "check_in_question": None,
    }
    r = await client.put(
        f"/api/v1/patients/{patient.id}/relapse-prevention-plan",
        json=plan,
        headers=team.nurse_headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["early_warning_signs"] == plan["early_warning_signs"]


# --- Cache-Control / nosniff on API answers ---------------------------------------------------


async def test_api_answers_carry_no_store_and_nosniff_errors_included(
    client: AsyncTestClient[Litestar], db: AsyncSession, app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    patient = await builders.patient(db, team.ward.id)
    answers = [
        await client.get(f"/api/v1/patients/{patient.id}", headers=team.nurse_headers),  # 200
        await client.get("/api/v1/patients", headers=team.nurse_headers),  # 200 list
        await client.get(f"/api/v1/patients/{uuid.uuid4()}", headers=team.nurse_headers),  # 404
        await client.get("/api/v1/me"),  # 401 from authentication
        await client.get("/api/v1/no-such-route", headers=team.nurse_headers),  # 404, no route
        await client.delete("/api/v1/me", headers=team.nurse_headers),  # 405
        await client.post(
            "/api/v1/patients", json={"nhs_number": "1"}, headers=team.nurse_headers
        ),  # 422
        await client.get(
            "/api/v1/reports/outcomes",
            params={"ward_id": str(team.ward.id), "format": "csv"},
            headers=team.nurse_headers,
        ),  # CSV
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 401, 404, 405, 422, 200]
    for answer in answers:
        assert answer.headers.get("cache-control") == "no-store", answer.request.url
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.request.url


# --- content types ----------------------------------------------------------------------------


async def test_csv_and_metrics_name_their_charset_once(
    client: AsyncTestClient[Litestar], db: AsyncSession, app: Litestar
) -> None:
    team = await builders.ward_team(db, app)
    csv = await client.get(
        "/api/v1/reports/outcomes",
        params={"ward_id": str(team.ward.id), "format": "csv"},
        headers=team.nurse_headers,
    )
    metrics = await client.get("/metrics")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


def _audit_rows(rows: list[AuditEvent]) -> list[tuple[Any, ...]]:
    return [(r.action, r.outcome, r.patient_id) for r in rows]


async def _audit(db: AsyncSession, actor_id: uuid.UUID) -> list[AuditEvent]:
    db.expire_all()
    return list(
        await db.scalars(
            select(AuditEvent).where(AuditEvent.actor_id == actor_id).order_by(AuditEvent.id)
        )
    )


# --- forwarded addresses ----------------------------------------------------------------------


def _ip_key(address: str) -> str:
    # How login attempts name an address (hashed, never stored plain), worked out here.
    return "ip:" + hashlib.sha256(address.encode()).hexdigest()


async def _failed_login_from(app: Litestar, peer: str, forwarded_for: str | None) -> None:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        r = await c.post(
            "/api/v1/auth/login",
            json={"email": "nobody@example.org", "password": "wrong password"},
            headers=headers,
        )
    assert r.status_code == 401, r.text


async def _address_keys(db: AsyncSession) -> set[str]:
    db.expire_all()
    keys = await db.scalars(select(LoginAttempt.key).where(LoginAttempt.key.like("ip:%")))
    return set(keys)


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, clock: ManualClock, db: AsyncSession
) -> None:
    app = create_app(settings, clock=clock)  # TRUSTED_PROXIES unset: trust nobody
    await _failed_login_from(app, "127.0.0.1", "203.0.113.7")
    await _failed_login_from(app, "192.0.2.50", "203.0.113.8, 10.0.0.1")
    assert await _address_keys(db) == {_ip_key("127.0.0.1"), _ip_key("192.0.2.50")}


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    settings: Settings, clock: ManualClock, db: AsyncSession
) -> None:
    trusted = load_settings({"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}).trusted_proxies
    app = create_app(replace(settings, trusted_proxies=trusted), clock=clock)
    # The client's own (forged) entry on the left is ignored: the first untrusted hop from the
    # right is the address the trusted proxies saw.
    await _failed_login_from(app, "127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3")
    # A peer outside the list is the client, whatever it forwards.
    await _failed_login_from(app, "192.0.2.50", "203.0.113.9")
    assert await _address_keys(db) == {_ip_key("203.0.113.7"), _ip_key("192.0.2.50")}


async def test_served_as_the_cli_serves_a_forwarded_for_from_loopback_is_ignored(
    settings: Settings, clock: ManualClock, db: AsyncSession
) -> None:
    """Through real uvicorn with `homeward serve`'s options: uvicorn itself used to take
    X-Forwarded-For from any loopback peer, moving a guesser to a fresh rate-limit key."""
    server = LiveServer(create_app(settings, clock=clock), options=uvicorn_options(settings))
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
            r = await c.post(
                "/api/v1/auth/login",
                json={"email": "nobody@example.org", "password": "wrong password"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        assert r.status_code == 401
    finally:
        server.stop()
    assert await _address_keys(db) == {_ip_key("127.0.0.1")}


def test_trusted_proxies_setting_parses_addresses_and_ranges_and_refuses_junk() -> None:
    assert load_settings({}).trusted_proxies == ()
    parsed = load_settings({"TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1 , ::1"}).trusted_proxies
    assert [str(n) for n in parsed] == ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings({"TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"})


# --- /docs ------------------------------------------------------------------------------------


async def test_docs_page_loads_everything_from_this_origin_under_a_csp(
    client: AsyncTestClient[Litestar],
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # Every script, stylesheet and icon is a path on this origin; no inline script at all.
    references = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page.text)
    assert references, page.text
    assert all(ref.startswith("/docs/") for ref in references), references
    assert "http://" not in page.text and "https://" not in page.text
    assert re.findall(r"<script>|<script [^>]*>[^<]", page.text) == []
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    for ref in references:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.headers["x-content-type-options"] == "nosniff"
    init = await client.get("/docs/init.js")
    assert "https://" not in init.text and "/docs/openapi.json" in init.text
    document = await client.get("/docs/openapi.json")
    assert document.status_code == 200 and document.json()["info"]["title"] == "Homeward"
    # Only the listed files of the package are served.
    assert (await client.get("/docs/ui/index.html")).status_code == 404
    assert (await client.get("/docs/ui/swagger-initializer.js")).status_code == 404


async def test_docs_are_404_when_turned_off(settings: Settings, clock: ManualClock) -> None:
    off = replace(settings, docs_enabled=load_settings({"HOMEWARD_DOCS": "off"}).docs_enabled)
    async with AsyncTestClient(app=create_app(off, clock=clock)) as c:
        for path in ("/docs", "/docs/swagger", "/docs/openapi.json", "/docs/ui/swagger-ui.css"):
            assert (await c.get(path)).status_code == 404, path
        assert (await c.get("/health/live")).status_code == 200


def test_docs_setting_defaults_on_and_refuses_junk() -> None:
    assert load_settings({}).docs_enabled is True
    assert load_settings({"HOMEWARD_DOCS": "0"}).docs_enabled is False
    with pytest.raises(SettingsError, match="HOMEWARD_DOCS"):
        load_settings({"HOMEWARD_DOCS": "maybe"})
