"""Closed-loop referrals from the ward to partner agencies.

    pending --accept--> accepted --complete--> completed
    pending --decline (reason)--> declined
    pending | accepted --withdraw--> withdrawn

Ward staff of the patient's ward create and withdraw; workers of the referred agency accept,
decline and complete. Any other move is a 409. Every status (creation included) is a row in
referral_status_changes. A referral another caller may not see answers an audited 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Consent, Goal, Patient, Referral, ReferralStatusChange, Ward
from db.models.referrals import OPEN_REFERRAL_STATUSES, REFERRAL_CLOSED_REASONS
from service import audit
from service.agencies.service import active_agency
from service.consents.schemas import ConsentCreate
from service.consents.service import give_consent
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.escalations.service import resolve_for_source
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import patient_for_staff
from service.principal import Principal, SystemActor
from service.referrals.access import Sharing, effective_status, readable_referrals
from service.referrals.deadlines import RESPOND_WITHIN_WORKING_DAYS, add_working_days
from service.referrals.schemas import ReferralCreate, ReferralDetail, ReferralOut, StatusChangeOut
from service.timezones import DEFAULT_TIMEZONE

# Referral changes made by the system (the deadline sweep, an agency's answer settling a
# ward escalation).
REFERRALS_ACTOR = SystemActor("referrals")
CONSENT_ENDED = REFERRAL_CLOSED_REASONS[0]


@dataclass(frozen=True)
class Transition:
    to: str
    allowed_from: frozenset[str]
    by_agency: bool  # True: workers of the referred agency; False: ward staff of the ward
    past_tense: str


TRANSITIONS: dict[str, Transition] = {
    "accept": Transition("accepted", frozenset({"pending"}), True, "accepted"),
    "decline": Transition("declined", frozenset({"pending"}), True, "declined"),
    "complete": Transition("completed", frozenset({"accepted"}), True, "completed"),
    "withdraw": Transition("withdrawn", frozenset({"pending", "accepted"}), False, "withdrawn"),
}


def _hidden(sharing: Sharing, for_agency: bool) -> bool:
    """An agency learns what a referral says only while a consent to share is in force."""
    return for_agency and sharing != "in_force"


def shown_status(referral: Referral, sharing: Sharing) -> tuple[str, str | None]:
    """(status, closed_reason) as shown: an open referral whose consent ended reads
    `withdrawn` / `consent_ended` (the query-time rule of service.referrals.access)."""
    if referral.status in OPEN_REFERRAL_STATUSES and sharing == "ended":
        return "withdrawn", CONSENT_ENDED
    return referral.status, referral.closed_reason


def to_out(
    referral: Referral, sharing: Sharing = "in_force", *, for_agency: bool = False
) -> ReferralOut:
    """The referral as the caller may see it. Ward staff see it all (and `sharing`); an agency
    without a consent in force sees only its existence and state: no reason, goal, history."""
    hidden = _hidden(sharing, for_agency)
    status, closed_reason = (
        shown_status(referral, sharing)
        if for_agency
        else (
            referral.status,
            referral.closed_reason,
        )
    )
    return ReferralOut(
        id=referral.id,
        patient_id=referral.patient_id,
        agency_id=referral.agency_id,
        goal_id=None if hidden else referral.goal_id,
        reason=None if hidden else referral.reason,
        status=status,  # type: ignore[arg-type]
        closed_reason=closed_reason,  # type: ignore[arg-type]
        sharing=sharing,
        respond_by=referral.respond_by,
        responded_at=referral.responded_at,
        decline_reason=None if hidden else referral.decline_reason,
        on_hold_since=None if hidden else referral.on_hold_since,
        created_at=referral.created_at,
    )


async def to_detail(
    session: AsyncSession,
    referral: Referral,
    sharing: Sharing = "in_force",
    *,
    for_agency: bool = False,
) -> ReferralDetail:
    out = to_out(referral, sharing, for_agency=for_agency)
    changes: Sequence[ReferralStatusChange] = []
    if not _hidden(sharing, for_agency):
        changes = (
            await session.scalars(
                select(ReferralStatusChange)
                .where(ReferralStatusChange.referral_id == referral.id)
                .order_by(ReferralStatusChange.id)
            )
        ).all()
    return ReferralDetail(
        **msgspec.structs.asdict(out),
        history=[
            StatusChangeOut(
                from_status=c.from_status,  # type: ignore[arg-type]
                to_status=c.to_status,  # type: ignore[arg-type]
                at=c.at,
                by=c.by_id,
                reason=c.reason,
            )
            for c in changes
        ],
    )


def _history(
    referral: Referral,
    from_status: str | None,
    now: datetime,
    by: uuid.UUID | None,
    reason: str | None = None,
    *,
    kind: str = "status",
) -> ReferralStatusChange:
    return ReferralStatusChange(
        referral_id=referral.id,
        from_status=from_status,
        to_status=referral.status,
        at=now,
        by_id=by,
        reason=reason,
        kind=kind,
    )


def _clean(text: str | None, field: str, *, required: bool) -> str | None:
    cleaned = text.strip() if text else ""
    if not cleaned:
        if required:
            raise InvalidInput.field(field, "must not be blank")
        return None
    return cleaned


async def create_referral(
    session: AsyncSession, caller: Principal, data: ReferralCreate, now: datetime
) -> Referral:
    # Locking the patient row serialises referral creation per patient (duplicate check).
    patient = await patient_for_staff(
        session, caller, data.patient_id, action="referral.create", now=now, for_update=True
    )
    await active_agency(session, data.agency_id, "agency_id")
    reason = _clean(data.reason, "reason", required=True)
    if data.goal_id is not None:
        # Goals never move between patients and are never deleted, so this check at
        # creation keeps referrals.goal_id pointing at a goal of the referred patient.
        goal_patient = await session.scalar(select(Goal.patient_id).where(Goal.id == data.goal_id))
        if goal_patient != patient.id:
            raise InvalidInput.field("goal_id", "does not name a goal of this patient")
    if data.respond_by is not None:
        if data.respond_by <= now:
            raise InvalidInput.field("respond_by", "must be in the future")
        respond_by = data.respond_by
    else:
        ward = await session.get(Ward, patient.ward_id)
        tz = ZoneInfo(ward.timezone if ward else DEFAULT_TIMEZONE)
        respond_by = add_working_days(now, RESPOND_WITHIN_WORKING_DAYS, tz)
    duplicate = await session.scalar(
        select(Referral.id).where(
            Referral.patient_id == patient.id,
            Referral.agency_id == data.agency_id,
            Referral.goal_id.is_not_distinct_from(data.goal_id),
            Referral.status.in_(OPEN_REFERRAL_STATUSES),
        )
    )
    if duplicate is not None:
        raise Conflict("An open referral of this patient to this agency already exists.")
    await _consent_for_referral(session, caller, patient.id, data, now)
    referral = Referral(
        patient_id=patient.id,
        agency_id=data.agency_id,
        goal_id=data.goal_id,
        reason=reason,
        status="pending",
        respond_by=respond_by,
        created_by_id=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(referral)
    await session.flush()
    session.add(_history(referral, None, now, caller.user_id))
    await session.flush()
    return referral


async def _consent_for_referral(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: ReferralCreate,
    now: datetime,
) -> None:
    """The send rule: a referral goes to an agency only while a consent to share with it is in
    force, or with the consent recorded in the same request (`consent`, same rules as POST
    .../consents; its errors are named `consent.<field>`)."""
    if data.consent is not None:
        given = ConsentCreate(
            agency_id=data.agency_id,
            scope=data.consent.scope,
            given_at=data.consent.given_at,
            expires_at=data.consent.expires_at,
        )
        try:
            await give_consent(session, caller, patient_id, given, now)
        except InvalidInput as exc:
            raise InvalidInput(
                exc.detail,
                errors=[
                    {**e, "field": f"consent.{e.get('field', '')}".rstrip(".")}
                    for e in (exc.errors or [])
                ],
            ) from None
        return
    in_force = await session.scalar(
        select(Consent.id)
        .where(
            Consent.patient_id == patient_id,
            Consent.agency_id == data.agency_id,
            Consent.given_at <= now,
            Consent.withdrawn_at.is_(None),
            or_(Consent.expires_at.is_(None), Consent.expires_at > now),
        )
        .limit(1)
    )
    if in_force is None:
        raise InvalidInput.field(
            "consent",
            "is required: no consent to share with this agency is in force, so record the "
            "patient's consent with the referral",
        )


async def _denial(
    session: AsyncSession, caller: Principal, action: str, referral_id: uuid.UUID, now: datetime
) -> NotFound:
    """The same 404 as an absent referral, carrying a denied audit event."""
    return await audit.denied_about(
        session,
        caller,
        action,
        NotFound("No such referral."),
        at=now,
        owner=select(Referral.patient_id, Patient.ward_id)
        .join(Patient, Patient.id == Referral.patient_id)
        .where(Referral.id == referral_id),
        object_type="referral",
        object_id=referral_id,
    )


async def referral_for(
    session: AsyncSession,
    caller: Principal,
    referral_id: uuid.UUID,
    *,
    action: str,
    now: datetime,
    for_update: bool = False,
) -> tuple[Referral, Sharing]:
    """The referral if the caller may see it (audited as `action`) with what consent lets its
    agency learn of it (service.referrals.access), else an audited 404."""
    query = readable_referrals(caller, now).where(Referral.id == referral_id)
    if for_update:
        query = query.with_for_update(of=Referral)
    row = (await session.execute(query)).first()
    if row is None:
        raise await _denial(session, caller, action, referral_id, now)
    referral, ward_id, shared = row
    audit.record(
        session,
        caller,
        action,
        at=now,
        patient_id=referral.patient_id,
        ward_id=ward_id,
        object_type="referral",
        object_id=referral.id,
        detail={"sharing": shared} if caller.is_agency_worker else None,
    )
    return referral, cast(Sharing, shared)


async def read_referral(
    session: AsyncSession, caller: Principal, referral_id: uuid.UUID, now: datetime
) -> ReferralDetail:
    """GET /api/v1/referrals/{id}: the referral as the caller may see it."""
    referral, shared = await referral_for(
        session, caller, referral_id, action="referral.read", now=now
    )
    return await to_detail(session, referral, shared, for_agency=caller.is_agency_worker)


async def list_referrals(
    session: AsyncSession,
    caller: Principal,
    now: datetime,
    cursor: str | None,
    limit: int,
    *,
    status: str | None = None,
    patient_id: uuid.UUID | None = None,
    agency_id: uuid.UUID | None = None,
    order_by_respond_by: bool = False,
) -> tuple[list[ReferralOut], str | None]:
    """Ward staff: their ward's referrals; agency workers: their agency's, as consent lets
    them see each (`to_out`). Newest first (or soonest answer first: one page, no cursor).
    Filters narrow that set; they never widen it (a foreign patient_id just finds nothing);
    an agency's `status` filter matches the status it is shown."""
    query = readable_referrals(caller, now)
    if status is not None:
        shown = effective_status(now) if caller.is_agency_worker else Referral.status
        query = query.where(shown == status)
    if patient_id is not None:
        query = query.where(Referral.patient_id == patient_id)
    if agency_id is not None:
        query = query.where(Referral.agency_id == agency_id)
    if order_by_respond_by:
        paged = cast("Select[Any]", query).order_by(Referral.respond_by, Referral.id).limit(limit)
    else:
        paged = page_after(
            cast("Select[Any]", query),
            Referral.created_at,
            Referral.id,
            decode_cursor(cursor),
            limit,
            newest_first=True,
        )
    rows: list[tuple[Referral, uuid.UUID, Sharing]] = [
        (row[0], row[1], row[2]) for row in (await session.execute(paged)).all()
    ]
    if order_by_respond_by:
        page, next_cursor = rows, None
    else:
        page, next_cursor = split_page(rows, limit, lambda r: (r[0].created_at, r[0].id))
    seen: set[uuid.UUID] = set()
    for referral, ward_id, _ in page:
        if referral.patient_id not in seen:
            seen.add(referral.patient_id)
            audit.record(
                session,
                caller,
                "referral.list",
                at=now,
                patient_id=referral.patient_id,
                ward_id=ward_id,
                object_type="referral",
                object_id=referral.id,
            )
    for_agency = caller.is_agency_worker
    return [to_out(r, shared, for_agency=for_agency) for r, _, shared in page], next_cursor


