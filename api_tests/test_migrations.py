from __future__ import annotations

import asyncio
import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from api_tests import pg
from db import migrate
from db.base import Base
from db.engine import async_url


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_and_models_match(pg_admin_url):
    name = await pg.create_database(pg_admin_url)
    url = pg.with_database(pg_admin_url, name)
    try:
        # Alembic's env runs its own event loop, so it goes on a thread here.
        await asyncio.to_thread(migrate.upgrade, url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        await asyncio.to_thread(migrate.upgrade, url)
        assert await _diff(url) == []
    finally:
        await pg.drop_database(pg_admin_url, name)


def test_migrations_have_a_single_head():
    assert len(migrate.head_revisions()) == 1


def test_migration_file_numbers_follow_the_revision_chain():
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    # walk_revisions goes head to base; the chain is read base first.
    chain = list(reversed(list(script.walk_revisions("base", "heads"))))
    previous = None
    for position, revision in enumerate(chain, start=1):
        name = Path(revision.path).name
        assert revision.down_revision == previous, f"{name}: the chain branches or merges here"
        match = re.fullmatch(r"(\d{2})_[a-z0-9_]+\.py", name)
        assert match, f"{name}: not named NN_<slug>.py"
        assert int(match.group(1)) == position, f"{name} is number {position} in the chain"
        previous = revision.revision
    files = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files == [Path(revision.path).name for revision in chain]
