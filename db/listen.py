"""A LISTEN connection that stays up: PostgreSQL's notifications, and whether they can be trusted.

The connection is PostgreSQL's own (never through a transaction pooler, which would hand the
session to other clients). `on_up` runs once LISTEN is in place, `on_down` as soon as the
connection is lost or stops answering; in between, notifications go to `on_payload`. After a
loss it reconnects with a capped backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from db.engine import asyncpg_dsn

log = logging.getLogger(__name__)

# A silent loss (no FIN, no error) is found by a ping this often, answered within the timeout.
PING_EVERY_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 2.0
RETRY_MAX_SECONDS = 10.0


async def listen_forever(
    url: str,
    channel: str,
    on_payload: Callable[[str], None],
    on_up: Callable[[], None],
    on_down: Callable[[], None],
) -> None:
    """Run until cancelled."""
    delay = 0.5
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await _listen_once(url, channel, on_payload, on_up)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure: distrust, wait, reconnect
            log.warning("listening on %s lost (%s); retrying", channel, type(exc).__name__)
        finally:
            on_down()
        if asyncio.get_running_loop().time() - started > RETRY_MAX_SECONDS:
            delay = 0.5  # it had been up a while: this is a new outage
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_SECONDS)


async def _listen_once(
    url: str, channel: str, on_payload: Callable[[str], None], on_up: Callable[[], None]
) -> None:
    """Listen on one connection until it is lost (raises) or the task is cancelled."""
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(channel, lambda _c, _pid, _ch, payload: on_payload(payload))
        on_up()
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), PING_EVERY_SECONDS)
            except TimeoutError:
                await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
        raise ConnectionError("the listening connection closed")
    finally:
        if not conn.is_closed():
            conn.terminate()