async def transition(
    session: AsyncSession,
    caller: Principal,
    referral_id: uuid.UUID,
    action: str,
    now: datetime,
    *,
    reason: str | None = None,
) -> Referral:
    """Apply `action` (accept, decline, complete, withdraw); 409 when the current status does
    not allow it. Decline needs a reason; other actions keep an optional one in the history."""
    move = TRANSITIONS[action]
    if move.by_agency and not caller.is_agency_worker:
        raise Forbidden("Only the referred agency may do this.")
    if not move.by_agency and not caller.is_ward_member:
        raise Forbidden("Only ward staff may do this.")
    referral, shared = await referral_for(
        session, caller, referral_id, action=f"referral.{action}", now=now, for_update=True
    )
    note = _clean(reason, "reason", required=action == "decline")
    # An agency acts only on what it is shown: no consent in force, nothing to answer.
    status = shown_status(referral, shared)[0] if move.by_agency else referral.status
    if move.by_agency and shared == "none":
        raise Conflict("This referral is waiting for the patient's consent to share with you.")
    if status not in move.allowed_from:
        raise Conflict(f"A {status} referral cannot be {move.past_tense}.")
    previous = referral.status
    referral.status = move.to
    referral.updated_at = now
    if action in ("accept", "decline"):
        referral.responded_at = now
    if action == "decline":
        referral.decline_reason = note
    if move.to not in OPEN_REFERRAL_STATUSES:
        referral.on_hold_since = None  # closed work is no longer on hold
    session.add(_history(referral, previous, now, caller.user_id, note))
    # An answer (or the end of the referral) settles the ward's "unanswered" escalation. An
    # agency's answer closes it as the system: the agency neither sees nor answers ward
    # escalations, and its answer must not count as the ward's acknowledgement.
    await resolve_for_source(
        session,
        reason="referral_unanswered",
        source_type="referral",
        source_id=referral.id,
        now=now,
        note=f"The referral was {move.past_tense}.",
        actor=caller if caller.is_ward_member else REFERRALS_ACTOR,
    )
    await session.flush()
    return referral


