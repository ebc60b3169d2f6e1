"""What the ward board shows: one ward's live work, for its own staff, audited as one read.

Waiting referrals come from their domain's list function (which audits itself); open
escalations (in board order), follow-up clocks and today's silent check-ins are read here,
always filtered to the caller's own ward, and audited in the one `board.read` event. So are
the patients at home whom no check-in can reach (the texting rule, `monitoring_gap`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, CheckIn, Escalation, FollowUp, Patient, ReplyToRead, Ward
from service import audit
from service.errors import NotFound
from service.escalations.access import readable_escalations
from service.follow_ups.access import readable_follow_ups
from service.follow_ups.service import superseded_by_admission
from service.pagination import MAX_LIMIT
from service.patient_access.staff import readable_patients
from service.patient_access.texting import CANNOT_TEXT, monitoring_gap
from service.principal import Principal
from service.referrals.schemas import ReferralOut
from service.referrals.service import list_referrals
from service.replies.access import readable_replies
from service.timezones import local_instant

SEVERITY_RANK = {"urgent": 0, "routine": 1}
# Check-ins still waiting for a reply, and those whose reply window closed with none.
SILENT_STATUSES = ("sent", "reminded", "missed")


@dataclass(frozen=True)
class PatientRef:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Unmonitored:
    """A patient at home whom no check-in can reach by SMS, and why (texting.MONITORING_GAPS)."""

    patient_id: uuid.UUID
    reason: str
    detail: str


@dataclass
class Board:
    ward: Ward
    now: datetime
    escalations: list[Escalation]
    follow_ups: list[FollowUp]
    check_ins: list[CheckIn]
    referrals: list[ReferralOut]
    unmonitored: list[Unmonitored] = field(default_factory=list)
    # Free-text replies waiting for a person, per patient (count, the earliest read-by).
    unread_replies: dict[uuid.UUID, tuple[int, datetime]] = field(default_factory=dict)
    patients: dict[uuid.UUID, PatientRef] = field(default_factory=dict)
    agencies: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.ward.timezone)


def _ward_of(caller: Principal) -> uuid.UUID:
    ward_id = caller.staff_ward
    if ward_id is None:
        raise NotFound("No such ward.")
    return ward_id


def today_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Midnight to midnight of the ward's local day, as instants (DST-correct)."""
    local = now.astimezone(tz).date()
    return local_instant(local, time(0), tz), local_instant(local + timedelta(days=1), time(0), tz)


