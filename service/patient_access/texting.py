"""The one rule for "may we text this patient now", in SQL so it is the same everywhere.

A text to a patient may go only while all of these hold: the record is not closed and the
patient is at home (discharged; on the ward they are not texted), they have not opted out,
they consented to SMS, a mobile is on record, the text is going to that mobile (not to a
number since replaced), and the carrier has not refused that number.

`refusal` is a SQL expression, so the same rule is applied twice: by every path that queues
a patient text (`why_not_text`, one round trip) and by the outbox's send step, as the last
word in the very statement that marks the text `sending` (wired through service.sms.hooks).

Two more conditions hold only at the moment a text leaves (`send_refusal`, applied by the
same statement): the patient's contact window is open at that moment (a text queued at
19:55 and held by an outage must not arrive at 03:00), and the words still suit the
patient's discreet setting (a text worded for a private phone must not go once discreet
mode is on). They are not part of `why_not_text`: a text may be queued at night to wait
for the window, and its words are chosen when it is queued.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    Time,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Patient, SmsNumberFlag
from service.errors import Conflict

# Why a text may not go, in the order they are checked; also stored as the reason on a
# withdrawn text or a closed check-in.
REFUSALS = (
    "no_patient",
    "closed",
    "on_ward",
    "opted_out",
    "no_consent",
    "no_mobile",
    "number_changed",
    "undeliverable",
)


# Why a text the rule above allows may still not go at the moment it would be sent.
OUTSIDE_WINDOW = "outside_window"
WORDING_CHANGED = "wording_changed"
# Answers to a text the patient has just sent go at once, whatever the hour: they are awake
# and asked (the crisis reply above all).
WINDOW_EXEMPT_PURPOSES = ("crisis_reply",)


def _reason(p: Any, to_number: ColumnElement[Any]) -> ColumnElement[str]:
    """The rule over one patient row `p`: why a text to `to_number` may not go, '' when it may."""
    flagged = (
        exists()
        .where(SmsNumberFlag.patient_id == p.id, SmsNumberFlag.mobile == to_number)
        # `to_number` may come from a query two levels up (the outbox row, the patient row).
        .correlate_except(SmsNumberFlag)
    )
    return case(
        (p.status == "closed", "closed"),
        (p.status != "discharged", "on_ward"),
        (p.sms_opted_out, "opted_out"),
        (~p.sms_consent, "no_consent"),
        (p.mobile.is_(None), "no_mobile"),
        (p.mobile != to_number, "number_changed"),
        (flagged, "undeliverable"),
        else_="",
    )


def refusal(
    patient_id: ColumnElement[Any], to_number: ColumnElement[Any]
) -> ColumnElement[str | None]:
    """Why a text to `to_number` for `patient_id` may not go now; NULL when it may.

    The patient row is read under an alias of its own, so the rule also works inside a query
    over `patients` itself without being folded into the outer row."""
    p = aliased(Patient, name="texting_patient")
    reason = select(_reason(p, to_number)).where(p.id == patient_id).scalar_subquery()
    # A patient row that is not there (or no patient named at all) is a refusal too: it leaves
    # the subquery NULL, while a patient who may be texted gives ''. One probe of the row; a
    # separate EXISTS was planned as a hash of every patient the trust ever had.
    return func.nullif(func.coalesce(reason, "no_patient"), "", type_=String)


# What staff are told when a text (a check-in, a message) is refused, by the rule's reason.
CANNOT_TEXT = {
    "closed": "Texts go only to patients at home: this patient is not discharged.",
    "on_ward": "Texts go only to patients at home: this patient is not discharged.",
    "opted_out": "The patient has opted out of SMS.",
    "no_consent": "The patient has not consented to SMS.",
    "no_mobile": "The patient has no mobile number on record.",
    "undeliverable": "The carrier refused the patient's mobile number; record a working one.",
}


# Why a patient at home cannot be monitored by SMS at all: the refusals their own record
# causes (the others are about a particular text, or a patient not at home).
MONITORING_GAPS = ("opted_out", "no_consent", "no_mobile", "undeliverable")


def monitoring_gap() -> ColumnElement[str | None]:
    """SQL, for a query over `Patient`: why the patient, if at home, cannot be texted at all
    (one of MONITORING_GAPS), NULL when they can or are not at home. The rule is `refusal`'s
    own (`_reason`), asked of the outer patient row about its own mobile, so it cannot drift
    from what the check-in sweep and the outbox decide; the row is there, so no second read
    of it by key (one per patient at home, 1,349 on the bench's full-size ward)."""
    return case(
        (Patient.status != "discharged", None),
        else_=func.nullif(_reason(Patient, Patient.__table__.c.mobile), "", type_=String),
    )


async def require_textable(session: AsyncSession, patient: Patient) -> None:
    """409 with the reason in staff's words when the rule refuses a text to the patient now."""
    refused = await why_not_text(session, patient)
    if refused is not None:
        raise Conflict(CANNOT_TEXT.get(refused, "The patient cannot be texted now."))


async def why_not_text(session: AsyncSession, patient: Patient) -> str | None:
    """The rule for a text about to be queued to the patient's mobile; None when it may go.

    Evaluated by the database on the stored row, so pending changes are flushed first."""
    await session.flush()
    result: str | None = await session.scalar(
        select(refusal(literal(patient.id), literal(patient.mobile, String)))
    )
    return result


def send_refusal(
    patient_id: ColumnElement[Any],
    recipient_kind: ColumnElement[Any],
    purpose: ColumnElement[Any],
    fit_for_discreet: ColumnElement[Any],
    now: ColumnElement[Any],
) -> ColumnElement[str | None]:
    """SQL: why a queued text to the patient, or to their carer about them, may not go at
    `now`; NULL when it may.

    `fit_for_discreet` is what the text's queuer said of its words: true when they are fit
    for a shared phone, false when they are not, NULL when it did not say (not checked).
    `wording_changed` comes first: such a text is withdrawn and re-worded, never held. It
    applies to a carer's text too (the carer notice names the ward unless the patient is
    discreet); the contact window is the patient's, so it holds only texts to the patient.
    The window is read as `service.checkins.windows.in_window` reads it ([start, end),
    wrapping midnight, start == end always open), on the local clock at `now` as the
    database's time zone rules give it (so a clock change is handled there)."""
    local = cast(func.timezone(Patient.timezone, cast(now, DateTime(timezone=True))), Time)
    start, end = Patient.contact_window_start, Patient.contact_window_end
    window_open = or_(
        start == end,
        and_(start < end, local >= start, local < end),
        and_(start > end, or_(local >= start, local < end)),
    )
    return (
        select(
            case(
                (and_(fit_for_discreet.is_(False), Patient.discreet_messages), WORDING_CHANGED),
                (
                    and_(
                        recipient_kind == "patient",
                        purpose.not_in(WINDOW_EXEMPT_PURPOSES),
                        ~window_open,
                    ),
                    OUTSIDE_WINDOW,
                ),
                else_=None,
            )
        )
        .where(Patient.id == patient_id)
        .scalar_subquery()
    )
