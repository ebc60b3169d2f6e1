"""Raise, list, acknowledge and resolve escalations. Raising is idempotent per source.

Raising announces the escalation to level 1 (service.escalations.notify) in the same
transaction; the ladder (service.escalations.ladder) climbs it at each missed deadline.
History and deadlines live in service.escalations.history.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import new_id
from db.models import Escalation, EscalationEvent, Patient, Ward
from db.models.escalations import ESCALATION_REASONS, ESCALATION_SEVERITIES, STAFF_OUTCOMES
from service import audit
from service.errors import Conflict, InvalidInput, NotFound
from service.escalations.access import readable_escalations
from service.escalations.history import (
    ack_minutes,
    audit_change,
    history_event,
    resolve_minutes,
)
from service.escalations.notify import announce
from service.escalations.schemas import (
    EscalationDetail,
    EscalationEventOut,
    EscalationOut,
)
from service.pagination import decode_cursor, page_after, split_page
from service.paging.recipients import TOP_LEVEL
from service.principal import Actor, Principal, actor_identity
from service.refs import escalation_ref, id_range, parse_ref


async def raise_escalation(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    ward_id: uuid.UUID,
    reason: str,
    severity: str,
    source_type: str,
    source_id: str | uuid.UUID,
    now: datetime,
    note: str | None = None,
    actor: Actor = None,
    level: int = 1,
) -> Escalation:
    """Open an escalation at `level` (1 unless it follows on from one that already climbed),
    or return the one this source already raised.

    Safe under concurrency: the unique (reason, source_type, source_id) key decides, so two
    sweeps or two webhook deliveries reporting the same thing produce one escalation.
    """
    if reason not in ESCALATION_REASONS:
        raise ValueError(f"unknown escalation reason {reason!r}")
    if severity not in ESCALATION_SEVERITIES:
        raise ValueError(f"unknown escalation severity {severity!r}")
    source = str(source_id)
    # Loaded into the session: announcing below reads the same ward without a second query.
    ward = await session.get(Ward, ward_id)
    policy = ward.escalation_policy if ward is not None else None
    due = now + timedelta(minutes=ack_minutes(policy, severity, level))
    escalation_id = new_id()
    inserted = await session.scalar(
        insert(Escalation)
        .values(
            id=escalation_id,
            patient_id=patient_id,
            ward_id=ward_id,
            reason=reason,
            severity=severity,
            level=level,
            status="open",
            source_type=source_type,
            source_id=source,
            note=note,
            opened_at=now,
            ack_due_at=due,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_escalations_source")
        .returning(Escalation.id)
    )
    if inserted is None:
        existing = await session.scalar(
            select(Escalation).where(
                Escalation.reason == reason,
                Escalation.source_type == source_type,
                Escalation.source_id == source,
            )
        )
        assert existing is not None  # the conflicting row is committed or ours
        return existing
    escalation = await session.get(Escalation, escalation_id)
    assert escalation is not None
    session.add(history_event(escalation, "opened", now, actor, from_status=None))
    await announce(session, escalation, now)
    audit.record(
        session,
        actor,
        "escalation.raise",
        at=now,
        patient_id=patient_id,
        ward_id=ward_id,
        object_type="escalation",
        object_id=escalation_id,
        detail={"reason": reason, "severity": severity, "source_type": source_type},
    )
    await session.flush()
    return escalation


# --- reading and changing, for ward staff -------------------------------------------------


def to_out(row: Escalation) -> EscalationOut:
    return EscalationOut(
        id=row.id,
        patient_id=row.patient_id,
        ward_id=row.ward_id,
        reason=row.reason,  # type: ignore[arg-type]
        severity=row.severity,  # type: ignore[arg-type]
        level=row.level,
        status=row.status,  # type: ignore[arg-type]
        opened_at=row.opened_at,
        ack_due_at=row.ack_due_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolve_due_at=row.resolve_due_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_outcome=row.resolution_outcome,  # type: ignore[arg-type]
        resolution_note=row.resolution_note,
        note=row.note,
        source_type=row.source_type,
        source_id=row.source_id,
        follow_on_of=_follow_on_of(row),
        ref=escalation_ref(row.id),
    )


def _follow_on_of(row: Escalation) -> uuid.UUID | None:
    """The escalation this one follows on from (raised when staff could not make contact)."""
    if row.source_type != FOLLOW_ON_SOURCE:
        return None
    return uuid.UUID(row.source_id)


async def to_detail(session: AsyncSession, row: Escalation) -> EscalationDetail:
    events = await session.scalars(
        select(EscalationEvent)
        .where(EscalationEvent.escalation_id == row.id)
        .order_by(EscalationEvent.id)
    )
    base = to_out(row)
    return EscalationDetail(
        **{f: getattr(base, f) for f in base.__struct_fields__},
        events=[
            EscalationEventOut(
                occurred_at=e.occurred_at,
                kind=e.kind,
                actor_id=e.actor_id,
                actor_role=e.actor_role,
                from_status=e.from_status,
                to_status=e.to_status,
                level=e.level,
                note=e.note,
            )
            for e in events
        ],
    )


async def _denied(
    session: AsyncSession, caller: Principal, action: str, escalation_id: uuid.UUID, now: datetime
) -> NotFound:
    return await audit.denied_about(
        session,
        caller,
        action,
        NotFound("No such escalation."),
        at=now,
        owner=select(Escalation.patient_id, Escalation.ward_id).where(
            Escalation.id == escalation_id
        ),
        object_type="escalation",
        object_id=escalation_id,
    )


async def _for_staff(
    session: AsyncSession,
    caller: Principal,
    escalation_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool = False,
    detail: dict[str, str] | None = None,
) -> Escalation:
    # Imported here, not at the top, while this package is being reorganised (hoist it after).
    query = readable_escalations(caller).where(Escalation.id == escalation_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise await _denied(session, caller, action, escalation_id, now)
    audit_change(session, caller, action, row, now, detail)
    return row


async def get_escalation(
    session: AsyncSession, caller: Principal, escalation_id: uuid.UUID, now: datetime
) -> Escalation:
    return await _for_staff(session, caller, escalation_id, action="escalation.read", now=now)


async def list_escalations(
    session: AsyncSession,
    caller: Principal,
    *,
    now: datetime,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    patient_id: uuid.UUID | None = None,
    reason: str | None = None,
    ref: str | None = None,
) -> tuple[list[Escalation], str | None]:
    """The caller's ward's escalations, newest first; `ref` finds those with that short
    reference (as a staff alert quotes it), through the primary key."""
    digits = None
    if ref is not None:
        digits = parse_ref(ref)
        if digits is None:
            raise InvalidInput.field("ref", "must be a reference like 3F2A-9C1B")
    if caller.staff_ward is None:
        return [], None
    query = readable_escalations(caller)
    if digits is not None:
        query = query.where(Escalation.id.between(*id_range(digits)))
    if status is not None:
        query = query.where(Escalation.status == status)
    if reason is not None:
        query = query.where(Escalation.reason == reason)
    if patient_id is not None:
        query = query.where(Escalation.patient_id == patient_id)
    query = page_after(
        query, Escalation.opened_at, Escalation.id, decode_cursor(cursor), limit, newest_first=True
    )
    rows = list((await session.scalars(query)).all())
    page, next_cursor = split_page(rows, limit, lambda r: (r.opened_at, r.id))
    in_ward = patient_id is not None and await session.scalar(
        select(Patient.id).where(Patient.id == patient_id, Patient.ward_id == caller.ward_id)
    )
    audit.record(
        session,
        caller,
        "escalation.list",
        at=now,
        patient_id=patient_id if in_ward else None,
        ward_id=caller.ward_id,
        object_type="escalation",
        detail={"count": len(page), "status": status, "reason": reason, "ref": digits},
    )
    return page, next_cursor


async def acknowledge(
    session: AsyncSession,
    caller: Principal,
    escalation_id: uuid.UUID,
    now: datetime,
    note: str | None = None,
) -> Escalation:
    row = await _for_staff(
        session, caller, escalation_id, action="escalation.acknowledge", now=now, for_update=True
    )
    if row.status != "open":
        raise Conflict(f"An escalation that is {row.status} cannot be acknowledged.")
    row.status = "acknowledged"
    row.acknowledged_at = now
    row.acknowledged_by = caller.user_id
    # Acknowledged is not done: past this the resolve-by sweep re-opens it a level up. The
    # ward's policy as it is now applies, so a changed policy counts from the next deadline.
    ward = await session.get(Ward, row.ward_id)
    policy = ward.escalation_policy if ward is not None else None
    row.resolve_due_at = now + timedelta(minutes=resolve_minutes(policy, row.severity))
    row.updated_at = now
    session.add(
        history_event(
            row, "acknowledged", now, caller, from_status="open", note=(note or "").strip() or None
        )
    )
    await session.flush()
    return row


FOLLOW_ON_SOURCE = "escalation"


async def resolve(
    session: AsyncSession,
    caller: Principal,
    escalation_id: uuid.UUID,
    now: datetime,
    resolution_outcome: str,
    resolution_note: str,
) -> Escalation:
    """Close the loop with what staff found (one of STAFF_OUTCOMES) and a note, both required.

    `could_not_contact` on an urgent escalation closes this one but does not close the loop:
    a follow-on urgent escalation, linked by its source, opens one level up and is paged.
    """
    if resolution_outcome not in STAFF_OUTCOMES:
        raise InvalidInput.field(
            "resolution_outcome", f"must be one of {', '.join(STAFF_OUTCOMES)}"
        )
    note = resolution_note.strip()
    if not note:
        raise InvalidInput.field("resolution_note", "is required")
    row = await _for_staff(
        session,
        caller,
        escalation_id,
        action="escalation.resolve",
        now=now,
        for_update=True,
        detail={"outcome": resolution_outcome},
    )
    if row.status == "resolved":
        raise Conflict("This escalation is already resolved.")
    _mark_resolved(session, row, caller, now, note, resolution_outcome)
    if resolution_outcome == "could_not_contact" and row.severity == "urgent":
        await _raise_follow_on(session, row, caller, now)
    await session.flush()
    return row


async def _raise_follow_on(
    session: AsyncSession, row: Escalation, caller: Principal, now: datetime
) -> Escalation:
    """Nobody could reach a patient in an urgent situation: open a new urgent escalation one
    level above the one closed, so someone with more reach is paged and has a deadline. Keyed
    by the closed escalation's id, so it is raised once however the resolve is retried."""
    follow_on = await raise_escalation(
        session,
        patient_id=row.patient_id,
        ward_id=row.ward_id,
        reason=row.reason,
        severity="urgent",
        source_type=FOLLOW_ON_SOURCE,
        source_id=row.id,
        now=now,
        note=f"Follow-on: staff could not contact the patient (escalation {row.id}).",
        actor=caller,
        level=min(row.level + 1, TOP_LEVEL),
    )
    session.add(
        history_event(
            row,
            "follow_on_raised",
            now,
            caller,
            from_status="resolved",
            note=f"could not contact the patient; follow-on escalation {follow_on.id} "
            f"opened at level {follow_on.level}",
        )
    )
    return follow_on


