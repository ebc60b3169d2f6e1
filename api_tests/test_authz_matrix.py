"""Every route x every kind of caller, from the app's own route table (see authz_matrix.py)."""

from __future__ import annotations

from api_tests import authz_matrix as matrix
from service.app import create_app
from service.settings import Settings


def test_every_route_of_the_app_has_a_rule_in_the_matrix():
    app = create_app(
        Settings(database_url="postgresql://unused@localhost/unused", jwt_secret="x" * 32)
    )
    assert matrix.coverage_problems(app) == []


def test_a_route_without_a_rule_fails_the_coverage_check():
    app = create_app(
        Settings(database_url="postgresql://unused@localhost/unused", jwt_secret="x" * 32)
    )
    rules = [r for r in matrix.RULES if r.path != "/api/v1/agency/patients"]
    assert matrix.coverage_problems(app, rules) == ["no rule for GET /api/v1/agency/patients"]


async def test_authorization_matrix(app, client, db, clock):
    world = await matrix.build_world(db, client, clock.now())
    failures: list[str] = []
    for rule in matrix.RULES:
        failures += await matrix.run_rule(rule, world, client)
    assert failures == [], "\n".join(failures)
