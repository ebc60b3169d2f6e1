"""Poison rows: a swept row that fails on every tick is counted, then set aside and paged.

Without this a row whose handling always raises is rolled back and claimed again on every
tick for ever, silently (only a log line), and enough of them fill the claim batch so that
healthy rows behind them wait too. Claims leave set-aside rows out (`service.set_aside`);
here they are counted, set aside after `SET_ASIDE_AFTER` failures in a row, and admins are
paged once per row (the set-aside step happens once, and the page is keyed by the row).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SweepItemFailure
from service.paging.admins import page_admins

# Five ticks in a row (2.5 minutes at the default 30 s) tells a poison row from a blip.
SET_ASIDE_AFTER = 5

# One SMS segment; names no patient, only the row's kind and a short reference.
SET_ASIDE_TEXT = (
    "Homeward: the {sweep} sweep set aside {kind} row {ref} after {failures} failures; "
    "it will not be retried. See /health/jobs."
)


@dataclass(frozen=True)
class Failure:
    failures: int
    set_aside: bool


async def known(
    session: AsyncSession, kind: str, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Failure]:
    """The failure records of these rows (one primary-key lookup per row, in one query)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            SweepItemFailure.item_id, SweepItemFailure.failures, SweepItemFailure.set_aside_at
        ).where(SweepItemFailure.item_kind == kind, SweepItemFailure.item_id.in_(wanted))
    )
    return {r.item_id: Failure(r.failures, r.set_aside_at is not None) for r in rows}


async def clear(session: AsyncSession, kind: str, item_id: uuid.UUID) -> None:
    """The row was handled: its run of failures is over."""
    await session.execute(
        delete(SweepItemFailure).where(
            SweepItemFailure.item_kind == kind, SweepItemFailure.item_id == item_id
        )
    )


async def record_failure(
    session: AsyncSession,
    *,
    sweep: str,
    kind: str,
    item_id: uuid.UUID,
    error: str,
    now: datetime,
) -> Failure:
    """Count one more failure; at the threshold set the row aside and page the admins."""
    table = SweepItemFailure.__table__
    insert_row = insert(SweepItemFailure).values(
        item_kind=kind,
        item_id=item_id,
        sweep=sweep,
        failures=1,
        first_failed_at=now,
        last_failed_at=now,
        last_error=error[:200],
        set_aside_at=None,
    )
    count = table.c.failures + 1
    stmt = insert_row.on_conflict_do_update(
        index_elements=["item_kind", "item_id"],
        set_={
            "failures": count,
            "sweep": sweep,
            "last_failed_at": now,
            "last_error": error[:200],
            # Keep the first set-aside time; else set it when this failure reaches the bar.
            "set_aside_at": func.coalesce(
                table.c.set_aside_at, case((count >= SET_ASIDE_AFTER, now), else_=None)
            ),
        },
    ).returning(SweepItemFailure.failures, SweepItemFailure.set_aside_at)
    row = (await session.execute(stmt)).one()
    result = Failure(row.failures, row.set_aside_at is not None)
    # Exactly at the bar, once: a set-aside row is no longer claimed, so it never counts on.
    if row.failures == SET_ASIDE_AFTER:
        await page_admins(
            session,
            key=f"sweep_set_aside:{kind}:{item_id}",
            body=SET_ASIDE_TEXT.format(
                sweep=sweep, failures=row.failures, kind=kind, ref=str(item_id)[:8]
            ),
            purpose="sweep_set_aside",
            now=now,
        )
    return result