def _mark_resolved(
    session: AsyncSession,
    row: Escalation,
    actor: Actor,
    now: datetime,
    note: str,
    outcome: str,
) -> None:
    """Close the escalation with its note and history. A person resolving it answers it, so
    that counts as the acknowledgement too when nobody had acknowledged it; a system closing
    it (its source was dealt with elsewhere) acknowledges nothing."""
    previous = row.status
    user_id, _ = actor_identity(actor)
    if row.acknowledged_at is None and isinstance(actor, Principal):
        row.acknowledged_at = now
        row.acknowledged_by = user_id
    row.status = "resolved"
    row.resolved_at = now
    row.resolved_by = user_id
    row.resolution_note = note
    row.resolution_outcome = outcome
    row.updated_at = now
    session.add(history_event(row, "resolved", now, actor, from_status=previous, note=note))


def _resolve_audited(
    session: AsyncSession,
    row: Escalation,
    actor: Actor,
    now: datetime,
    note: str,
    outcome: str,
    detail: dict[str, str],
) -> None:
    """Resolve on someone's behalf outside the escalation routes, and audit it there."""
    _mark_resolved(session, row, actor, now, note, outcome)
    audit_change(session, actor, "escalation.resolve", row, now, detail)


async def resolve_for_source(
    session: AsyncSession,
    *,
    reason: str,
    source_type: str,
    source_id: str | uuid.UUID,
    now: datetime,
    note: str,
    actor: Actor,
) -> Escalation | None:
    """Resolve the escalation a source raised once the source itself is dealt with (e.g. the
    follow-up it was about is completed). Nothing happens when there is none or it is closed."""
    row = await session.scalar(
        select(Escalation)
        .where(
            Escalation.reason == reason,
            Escalation.source_type == source_type,
            Escalation.source_id == str(source_id),
        )
        .with_for_update()
        # The locked row as it is now, not as this session may have loaded it earlier.
        .execution_options(populate_existing=True)
    )
    if row is None or row.status == "resolved":
        return None
    _resolve_audited(
        session,
        row,
        actor,
        now,
        note,
        "source_dealt_with",
        {"by_source": source_type, "outcome": "source_dealt_with"},
    )
    await session.flush()
    return row


