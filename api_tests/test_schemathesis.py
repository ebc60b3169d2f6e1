"""Property-based API testing against our own OpenAPI document, as three roles.

Zero server errors, and every response must match the documented status codes, content
types and schemas. Findings are fixed in the code, not by loosening the document.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import negated_parameters
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api_tests import builders, pg
from api_tests.conftest import TEST_JWT_SECRET
from api_tests.live_server import LiveServer
from db.engine import make_engine, make_sessionmaker
from service.app import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# The quick run (inside `make test`) skips the coverage phase, which walks every edge case the
# document defines; .ci/run adds a deep pass with it (SCHEMATHESIS_DEEP=1) and more examples.
DEEP = os.environ.get("SCHEMATHESIS_DEEP") == "1"
SCHEMA = schemathesis.openapi.from_path(
    ROOT / "openapi" / "openapi.json",
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": DEEP}}}),
)
ROLES = ("admin", "ward_staff", "agency_worker")


async def _seed(url: str) -> dict[str, str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            ward = await builders.ward(session)
            agency = await builders.agency(session)
            people = {
                "admin": await builders.user(session, "admin"),
                "ward_staff": await builders.user(session, "ward_staff", ward_id=ward.id),
                "agency_worker": await builders.user(session, "agency_worker", agency_id=agency.id),
            }
            return {role: user.email for role, user in people.items()}
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def live(
    pg_admin_url: str, template_db: str
) -> Iterator[tuple[str, dict[str, str], dict[str, dict[str, str]]]]:
    name = asyncio.run(pg.create_database(pg_admin_url, template=template_db))
    url = pg.with_database(pg_admin_url, name)
    emails = asyncio.run(_seed(url))
    server = LiveServer(
        create_app(Settings(database_url=url, jwt_secret=TEST_JWT_SECRET, require_totp="off"))
    ).start()
    try:
        tokens = {}
        # Each role signs in again for the sign-out case. The fuzzed logins spend this
        # address's guess budget, so those sign-ins come from the device each role first
        # signed in on, as the real user's would.
        logins = {}
        for role, email in emails.items():
            response = httpx.post(
                f"{server.url}/api/v1/auth/login",
                json={"email": email, "password": builders.PASSWORD},
            )
            tokens[role] = response.json()["access_token"]
            logins[role] = {
                "email": email,
                "password": builders.PASSWORD,
                "device_token": response.json()["device_token"],
            }
            # Warm the server (first-use compilation, pool connections) before measuring it.
            for path in ("/api/v1/me", "/api/v1/agencies", "/api/v1/wards"):
                httpx.get(
                    f"{server.url}{path}",
                    headers={"Authorization": f"Bearer {tokens[role]}"},
                    timeout=30,
                )
        yield server.url, tokens, logins
    finally:
        server.stop()
        asyncio.run(pg.drop_database(pg_admin_url, name))


@pytest.mark.parametrize("role", ROLES)
@SCHEMA.parametrize()
@settings(
    max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
def test_api_conforms_to_its_openapi_document(case, role, live):
    base_url, tokens, logins = live
    token = tokens[role]
    if case.path == "/api/v1/auth/logout":
        # Signing out ends the token it is called with: a token of its own, not the shared one.
        signed_in = httpx.post(f"{base_url}/api/v1/auth/login", json=logins[role])
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
    case.call_and_validate(
        base_url=base_url,
        headers=_credentials(case, token),
        # Schema-valid but refused by a business rule (an unknown ward id, a reused
        # Idempotency-Key) is a correct, documented 422; everything else is checked,
        # including that invalid data is refused.
        excluded_checks=[
            positive_data_acceptance,
            # No worker runs beside this server, so /health/jobs rightly answers its documented
            # 503 naming every sweep (test_sweep_watch checks both answers).
            *([not_a_server_error] if case.path == "/health/jobs" else []),
        ],
    )


def _credentials(case: schemathesis.Case, token: str) -> dict[str, str]:
    """The role's token, unless the generated case is about the Authorization header itself
    (missing or malformed): then it goes as generated, and must be refused."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        # A case may mutate several components at once (the query and the header): every
        # parameter it negated counts, not only the first.
        if any(name.lower() == "authorization" for name, _ in negated_parameters(meta)):
            return {}
        if "authorization" in {name.lower() for name in (case.headers or {})}:
            return {}
    return {"Authorization": f"Bearer {token}"}


# A body of 1,000 nested brackets once raised RecursionError (500) on every JSON route.
DEEP_JSON = "[" * 1000 + "]" * 1000


def test_deep_json_is_a_documented_400_on_every_json_operation(live):
    base_url, tokens, _ = live
    checked = 0
    for result in SCHEMA.get_all_operations():
        operation = result.ok()
        if "application/json" not in operation.get_request_payload_content_types():
            continue
        path = operation.path
        for parameter in operation.path_parameters:
            path = path.replace("{" + parameter.name + "}", _path_value(parameter.name))
        statuses = []
        for role in ROLES:
            response = httpx.request(
                operation.method.upper(),
                base_url + path,
                content=DEEP_JSON,
                headers={"Content-Type": "application/json", **_credentials_for(tokens[role])},
                timeout=30,
            )
            statuses.append(response.status_code)
            # Roles that may never call the operation are refused first; the rest get 400.
            assert response.status_code in (400, 403), (operation.label, role, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            operation.validate_response(response)
        assert 400 in statuses, operation.label
        checked += 1
    assert checked > 20


def _path_value(name: str) -> str:
    return {"purpose": "sms_prompt", "language": "en"}.get(
        name, "00000000-0000-4000-8000-000000000000"
    )


def _credentials_for(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
