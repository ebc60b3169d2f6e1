"""Homeward through PgBouncer in transaction pooling mode: the URL flag configures statement
caching so clients that share server connections never trip over each other's prepared
statements, and the app works unchanged. (CI also runs a slice of the suite, the two-worker
exactly-once test included, with HOMEWARD_TEST_PGBOUNCER=1: see .ci/run.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api_tests import builders, pg
from api_tests.conftest import THROUGH_PGBOUNCER, settings_for
from api_tests.pgbouncer import PgBouncer
from db.engine import make_engine, make_sessionmaker
from service.app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
async def tight_bouncer(pg_admin_url: str, pgbouncer_binary: str) -> AsyncIterator[PgBouncer]:
    """One server connection per database: every client shares it, the harshest case."""
    bouncer = PgBouncer(pg_admin_url, pool_size=1).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture
async def pooled_db(pg_admin_url: str, template_db: str) -> AsyncIterator[str]:
    name = await pg.create_database(pg_admin_url, template=template_db)
    yield name
    await pg.drop_database(pg_admin_url, name)


async def _backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def test_clients_share_one_server_connection_without_statement_clashes(
    tight_bouncer, pooled_db
):
    url = tight_bouncer.url(pooled_db)
    first, second = make_engine(url, pool_size=1), make_engine(url, pool_size=1)
    try:
        # Two client connections, one server connection: this is transaction pooling.
        assert await _backend_pid(first) == await _backend_pid(second)
        for _ in range(5):
            await asyncio.gather(
                *(_query_with_parameters(engine) for engine in (first, second) for _ in range(3))
            )
    finally:
        await first.dispose()
        await second.dispose()


async def _query_with_parameters(engine) -> None:
    async with engine.begin() as conn:
        assert await conn.scalar(text("SELECT :n + 1"), {"n": 41}) == 42
        await conn.execute(text("SELECT count(*) FROM wards WHERE name = :name"), {"name": "x"})


@pytest.fixture
async def two_server_bouncer(pg_admin_url: str, pgbouncer_binary: str) -> AsyncIterator[PgBouncer]:
    bouncer = PgBouncer(pg_admin_url, pool_size=2).start()
    yield bouncer
    bouncer.stop()


async def _hop_servers(url: str) -> None:
    """Client A prepares a statement on one server connection, then (while client B came and
    went on the other) runs it again on the other one, as transaction pooling allows.

    PgBouncer hands out its most recently released server connection first, so: B holds
    server 1; A's first transaction gets server 2; A ends, then B ends (server 1 is now the
    latest released); A's next transaction gets server 1."""
    a, b = make_engine(url, pool_size=1), make_engine(url, pool_size=1)
    try:
        async with b.connect() as hold:
            await hold.execute(text("SELECT 1"))
            for _ in range(2):
                async with a.begin() as conn:
                    await conn.execute(
                        text("SELECT count(*) FROM wards WHERE name = :n"), {"n": "x"}
                    )
            await hold.rollback()
        async with a.begin() as conn:
            await conn.execute(text("SELECT count(*) FROM wards WHERE name = :n"), {"n": "x"})
    finally:
        await a.dispose()
        await b.dispose()


async def test_with_the_flag_a_client_may_change_server_between_transactions(
    two_server_bouncer, pooled_db
):
    await _hop_servers(two_server_bouncer.url(pooled_db))


async def test_without_the_flag_a_cached_statement_is_missing_on_the_next_server(
    two_server_bouncer, pooled_db
):
    """What the flag prevents, shown on the same pooler (so this file's other tests bite)."""
    with pytest.raises(DBAPIError, match="prepared statement"):
        await _hop_servers(two_server_bouncer.url(pooled_db).split("?", 1)[0])


async def test_the_api_answers_through_a_transaction_pooler(tight_bouncer, pooled_db, clock):
    url = tight_bouncer.url(pooled_db)
    engine = make_engine(url, pool_size=2)
    try:
        async with make_sessionmaker(engine)() as db:
            ward = await builders.ward(db)
            nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
            patient = await builders.home_patient(db, ward.id)
            await db.commit()
        app = create_app(settings_for(url), clock=clock)
        from litestar.testing import AsyncTestClient

        async with AsyncTestClient(app=app) as client:
            headers = builders.bearer(app, nurse)
            answers = await asyncio.gather(
                *(client.get(f"/api/v1/patients/{patient.id}", headers=headers) for _ in range(20))
            )
            assert {r.status_code for r in answers} == {200}
            changed = await client.patch(
                f"/api/v1/patients/{patient.id}",
                json={"language": "cy"},
                headers=headers,
            )
            assert changed.status_code == 200, changed.text
            assert changed.json()["language"] == "cy"
    finally:
        await engine.dispose()


@pytest.mark.skipif(not THROUGH_PGBOUNCER, reason="only in the PgBouncer slice of CI")
async def test_the_slice_really_goes_through_the_pooler(database_url, db):
    assert database_url.endswith("?pgbouncer=transaction")
    # PgBouncer answers SHOW only on its console; through it, the server sees its own address.
    assert await db.scalar(text("SELECT 1")) == 1