async def ward_board(session: AsyncSession, caller: Principal, now: datetime) -> Board:
    ward_id = _ward_of(caller)
    ward = await session.get(Ward, ward_id)
    if ward is None:
        raise NotFound("No such ward.")
    tz = ZoneInfo(ward.timezone)

    # Ordered in the query, so a flood of routine escalations cannot push the most overdue,
    # highest-level ones off the page.
    open_rows = list(
        (
            await session.scalars(
                readable_escalations(caller)
                .where(Escalation.status.in_(("open", "acknowledged")))
                .order_by(
                    case({"open": 0, "acknowledged": 1}, value=Escalation.status, else_=2),
                    case(SEVERITY_RANK, value=Escalation.severity, else_=9),
                    Escalation.level.desc(),
                    Escalation.ack_due_at,
                    Escalation.id,
                )
                .limit(MAX_LIMIT)
            )
        ).all()
    )

    # Live clocks first, then breaches still without a successful contact (latest first),
    # each with its own limit so old breaches never hide a clock running today. Only
    # patients at home: a readmission or a closed record stops the clock mattering. The
    # ward scope is readable_follow_ups'; "at home" is asked of the ward's patients too, so
    # the planner reads the ward's patients, not every patient of the trust, to find them.
    at_home = (
        readable_patients(caller)
        .with_only_columns(Patient.id)
        .where(Patient.status == "discharged")
    )
    # A follow-up of an earlier stay is moot once the patient was admitted again after it.
    superseded = superseded_by_admission()
    follow_ups: list[FollowUp] = []
    for status, order in (
        ("pending", (FollowUp.due_at, FollowUp.id)),
        ("breached", (FollowUp.due_at.desc(), FollowUp.id)),
    ):
        follow_ups += (
            await session.scalars(
                readable_follow_ups(caller)
                .where(FollowUp.patient_id.in_(at_home), FollowUp.status == status, ~superseded)
                .order_by(*order)
                .limit(MAX_LIMIT)
            )
        ).all()
    follow_ups.sort(key=lambda f: (f.due_at, f.id))

    start, end = today_bounds(now, tz)
    check_ins = list(
        (
            await session.scalars(
                select(CheckIn)
                .join(Patient, Patient.id == CheckIn.patient_id)
                .where(
                    Patient.ward_id == ward_id,
                    CheckIn.status.in_(SILENT_STATUSES),
                    CheckIn.due_at >= start,
                    CheckIn.due_at < end,
                )
                .order_by(CheckIn.due_at, CheckIn.id)
                .limit(MAX_LIMIT)
            )
        ).all()
    )

    referrals, _ = await list_referrals(session, caller, now, None, MAX_LIMIT, status="pending")
    referrals.sort(key=lambda r: (r.respond_by, r.id))

    # Patients at home out of reach of every check-in: the texting rule itself, in SQL.
    gap = monitoring_gap()
    unmonitored = [
        Unmonitored(row.id, row.gap, CANNOT_TEXT.get(row.gap, "The patient cannot be texted."))
        for row in await session.execute(
            readable_patients(caller)
            .with_only_columns(Patient.id, gap.label("gap"))
            .where(gap.is_not(None))
            .order_by(Patient.family_name, Patient.given_name, Patient.id)
            .limit(MAX_LIMIT)
        )
    ]

    # Replies waiting to be read, counted per patient (the ward scope is readable_replies').
    unread = {
        row.patient_id: (int(row.n), row.due)
        for row in await session.execute(
            readable_replies(caller)
            .with_only_columns(
                ReplyToRead.patient_id,
                func.count().label("n"),
                func.min(ReplyToRead.read_due_at).label("due"),
            )
            .where(ReplyToRead.status == "unread")
            .group_by(ReplyToRead.patient_id)
            .order_by(func.min(ReplyToRead.read_due_at))
            .limit(MAX_LIMIT)
        )
    }

    board = Board(
        ward=ward,
        now=now,
        escalations=open_rows,
        follow_ups=follow_ups,
        check_ins=check_ins,
        referrals=referrals,
        unmonitored=unmonitored,
        unread_replies=unread,
    )
    patient_ids = {
        *(e.patient_id for e in open_rows),
        *(f.patient_id for f in follow_ups),
        *(c.patient_id for c in check_ins),
        *(r.patient_id for r in referrals),
        *(u.patient_id for u in unmonitored),
        *unread,
    }
    board.patients = await names_in_ward(session, ward_id, patient_ids)
    agency_ids = {r.agency_id for r in referrals}
    if agency_ids:
        found = await session.execute(
            select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))
        )
        board.agencies = {row.id: row.name for row in found}
    audit.record(
        session,
        caller,
        "board.read",
        at=now,
        ward_id=ward_id,
        object_type="ward",
        object_id=ward_id,
        detail={
            "patient_ids": sorted(str(p) for p in patient_ids),
            "escalation_ids": [str(e.id) for e in open_rows],
            "follow_up_ids": [str(f.id) for f in follow_ups],
            "check_in_ids": [str(c.id) for c in check_ins],
            "unmonitored_patient_ids": [str(u.patient_id) for u in unmonitored],
            "unread_reply_patient_ids": [str(p) for p in unread],
        },
    )
    return board


async def names_in_ward(
    session: AsyncSession, ward_id: uuid.UUID, patient_ids: set[uuid.UUID]
) -> dict[uuid.UUID, PatientRef]:
    """Display names of the given patients, only those on this ward."""
    if not patient_ids:
        return {}
    rows = await session.execute(
        select(Patient.id, Patient.given_name, Patient.family_name).where(
            Patient.id.in_(patient_ids), Patient.ward_id == ward_id
        )
    )
    return {r.id: PatientRef(r.id, f"{r.given_name} {r.family_name}") for r in rows}
