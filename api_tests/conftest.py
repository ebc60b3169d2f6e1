"""Test harness: real PostgreSQL, schema built by the migrations, one fresh database per test.

Each test gets a database cloned from a migrated template, so tests can commit, run
concurrent workers and use real transactions while staying isolated from each other.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api_tests import pg

# The browser tests' fixtures (chromium, browser, live), for every module that asks for them.
from api_tests.browser import browser, chromium, live  # noqa: F401
from api_tests.debian import ensure_package
from api_tests.fake_smtp import FakeSmtp
from api_tests.fake_twilio import FakeTwilio
from api_tests.pgbouncer import PGBOUNCER, PgBouncer
from db import migrate
from db.engine import make_engine, make_sessionmaker
from jobs.worker import Worker
from service.app import create_app
from service.clock import ManualClock
from service.conversation.delivery import DELIVERY_HOOKS, STAFF_EMAIL_HOOKS
from service.email.channel import EMAIL_CHANNEL_KEY, EmailChannel, build_email_channel
from service.paging.channels import (
    StaffChannels,
    configure_staff_channels,
    set_staff_channels,
    staff_channels,
)
from service.settings import Settings
from service.sms.backends import open_channel
from service.sms.gateway import CHANNEL_KEY, SmsChannel

TEST_JWT_SECRET = "test-secret-" + "x" * 40
PUBLIC_BASE_URL = "https://homeward.test"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TWILIO_FROM = "+447700900001"


_EMBEDDED_SERVER: list[Any] = []


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    # Not under pytest's tmp tree: pytest resets that tree to 0700 when another xdist worker
    # starts, and the server runs as its own OS user that must be able to traverse to it.
    base = Path(tempfile.mkdtemp(prefix="homeward-test-pg-"))
    url, server = pg.start_test_server(base)
    _EMBEDDED_SERVER.append(server)
    try:
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def embedded_server(pg_admin_url: str) -> Any:
    """This test process's own PostgreSQL, for fault tests that stop and start it."""
    if not _EMBEDDED_SERVER:
        pytest.skip("fault tests need the embedded server (TEST_DATABASE_URL points elsewhere)")
    return _EMBEDDED_SERVER[0]


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    name = asyncio.run(pg.create_database(pg_admin_url))
    migrate.upgrade(pg.with_database(pg_admin_url, name))
    yield name
    asyncio.run(pg.drop_database(pg_admin_url, name))


@pytest.fixture(scope="session")
def pgbouncer_binary() -> str:
    """Debian's PgBouncer, installed on first use (tests that need it skip without it)."""
    why = ensure_package(PGBOUNCER, "pgbouncer")
    if why is not None:
        pytest.skip(f"PgBouncer tests skipped: {why}")
    return PGBOUNCER


@pytest.fixture(scope="session")
def pgbouncer(pg_admin_url: str, pgbouncer_binary: str) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction pooling mode in front of the tests' server."""
    bouncer = PgBouncer(pg_admin_url).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


# HOMEWARD_TEST_PGBOUNCER=1 runs the tests' app, workers and sessions through PgBouncer in
# transaction pooling mode (CI runs a slice of the suite so); databases are still made and
# dropped on the server directly.
THROUGH_PGBOUNCER = os.environ.get("HOMEWARD_TEST_PGBOUNCER") == "1"


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest, pg_admin_url: str, template_db: str
) -> AsyncIterator[str]:
    name = await pg.create_database(pg_admin_url, template=template_db)
    if THROUGH_PGBOUNCER:
        yield request.getfixturevalue("pgbouncer").url(name)
    else:
        yield pg.with_database(pg_admin_url, name)
    await pg.drop_database(pg_admin_url, name)


@pytest.fixture(autouse=True)
def _staff_channels() -> None:
    """Paging's start-up facts, as every test's app sets them (process-wide, so set afresh
    for each test): the test board address, staff email off."""
    set_staff_channels(StaffChannels(board_url=f"{PUBLIC_BASE_URL}/board", email=False))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
        public_base_url=PUBLIC_BASE_URL,
        jobs_interval_seconds=1,
        # Most tests sign admins and managers in without a second factor; the tests of
        # two-step sign-in (test_accounts_*.py) turn the requirement back on.
        require_totp="off",
        # Tests move the clock on by hours with a board open; the idle timeout's own tests
        # (test_accounts_sessions.py) set the deployment default of 30 minutes.
        board_idle_minutes=480,
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url, pool_size=2)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for arranging data and checking results; commit what the app must see."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Litestar:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


# --- SMS through the real twilio SDK, against a loopback fake Twilio ------------------------


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio(slow_seconds=1.0).start()
    yield fake
    await fake.stop()


@pytest.fixture
def sms_settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    """Settings with the twilio backend pointed at the fake (no pacing wait).

    The timeout is generous: on a loaded CI machine a 0.5 s timeout sometimes fired before
    the fake even saw the request, so a test expecting a send saw a retry instead. Tests of
    the timeout path open their own channel with a short one."""
    return replace(
        settings,
        sms_backend="twilio",
        twilio_account_sid=fake_twilio.account_sid,
        twilio_auth_token=fake_twilio.auth_token,
        twilio_from_number=TWILIO_FROM,
        twilio_api_base_url=fake_twilio.base_url,
        twilio_timeout_seconds=10.0,
        sms_rate_per_second=1000,
    )


@pytest.fixture
def sms_app(sms_settings: Settings, clock: ManualClock) -> Litestar:
    return create_app(sms_settings, clock=clock)


@pytest.fixture
async def sms_client(sms_app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=sms_app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
async def sms_channel(sms_settings: Settings) -> AsyncIterator[SmsChannel]:
    async with open_channel(sms_settings, DELIVERY_HOOKS) as channel:
        yield channel


@pytest.fixture
def sms_worker(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock, sms_channel: SmsChannel
) -> Worker:
    """A worker whose sweeps send through the real SDK to the fake Twilio."""
    return Worker(sessionmaker, clock, 1, extras={CHANNEL_KEY: sms_channel})


# --- staff email over real SMTP, to a loopback aiosmtpd server --------------------------------


@pytest.fixture
async def fake_smtp() -> AsyncIterator[FakeSmtp]:
    fake = await FakeSmtp(slow_seconds=1.5).start()
    yield fake
    await fake.stop()


@pytest.fixture
def email_settings(sms_settings: Settings, fake_smtp: FakeSmtp) -> Iterator[Settings]:
    """SMS through the fake Twilio plus staff email through the fake SMTP server; paging is
    told email is on for this test, and put back afterwards."""
    settings = replace(
        sms_settings,
        smtp_url=fake_smtp.url,
        smtp_from="alerts@homeward.test",
        smtp_starttls="off",
        smtp_timeout_seconds=10.0,
    )
    before = staff_channels()
    configure_staff_channels(settings)
    yield settings
    set_staff_channels(before)


@pytest.fixture
def email_channel(email_settings: Settings) -> EmailChannel:
    channel = build_email_channel(email_settings, STAFF_EMAIL_HOOKS)
    assert channel is not None
    return channel


@pytest.fixture
def email_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    sms_channel: SmsChannel,
    email_channel: EmailChannel,
) -> Worker:
    """A worker that texts through the fake Twilio and emails through the fake SMTP server."""
    return Worker(
        sessionmaker,
        clock,
        1,
        extras={CHANNEL_KEY: sms_channel, EMAIL_CHANNEL_KEY: email_channel},
    )
