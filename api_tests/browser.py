"""What every browser test shares: Debian's Chromium driven by Playwright against a real uvicorn
server (real PostgreSQL, real twilio SDK against fake Twilio), signing in, and axe-core.

Chromium comes from the distribution (/usr/bin/chromium), installed by the fixture below when
it is missing and apt is at hand; Playwright's own browser download is never used.

The fixtures (`chromium`, `browser`, `live`) reach every test through conftest.py; `new_page`,
`sign_in`, `assert_accessible` and `shot_path` are plain functions to import. Mark browser test
modules `pytestmark = pytest.mark.slow`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from api_tests import builders
from api_tests.debian import ensure_package
from api_tests.live_server import LiveServer
from service.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# axe-core's impact levels that fail a test (WCAG 2.2 AA rules; "minor"/"moderate" are reported).
BLOCKING_IMPACTS = {"serious", "critical"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install -e '.[dev]')")
    why = ensure_package(CHROMIUM, "chromium")
    if why is not None:
        pytest.skip(f"browser tests skipped: {why}")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def live(sms_settings, clock) -> Iterator[LiveServer]:
    server = LiveServer(create_app(sms_settings, clock=clock)).start()
    try:
        yield server
    finally:
        server.stop()


async def new_page(browser: Any, width: int = 1280, height: int = 900) -> Any:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="en-GB", timezone_id="Europe/London"
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def sign_in(page: Any, base: str, email: str) -> None:
    await page.goto(f"{base}/board/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(builders.PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def assert_accessible(page: Any, what: str = "") -> None:
    """axe-core on the page as it is now: no serious or critical WCAG 2.2 AA violation."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING_IMPACTS
    ]
    assert not blocking, f"axe on {what or page.url}:\n" + "\n".join(blocking)


def shot_path(tmp_path: Path, name: str) -> Path:
    """Where a screenshot goes: docs/ when HOMEWARD_SCREENSHOTS=1 (to refresh the README's
    pictures), the test's own folder otherwise."""
    if os.environ.get("HOMEWARD_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        return DOCS / name
    return tmp_path / name
