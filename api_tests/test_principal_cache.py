"""The principal cache (issue 21): who a token belongs to is kept between requests, yet a
deactivation, a sign-out or a role change still takes effect at once, whether it was made by
this process, by another one, or while the listener was away (HW-44, HW-62)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from sqlalchemy import update

from api_tests import builders
from api_tests.conftest import THROUGH_PGBOUNCER
from db.engine import asyncpg_dsn
from db.models import User
from service.identity.principal_cache import PrincipalCache, Snapshot

pytestmark = pytest.mark.skipif(
    THROUGH_PGBOUNCER, reason="through a transaction pooler the cache is off (no LISTEN)"
)

ME = "/api/v1/me"


def _cache(app: Litestar) -> PrincipalCache:
    cache = app.state.resources.principal_cache
    assert cache is not None
    return cache


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> float:
    """Seconds until `check` holds (fails the test after `seconds`)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, "condition not reached in time"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def _warm(client: Any, app: Litestar, headers: dict[str, str]) -> None:
    """Until the listener is up and this token is served from the cache."""
    cache = _cache(app)

    async def listening() -> bool:
        return cache.listening

    await _until(listening)
    assert (await client.get(ME, headers=headers)).status_code == 200
    hits = cache.hits
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert cache.hits == hits + 1, "the second request was not served from the cache"


@pytest.fixture
async def outside(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Another process's connection, as far as the app can tell: plain asyncpg, none of this
    process's SQLAlchemy sessions, so only PostgreSQL's notification can tell the app."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    yield conn
    await conn.close()


async def test_a_deactivation_through_the_api_refuses_the_very_next_request(client, app, db):
    admin = await builders.user(db, "admin")
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(app, nurse)
    await _warm(client, app, headers)

    answer = await client.patch(
        f"/api/v1/users/{nurse.id}", json={"active": False}, headers=builders.bearer(app, admin)
    )
    assert answer.status_code == 200, answer.text
    # No wait at all: this process forgets the row as its own commit returns.
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_a_deactivation_by_another_process_is_heard_within_milliseconds(
    client, app, db, outside
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(app, nurse)
    await _warm(client, app, headers)

    await outside.execute("UPDATE users SET active = false WHERE id = $1", nurse.id)

    async def refused() -> bool:
        return (await client.get(ME, headers=headers)).status_code == 401

    # The notification travels from the commit to this process's listener; the request
    # loop above re-asks every few milliseconds and must be refused well within a second.
    assert await _until(refused, seconds=1.0) < 1.0


async def test_a_role_change_and_a_revoked_token_elsewhere_are_both_heard(client, app, db, outside):
    ward = await builders.ward(db)
    other = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(app, nurse)
    await _warm(client, app, headers)

    await outside.execute("UPDATE users SET ward_id = $1 WHERE id = $2", other.id, nurse.id)

    async def moved() -> bool:
        body = (await client.get(ME, headers=headers)).json()
        return body["ward_id"] == str(other.id)

    await _until(moved, seconds=1.0)

    # Signing a token out elsewhere (its jti revoked) ends it here too.
    login = await client.post(
        "/api/v1/auth/login", json={"email": nurse.email, "password": builders.PASSWORD}
    )
    assert login.status_code == 200, login.text
    signed_in = {"Authorization": f"Bearer {login.json()['access_token']}"}
    await _warm(client, app, signed_in)
    jti = await outside.fetchval("SELECT jti FROM sessions WHERE user_id = $1", nurse.id)
    await outside.execute(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) "
        "VALUES ($1, $2, now() + interval '1 day')",
        jti,
        nurse.id,
    )

    async def ended() -> bool:
        return (await client.get(ME, headers=signed_in)).status_code == 401

    await _until(ended, seconds=1.0)


async def test_while_the_listener_is_away_nothing_is_served_from_the_cache(
    client, app, db, outside
):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(app, nurse)
    await _warm(client, app, headers)
    cache = _cache(app)

    # Cut the listener's connection from the server side, as a failover or restart would.
    ended = await outside.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
    )
    assert ended == 1

    async def away() -> bool:
        return not cache.listening

    await _until(away)
    # A change made while nobody listens is still honoured at once: the cache is not used.
    await outside.execute("UPDATE users SET active = false WHERE id = $1", nurse.id)
    assert (await client.get(ME, headers=headers)).status_code == 401

    async def back() -> bool:
        return cache.listening

    await _until(back, seconds=10.0)
    await outside.execute("UPDATE users SET active = true WHERE id = $1", nurse.id)
    await _until(lambda: _ok(client, headers), seconds=1.0)