# --- readmission: open agency work is put on hold, and resumed at the next discharge -------

# The history rows that show a hold and its end (kind "hold"/"resume", status unchanged).
# The agency reads the history (while consent is in force), so the wording states no
# clinical fact (no "readmitted"). Nothing reads these words back: the state is
# `Referral.on_hold_since`.
PAUSE_NOTE = (
    "On hold: the ward has paused community work with this patient. "
    "Please wait for the ward before further contact."
)
RESUME_NOTE = "Resumed: the ward has resumed community work with this patient."


async def _open_referrals(
    session: AsyncSession, patient_id: uuid.UUID, *, held: bool
) -> list[Referral]:
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.patient_id == patient_id,
            Referral.status.in_(OPEN_REFERRAL_STATUSES),
            Referral.on_hold_since.is_not(None) if held else Referral.on_hold_since.is_(None),
        )
        .order_by(Referral.created_at, Referral.id)
        .with_for_update()
        # Rows this session loaded earlier may be stale (the sweep sets its marker in
        # another transaction): the locked read refreshes them.
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def pause_open_referrals(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime, by: uuid.UUID | None
) -> list[uuid.UUID]:
    """A readmission puts the patient's open (pending or accepted) referrals on hold: each
    gets `on_hold_since` and a "hold" row in its history (status unchanged: API.md fixes the
    statuses). Returns their ids. Visibility is unchanged (the consent decides it); the
    deadline sweep does not chase a referral on hold. A status change while on hold keeps
    the hold; closing the referral ends it."""
    referrals = await _open_referrals(session, patient_id, held=False)
    for referral in referrals:
        referral.on_hold_since = now
        session.add(_history(referral, referral.status, now, by, PAUSE_NOTE, kind="hold"))
    await session.flush()
    return [r.id for r in referrals]


async def resume_paused_referrals(
    session: AsyncSession, patient_id: uuid.UUID, now: datetime, by: uuid.UUID | None
) -> list[uuid.UUID]:
    """At discharge: every referral still on hold is resumed (a "resume" history row) and its
    deadline is looked at afresh. Returns their ids."""
    resumed = await _open_referrals(session, patient_id, held=True)
    for referral in resumed:
        referral.on_hold_since = None
        # A deadline missed while on hold was not chased: the sweep may now escalate it.
        referral.unanswered_escalated_at = None
        session.add(_history(referral, referral.status, now, by, RESUME_NOTE, kind="resume"))
    await session.flush()
    return [r.id for r in resumed]
