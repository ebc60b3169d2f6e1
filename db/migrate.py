"""Run Alembic migrations programmatically and tell whether a database is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Kept off the ini parser: '%' in passwords would be read as interpolation.
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return set(script.get_heads())


async def current_revisions(conn: AsyncConnection) -> set[str]:
    def _read(sync_conn: object) -> set[str]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return set(context.get_current_heads())

    return await conn.run_sync(_read)
