"""The one rule for "may we text this patient now", in SQL so it is the same everywhere.

A text to a patient may go only while all of these hold: the record is not closed and the
patient is at home (discharged; on the ward they are not texted), they have not opted out,
they consented to SMS, a mobile is on record, the text is going to that mobile (not to a
number since replaced), and the carrier has not refused that number.

`refusal` is a SQL expression, so the same rule is applied twice: by every path that queues
a patient text (`why_not_text`, one round trip) and by the outbox's send step, as the last
word in the very statement that marks the text `sending` (wired through service.sms.hooks).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, case, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Patient, SmsNumberFlag

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


def refusal(
    patient_id: ColumnElement[Any], to_number: ColumnElement[Any]
) -> ColumnElement[str | None]:
    """Why a text to `to_number` for `patient_id` may not go now; NULL when it may."""
    flagged = exists().where(
        SmsNumberFlag.patient_id == Patient.id, SmsNumberFlag.mobile == to_number
    )
    reason = (
        select(
            case(
                (Patient.status == "closed", "closed"),
                (Patient.status != "discharged", "on_ward"),
                (Patient.sms_opted_out, "opted_out"),
                (~Patient.sms_consent, "no_consent"),
                (Patient.mobile.is_(None), "no_mobile"),
                (Patient.mobile != to_number, "number_changed"),
                (flagged, "undeliverable"),
                else_=None,
            )
        )
        .where(Patient.id == patient_id)
        .scalar_subquery()
    )
    # A patient row that is not there (or no patient named at all) is a refusal too.
    present = exists().where(Patient.id == patient_id)
    return case((~present, "no_patient"), else_=reason)


async def why_not_text(session: AsyncSession, patient: Patient) -> str | None:
    """The rule for a text about to be queued to the patient's mobile; None when it may go.

    Evaluated by the database on the stored row, so pending changes are flushed first."""
    await session.flush()
    result: str | None = await session.scalar(
        select(refusal(literal(patient.id), literal(patient.mobile, String)))
    )
    return result
