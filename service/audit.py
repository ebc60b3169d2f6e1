"""The audit trail: every read or change of patient data, and every denied attempt.

Three calls, one per situation:

* `record(session, actor, action, ...)`: an allowed event, added to the caller's session, so
  it commits (or vanishes) with the change it describes. Returns the row.
* `record_now(session, actor, action, ...)`: the same allowed event inserted at once through a
  prebuilt Core INSERT. For hot reads, where the ORM's unit of work would cost more than the
  insert itself (bench/api_read.py).
* `audited_read(found, ...)`: a read and its allowed row in one statement, for the hottest
  reads: the row is written by the same statement that finds the record, so the response
  cannot leave without it and the request saves a round trip.
* `denied(actor, action, error, ...)`: the error to raise, carrying its denied row; the row is
  written after the request's rollback (service.http.deps), so the attempt is kept.
  `denied_about(session, ...)` is the same for an object whose patient and ward a query
  finds (none when the object is absent).

`patients_audited()` collects the patients named by allowed rows built inside it (the
idempotency layer keeps them, to check a replay against the caller's access today).

`event(...)` builds an unsaved allowed row for callers that must complete it before adding it
(rows are append-only: the database refuses UPDATE, so a flushed row cannot be amended).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Select, String, Table, bindparam, insert, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent
from service.errors import DomainError
from service.principal import Actor, actor_identity

Outcome = Literal["allowed", "denied"]
E = TypeVar("E", bound=DomainError)


_audited_patients: ContextVar[set[uuid.UUID] | None] = ContextVar("audited_patients", default=None)


@contextmanager
def patients_audited() -> Iterator[set[uuid.UUID]]:
    """The set of patients that allowed rows built inside the block name (filled as the
    block runs; rows later rolled back are included, which only widens a later check)."""
    seen: set[uuid.UUID] = set()
    token = _audited_patients.set(seen)
    try:
        yield seen
    finally:
        _audited_patients.reset(token)


def values(
    actor: Actor,
    action: str,
    *,
    at: datetime,
    outcome: Outcome = "allowed",
    patient_id: uuid.UUID | None = None,
    ward_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one audit row (every column but the id, so one statement fits all)."""
    actor_id, role = actor_identity(actor)
    if patient_id is not None and outcome == "allowed":
        audited_patient(patient_id)
    return {
        "occurred_at": at,
        "actor_id": actor_id,
        "actor_role": role,
        "action": action,
        "outcome": outcome,
        "patient_id": patient_id,
        "ward_id": ward_id,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "request_id": None if actor is None else actor.request_id,
        "detail": detail,
    }


def event(actor: Actor, action: str, **fields: Any) -> AuditEvent:
    """An unsaved allowed row (fields as for `values`), for the caller to complete and add."""
    return AuditEvent(**values(actor, action, **fields))


def record(session: AsyncSession, actor: Actor, action: str, **fields: Any) -> AuditEvent:
    """Add an allowed event to the current transaction."""
    row = event(actor, action, **fields)
    session.add(row)
    return row


# Core, without RETURNING: nothing needs the new id, and the ORM's unit of work would cost
# more than the insert itself on hot read paths.
INSERT = insert(cast(Table, AuditEvent.__table__)).inline()


_audit_columns = cast(Table, AuditEvent.__table__).c
# The audit row's fields that a request supplies; the record's own come from the read.
_REQUEST_FIELDS = ("occurred_at", "actor_id", "actor_role", "action", "request_id", "detail")


def audited_read(found: Select[Any], object_type: str) -> Select[Any]:
    """`found` (rows with `id` and `ward_id`: a patient lookup) as one statement that also
    inserts an allowed audit row for each row it returns, in the same transaction.

    The request's fields are bound as `audit_<field>` (`read_params`). A data-modifying CTE
    runs whether or not the outer select reads it, and sees the same rows `found` returns.
    """
    rows = found.cte("found")
    audited = (
        insert(cast(Table, AuditEvent.__table__))
        .from_select(
            [*_REQUEST_FIELDS, "outcome", "patient_id", "ward_id", "object_type", "object_id"],
            select(
                *(
                    bindparam(f"audit_{name}", type_=_audit_columns[name].type)
                    for name in _REQUEST_FIELDS
                ),
                literal("allowed"),
                rows.c.id,
                rows.c.ward_id,
                literal(object_type),
                sql_cast(rows.c.id, String),
            ),
        )
        .cte("audited")
    )
    return select(rows).add_cte(audited)


def read_params(actor: Actor, action: str, *, at: datetime) -> dict[str, Any]:
    """The `audit_<field>` parameters of an `audited_read`."""
    row = values(actor, action, at=at)
    return {f"audit_{name}": row[name] for name in _REQUEST_FIELDS}


def audited_patient(patient_id: uuid.UUID) -> None:
    """Note a patient that an allowed row names (`values`) or an `audited_read` found."""
    seen = _audited_patients.get()
    if seen is not None:
        seen.add(patient_id)


async def record_now(session: AsyncSession, actor: Actor, action: str, **fields: Any) -> None:
    """Insert an allowed event now, inside the session's transaction (it commits or vanishes
    with the work it describes, like `record`)."""
    await session.execute(INSERT, values(actor, action, **fields))


def denied(actor: Actor, action: str, error: E, **fields: Any) -> E:
    """`error`, carrying a denied event (fields as for `values`) to be written after the
    rollback: the caller raises it, and the attempt outlives the transaction it ended."""
    return error.keeping(AuditEvent(**values(actor, action, outcome="denied", **fields)))


async def denied_about(
    session: AsyncSession,
    actor: Actor,
    action: str,
    error: E,
    *,
    at: datetime,
    owner: Select[uuid.UUID, uuid.UUID],
    object_type: str,
    object_id: uuid.UUID,
) -> E:
    """`denied`, attributed to the (patient_id, ward_id) that `owner` selects for the object,
    so a ward manager's audit log shows attempts on their ward's records."""
    found = (await session.execute(owner)).first()
    return denied(
        actor,
        action,
        error,
        at=at,
        patient_id=found[0] if found else None,
        ward_id=found[1] if found else None,
        object_type=object_type,
        object_id=object_id,
    )
