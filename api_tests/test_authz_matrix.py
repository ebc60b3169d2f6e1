"""Every route x every kind of caller, from the app's own route table (see authz_matrix.py).

One test case per rule (`-k "referrals and accept"` picks a few). The world is built once per
module and kept as a database that nothing connects to; the rules run, through one app, on a
copy of it. Before each rule the rows the last one added to the logs are taken back, and if
any other table is not as built the copy is made afresh: every rule starts from the world as
built, and none can depend on another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api_tests import authz_matrix as matrix
from api_tests import pg
from api_tests.conftest import START, settings_for
from db.engine import make_engine, make_sessionmaker
from service.app import create_app
from service.clock import ManualClock
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


# Rows here are only ever added, with rising ids, so a rule's additions are cheap to take back.
LOG_TABLES = ("audit_events", "login_attempts")


@dataclass
class MatrixRun:
    admin_url: str
    world_db: str  # the world as built; only ever a template
    run_db: str  # the copy the rules run on
    built: str  # fingerprint of every table of the world as built
    last_log_ids: dict[str, int]  # append-only tables: the last id of the world as built
    world: matrix.World
    app: Litestar
    client: AsyncTestClient[Litestar]
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def restore(self) -> None:
        """Undo what the last rule did: trim the logs, or copy the world afresh."""
        async with self.sessionmaker() as session:
            try:
                # The logs' append-only triggers refuse DELETE; on this copy the harness may
                # (as a superuser; on a server where it is not, the copy is made afresh).
                await session.execute(text("SET LOCAL session_replication_role = replica"))
                for table, last_id in self.last_log_ids.items():
                    await session.execute(text(f"DELETE FROM {table} WHERE id > {last_id}"))
                # The world revokes no token; a sign-out rule's revocations are undone here.
                await session.execute(text("DELETE FROM revoked_tokens"))
                await session.commit()
            except DBAPIError:
                await session.rollback()
            if await matrix.fingerprint(session, every_table=True) == self.built:
                return
        await self.engine.dispose()
        await self.app.state.resources.engine.dispose()
        await pg.drop_database(self.admin_url, self.run_db)
        await pg.create_database(self.admin_url, template=self.world_db, name=self.run_db)


async def _build_world(url: str) -> matrix.World:
    engine = make_engine(url, pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session:
            # Tokens are signed with the tests' secret at START, so the run's app accepts them.
            app = create_app(settings_for(url), clock=ManualClock(START))
            return await matrix.build_world(session, app, START)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix_run(pg_admin_url: str, template_db: str) -> AsyncIterator[MatrixRun]:
    world_db = await pg.create_database(pg_admin_url, template=template_db)
    world = await _build_world(pg.with_database(pg_admin_url, world_db))
    run_db = await pg.create_database(pg_admin_url, template=world_db)
    run_url = pg.with_database(pg_admin_url, run_db)
    app = create_app(settings_for(run_url), clock=ManualClock(START))
    engine = make_engine(run_url, pool_size=2)
    try:
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            sessionmaker = make_sessionmaker(engine)
            async with sessionmaker() as session:
                built = await matrix.fingerprint(session, every_table=True)
                last_log_ids = {
                    table: await session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                    for table in LOG_TABLES
                }
            yield MatrixRun(
                pg_admin_url,
                world_db,
                run_db,
                built,
                last_log_ids,
                world,
                app,
                client,
                engine,
                sessionmaker,
            )
    finally:
        await engine.dispose()
        await pg.drop_database(pg_admin_url, run_db)
        await pg.drop_database(pg_admin_url, world_db)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("rule", matrix.RULES, ids=[rule.label for rule in matrix.RULES])
async def test_authorization_matrix(rule: matrix.Rule, matrix_run: MatrixRun) -> None:
    await matrix_run.restore()
    async with matrix_run.sessionmaker() as db:
        failures = await matrix.run_rule(rule, replace(matrix_run.world, db=db), matrix_run.client)
    assert failures == [], "\n".join(failures)