async def _ok(client: Any, headers: dict[str, str]) -> bool:
    return bool((await client.get(ME, headers=headers)).status_code == 200)


def _snapshot(user_id: uuid.UUID) -> Snapshot:
    return Snapshot(
        id=user_id,
        role="ward_staff",
        ward_id=None,
        agency_id=None,
        active=True,
        token_version=0,
        must_change_password=False,
        revoked=False,
        last_seen=None,
    )


def test_a_row_read_before_a_change_is_not_kept_after_it():
    cache = PrincipalCache()
    cache.listening_started()
    user_id = uuid.uuid4()
    generation = cache.generation  # a request starts reading the user's row...
    cache.forget_user(user_id)  # ...a deactivation commits meanwhile and is heard...
    cache.put("jti-1", _snapshot(user_id), generation)  # ...and the old row comes back
    assert cache.get("jti-1", user_id) is None

    cache.put("jti-1", _snapshot(user_id), cache.generation)
    assert cache.get("jti-1", user_id) is not None
    # A token presented for another user than the one cached is never matched.
    assert cache.get("jti-1", uuid.uuid4()) is None


def test_entries_expire_and_a_stopped_listener_empties_the_cache():
    now = [0.0]
    cache = PrincipalCache(clock=lambda: now[0])
    user_id = uuid.uuid4()
    cache.put("jti-1", _snapshot(user_id), cache.generation)
    assert cache.get("jti-1", user_id) is None, "nothing is kept before the listener is up"
    cache.listening_started()
    cache.put("jti-1", _snapshot(user_id), cache.generation)
    now[0] = 59.0
    assert cache.get("jti-1", user_id) is not None
    now[0] = 61.0
    assert cache.get("jti-1", user_id) is None
    cache.put("jti-1", _snapshot(user_id), cache.generation)
    cache.listening_stopped()
    assert cache.get("jti-1", user_id) is None


async def test_a_rolled_back_change_leaves_the_cache_serving(client, app, db):
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    headers = builders.bearer(app, nurse)
    await _warm(client, app, headers)
    row = await db.get(User, nurse.id)
    assert row is not None
    row.full_name = "Renamed Then Rolled Back"
    await db.flush()
    await db.rollback()
    hits = _cache(app).hits
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert _cache(app).hits == hits + 1


async def test_this_processs_own_commit_is_forgotten_as_it_returns(db):
    """No listener at all here: only the commit hook can empty this cache, through the ORM's
    unit of work and through a Core statement alike, and only once the change commits."""
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    cache = PrincipalCache()
    cache.listening_started()

    cache.put("jti-1", _snapshot(nurse.id), cache.generation)
    row = await db.get(User, nurse.id)
    assert row is not None
    row.active = False
    await db.flush()
    assert cache.get("jti-1", nurse.id) is not None, "not forgotten before the commit"
    await db.commit()
    assert cache.get("jti-1", nurse.id) is None

    cache.put("jti-1", _snapshot(nurse.id), cache.generation)
    await db.execute(update(User).where(User.id == nurse.id).values(active=True))
    await db.commit()
    assert cache.get("jti-1", nurse.id) is None

    # A write to an unrelated table leaves it serving.
    cache.put("jti-1", _snapshot(nurse.id), cache.generation)
    await builders.ward(db)
    assert cache.get("jti-1", nurse.id) is not None


