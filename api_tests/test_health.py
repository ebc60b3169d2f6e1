from __future__ import annotations

import json
from pathlib import Path

from litestar.testing import AsyncTestClient

from service.app import create_app
from service.openapi_dump import render
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


async def test_live_answers_without_a_token(client):
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_answers_and_migrations_are_current(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] is True
    assert body["migrations_current"] is True


async def test_not_ready_when_the_database_is_unreachable(clock):
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", jwt_secret="s" * 40)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["database"] is False


async def test_api_routes_answer_503_problem_when_the_database_is_unreachable(clock):
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", jwt_secret="s" * 40)
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        response = await client.post(
            "/api/v1/auth/login", json={"email": "a@example.org", "password": "whatever-it-is"}
        )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"]


async def test_ready_is_503_when_migrations_are_behind(pg_admin_url, clock):
    from api_tests import pg

    name = await pg.create_database(pg_admin_url)  # empty: never migrated
    try:
        settings = Settings(database_url=pg.with_database(pg_admin_url, name), jwt_secret="s" * 40)
        async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
            response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["migrations_current"] is False
    finally:
        await pg.drop_database(pg_admin_url, name)


async def test_metrics_are_prometheus_text(client):
    await client.get("/health/live")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert (
        'homeward_http_requests_total{method="GET",route="/health/live",status="200"}'
        in response.text
    )


async def test_every_response_carries_a_request_id(client):
    response = await client.get("/health/live", headers={"X-Request-ID": "abc12345-trace"})
    assert response.headers["x-request-id"] == "abc12345-trace"
    minted = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert minted.headers["x-request-id"] != "bad id with spaces"


async def test_committed_openapi_document_matches_the_app(client):
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert committed == render(), "run `make openapi` and commit openapi/openapi.json"
    served = await client.get("/docs/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(committed)


async def test_unknown_path_is_a_problem_not_a_page(client):
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert set(response.json()) >= {"type", "title", "status", "detail"}
