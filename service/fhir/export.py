"""A ward's bulk export as NDJSON, close to FHIR Bulk Data's file format, streamed.

One resource per line, `Type/<id>` references (every resource of the ward is in the export).
`_type` names the types wanted (comma-separated, as in Bulk Data); with none, every type is
written one after another in `common.TYPES` order, and the `Homeward-Export-Types` header
says which types follow, in order, with their counts. What differs from Bulk Data: no
asynchronous kick-off (202, status polling, a manifest of files): the one response is the
export.

The caller is checked and the export audited (counts per type) in the request's own
transaction, committed before the first line leaves; the lines then come from one
REPEATABLE READ snapshot through server-side cursors, one batch in memory at a time.
Counts are of the moment the export was allowed: a record written in between may make a
line more or fewer than the audit row says.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient
from service import audit
from service.errors import InvalidInput
from service.fhir import queries
from service.fhir.common import TYPES, relative_ref
from service.fhir.sources import Source
from service.principal import Principal
from service.wards.access import managed_ward

MEDIA_TYPE = "application/fhir+ndjson"
ACTION = "ward.fhir_export"
TYPES_HEADER = "Homeward-Export-Types"
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Export:
    ward_id: uuid.UUID
    types: tuple[str, ...]
    counts: dict[str, int]
    source: Source

    def header(self) -> str:
        return ",".join(f"{kind};count={self.counts[kind]}" for kind in self.types)


def parse_types(value: str | None) -> tuple[str, ...]:
    if value is None or not value.strip():
        return TYPES
    wanted = [t.strip() for t in value.split(",") if t.strip()]
    unknown = sorted(set(wanted) - set(TYPES))
    if unknown:
        raise InvalidInput.field("_type", f"names no exported type (one of {', '.join(TYPES)})")
    # Always in TYPES order, each once, whatever order the caller named them in.
    return tuple(t for t in TYPES if t in wanted)


def _counts(ids: Select[Any]) -> dict[str, Select[Any]]:
    def n(*statements: Select[Any]) -> Select[Any]:
        total: Any = 0
        for statement in statements:
            total = (
                total
                + select(func.count())
                .select_from(statement.order_by(None).subquery())
                .scalar_subquery()
            )
        return select(total)

    return {
        "Patient": n(queries.patients(ids)),
        "Organization": n(queries.agencies(ids)),
        "EpisodeOfCare": n(queries.episodes(ids)),
        "Encounter": n(queries.episodes(ids)),
        "Goal": n(queries.goals(ids)),
        "CarePlan": n(queries.plans(ids, history=False)),
        "Consent": n(queries.consents(ids)),
        "ServiceRequest": n(queries.referrals(ids)),
        "Task": n(queries.referrals(ids), queries.follow_ups(ids)),
        "Questionnaire": select(func.count(func.distinct(queries.items_t.c.instrument))),
        "QuestionnaireResponse": n(queries.surveys(ids)),
        "Communication": n(queries.outbound(ids), queries.inbound(ids)),
        "Flag": n(queries.open_escalations(ids)),
    }


async def start(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    now: datetime,
    types: str | None,
) -> Export:
    """Allow (admins any ward, a ward's managers their own; another ward 404, audited),
    count and audit the export; `lines` then writes it."""
    wanted = parse_types(types)
    ward = await managed_ward(session, caller, ward_id, ACTION, now)
    ids = select(Patient.id).where(Patient.ward_id == ward.id)
    statements = _counts(ids)
    counts = {kind: int(await session.scalar(statements[kind]) or 0) for kind in wanted}
    audit.record(
        session,
        caller,
        ACTION,
        at=now,
        ward_id=ward.id,
        object_type="ward",
        object_id=ward.id,
        detail={"format": "ndjson", "types": list(wanted), "counts": counts},
    )
    return Export(ward.id, wanted, counts, Source(ids, relative_ref, now))


async def lines(session: AsyncSession, export: Export) -> AsyncIterator[bytes]:
    """The export's NDJSON, a line per resource. The audit row commits first (if the request's
    transaction is somehow still open), then one snapshot serves every type."""
    if session.in_transaction():
        await session.commit()
    await session.connection(
        execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    )
    buffer = bytearray()
    try:
        for kind in export.types:
            async for resource in export.source.each(session, kind):
                buffer += resource.model_dump_json().encode()
                buffer += b"\n"
                # Whole lines in chunks of about 64 KiB: one ASGI send per chunk, not per line.
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
        if buffer:
            yield bytes(buffer)
    finally:
        await session.rollback()
