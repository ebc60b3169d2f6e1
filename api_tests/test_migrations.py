from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from api_tests import pg
from db import migrate
from db.base import Base
from db.engine import async_url, asyncpg_dsn


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


# Words the service wrote for a hold and its end before revision 0012 (spelled out here).
PAUSE = (
    "On hold: the ward has paused community work with this patient. "
    "Please wait for the ward before further contact."
)
RESUME = "Resumed: the ward has resumed community work with this patient."


async def test_0012_backfills_holds_from_the_history_notes(pg_admin_url):
    name = await pg.create_database(pg_admin_url)
    url = pg.with_database(pg_admin_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url, "0010")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            ward = await conn.fetchval(
                "INSERT INTO wards (id, name, timezone, crisis_message, escalation_policy)"
                " VALUES (gen_random_uuid(), 'W', 'Europe/London', 'Call 111', '{}') RETURNING id"
            )
            user = await conn.fetchval(
                "INSERT INTO users (id, email, full_name, role, ward_id, password_hash)"
                " VALUES (gen_random_uuid(), 'n@example.org', 'N', 'ward_staff', $1, 'x')"
                " RETURNING id",
                ward,
            )
            patient = await conn.fetchval(
                "INSERT INTO patients (id, ward_id, nhs_number, given_name, family_name,"
                " date_of_birth, timezone) VALUES (gen_random_uuid(), $1, '9434765919', 'A',"
                " 'B', '1980-01-01', 'Europe/London') RETURNING id",
                ward,
            )
            agency = await conn.fetchval(
                "INSERT INTO agencies (id, name, kind) VALUES (gen_random_uuid(), 'H', 'housing')"
                " RETURNING id"
            )
            t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

            async def referral(status: str, notes: list[tuple[str, str | None]]) -> uuid.UUID:
                rid = await conn.fetchval(
                    "INSERT INTO referrals (id, patient_id, agency_id, reason, status,"
                    " respond_by, responded_at, decline_reason, created_by_id)"
                    " VALUES (gen_random_uuid(), $1, $2, 'r', $3, $4, $5, $6, $7) RETURNING id",
                    patient,
                    agency,
                    status,
                    t0,
                    t0 if status != "pending" else None,
                    "no" if status == "declined" else None,
                    user,
                )
                for hours, (to_status, note) in enumerate(notes):
                    await conn.execute(
                        "INSERT INTO referral_status_changes"
                        " (referral_id, from_status, to_status, at, reason)"
                        " VALUES ($1, $2, $2, $3, $4)",
                        rid,
                        to_status,
                        t0 + timedelta(hours=hours + 1),
                        note,
                    )
                return rid

            held = await referral("pending", [("pending", PAUSE)])
            resumed = await referral("accepted", [("accepted", PAUSE), ("accepted", RESUME)])
            held_again = await referral(
                "accepted", [("accepted", PAUSE), ("accepted", RESUME), ("accepted", PAUSE)]
            )
            closed = await referral("declined", [("pending", PAUSE)])
            # Same words typed by a person as a transition note: a status change, not a hold.
            typed = await referral("pending", [("pending", "On hold? please call")])
        finally:
            await conn.close()

        await asyncio.to_thread(migrate.upgrade, url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            since = dict(await conn.fetch("SELECT id, on_hold_since FROM referrals"))
            kinds = await conn.fetch(
                "SELECT referral_id, kind FROM referral_status_changes ORDER BY id"
            )
            # The history is append-only again once the backfill is done.
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("UPDATE referral_status_changes SET kind = 'status'")
        finally:
            await conn.close()
        assert since == {
            held: t0 + timedelta(hours=1),
            resumed: None,
            held_again: t0 + timedelta(hours=3),
            closed: None,
            typed: None,
        }
        by_referral: dict[uuid.UUID, list[str]] = {}
        for row in kinds:
            by_referral.setdefault(row["referral_id"], []).append(row["kind"])
        assert by_referral == {
            held: ["hold"],
            resumed: ["hold", "resume"],
            held_again: ["hold", "resume", "hold"],
            closed: ["hold"],
            typed: ["status"],
        }
        # Down and up again keeps the notes, so the backfill gives the same answer.
        await asyncio.to_thread(migrate.downgrade, url, "0010")
        await asyncio.to_thread(migrate.upgrade, url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            assert dict(await conn.fetch("SELECT id, on_hold_since FROM referrals")) == since
        finally:
            await conn.close()
    finally:
        await pg.drop_database(pg_admin_url, name)