async def test_a_session_touch_forgets_only_its_own_token(db):
    """The touch (once a minute per signed-in session) names its token, so its commit forgets
    that token alone; every other cached caller is still served. A write that names no token
    still empties everything (the test above)."""
    from datetime import UTC, datetime

    from service.identity.callers import touch

    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    other = await builders.user(db, "ward_staff", ward_id=ward.id)
    await db.commit()
    cache = PrincipalCache()
    cache.listening_started()
    cache.put("jti-touched", _snapshot(nurse.id), cache.generation)
    cache.put("jti-other", _snapshot(other.id), cache.generation)

    await touch(db, "jti-touched", datetime.now(UTC))

    assert cache.get("jti-touched", nurse.id) is None
    assert cache.get("jti-other", other.id) is not None


async def test_metrics_say_whether_the_cache_is_listening_and_how_often_it_hit(client, app, db):
    """Operators see the cache on /metrics: a listener that never connects (so every request
    reads the database, safe but slower) shows as listening 0, and the hits and misses move."""
    from prometheus_client.parser import text_string_to_metric_families

    def samples(text: str) -> dict[tuple[str, str], float]:
        return {
            (s.name, s.labels.get("result", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("homeward_principal_cache")
        }

    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    await db.commit()
    headers = builders.bearer(app, nurse)
    await _warm(client, app, headers)
    before = samples((await client.get("/metrics")).text)
    assert before["homeward_principal_cache_listening", ""] == 1
    assert before["homeward_principal_cache_entries", ""] >= 1
    assert (await client.get(ME, headers=headers)).status_code == 200
    after = samples((await client.get("/metrics")).text)
    hits = "homeward_principal_cache_lookups_total", "hit"
    assert after[hits] == before[hits] + 1
    assert after["homeward_principal_cache_lookups_total", "miss"] >= 1

    _cache(app).listening_stopped()
    stopped = samples((await client.get("/metrics")).text)
    assert stopped["homeward_principal_cache_listening", ""] == 0
    assert stopped["homeward_principal_cache_entries", ""] == 0


async def test_a_standalone_rollback_and_savepoints_forget_what_was_committed(app, db):
    """A standalone session (no transaction) commits each statement as it runs, so its
    rollback forgets like a commit; a savepoint's release commits nothing yet, and a rollback
    to a savepoint keeps the outer transaction's writes noted until its commit."""
    ward = await builders.ward(db)
    nurse = await builders.user(db, "ward_staff", ward_id=ward.id)
    await db.commit()
    nurse_id = nurse.id  # the ORM object expires as savepoints roll back
    cache = PrincipalCache()
    cache.listening_started()
    standalone = app.state.resources.standalone_sessionmaker
    assert standalone is not None

    cache.put("jti-1", _snapshot(nurse_id), cache.generation)
    async with standalone() as session:
        await session.execute(update(User).where(User.id == nurse_id).values(active=False))
        await session.rollback()
    assert cache.get("jti-1", nurse_id) is None, "the write stood: the rollback undid nothing"

    cache.put("jti-1", _snapshot(nurse_id), cache.generation)
    async with db.begin_nested():
        await db.execute(update(User).where(User.id == nurse_id).values(active=True))
    assert cache.get("jti-1", nurse_id) is not None, "released, but not committed yet"
    await db.commit()
    assert cache.get("jti-1", nurse_id) is None

    cache.put("jti-1", _snapshot(nurse_id), cache.generation)
    await db.execute(update(User).where(User.id == nurse_id).values(full_name="Renamed"))
    savepoint = await db.begin_nested()
    await db.execute(update(User).where(User.id == nurse_id).values(full_name="Undone"))
    await savepoint.rollback()
    assert cache.get("jti-1", nurse_id) is not None
    await db.commit()
    assert cache.get("jti-1", nurse_id) is None, "the outer write was forgotten by the savepoint"