async def resolve_all_for_patient(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime, note: str, actor: Actor
) -> int:
    """Close every escalation still open or acknowledged for a patient (e.g. back on the
    ward: nobody should be sent to find them at home). Returns how many were closed."""
    rows = (
        await session.scalars(
            select(Escalation)
            .where(
                Escalation.patient_id == patient_id,
                Escalation.status.in_(("open", "acknowledged")),
            )
            .order_by(Escalation.opened_at, Escalation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    for row in rows:
        _resolve_audited(
            session,
            row,
            actor,
            now,
            note,
            "patient_admitted",
            {"by": "admission", "outcome": "patient_admitted"},
        )
    await session.flush()
    return len(rows)


# Reasons whose severity follows suicide risk (a first miss, a score of 2, an unread reply
# are urgent with it); raised routine before risk was recorded, they are urgent now.
RISK_SENSITIVE_REASONS = ("no_reply", "low_score", "unread_reply")


async def make_urgent_for_risk(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime, actor: Actor
) -> list[Escalation]:
    """Suicide risk was just recorded: the patient's routine escalations still open or
    acknowledged whose severity follows risk become urgent, each with a history event and an
    audit row. An open one's acknowledge deadline shortens to the urgent one for its level
    (never lengthens), so the ladder climbs on the urgent clock from now; an acknowledged
    one's resolve-by deadline shortens the same way. Clearing risk
    lowers nothing: an urgent escalation stays urgent until a person resolves it."""
    rows = (
        await session.scalars(
            select(Escalation)
            .where(
                Escalation.patient_id == patient_id,
                Escalation.status.in_(("open", "acknowledged")),
                Escalation.severity == "routine",
                Escalation.reason.in_(RISK_SENSITIVE_REASONS),
            )
            .order_by(Escalation.opened_at, Escalation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    if not rows:
        return []
    ward = await session.get(Ward, rows[0].ward_id)
    policy = ward.escalation_policy if ward is not None else None
    for row in rows:
        row.severity = "urgent"
        if row.status == "open":
            due = now + timedelta(minutes=ack_minutes(policy, "urgent", row.level))
            row.ack_due_at = min(row.ack_due_at, due)
        elif row.resolve_due_at is not None:
            # Acknowledged: the urgent resolve-by allowance from now, if that is sooner.
            due = now + timedelta(minutes=resolve_minutes(policy, "urgent"))
            row.resolve_due_at = min(row.resolve_due_at, due)
        row.updated_at = now
        session.add(
            history_event(
                row,
                "severity_raised",
                now,
                actor,
                from_status=row.status,
                note="Suicide risk recorded: routine raised to urgent.",
            )
        )
        audit_change(
            session,
            actor,
            "escalation.severity",
            row,
            now,
            {"from": "routine", "to": "urgent", "because": "suicide_risk"},
        )
    await session.flush()
    return list(rows)
