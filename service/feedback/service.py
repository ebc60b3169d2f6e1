"""Feedback staff heard from carers, family or the patient, and the patient's nominated carer
(the discreet notice a carer gets is paging's: service.paging.texts)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Carer, PatientFeedback
from service.checks import check_aware, check_not_future
from service.errors import InvalidInput, NotFound
from service.feedback.schemas import CarerIn, CarerOut, FeedbackIn, FeedbackOut
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import patient_for_staff, patient_for_staff_deferred
from service.phones import normalise_mobile
from service.principal import Principal


def _aware(value: datetime, field: str, now: datetime) -> datetime:
    return check_not_future(check_aware(value, field), now, field)


def feedback_out(row: PatientFeedback) -> FeedbackOut:
    return FeedbackOut(
        id=row.id,
        patient_id=row.patient_id,
        source=row.source,  # type: ignore[arg-type]
        relationship=row.relationship,
        given_by=row.given_by,
        text=row.text,
        received_at=row.received_at,
        recorded_by=row.recorded_by,
        created_at=row.created_at,
    )


async def record_feedback(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, data: FeedbackIn, now: datetime
) -> PatientFeedback:
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="feedback.create", now=now
    )
    row = PatientFeedback(
        id=uuid.uuid4(),
        patient_id=patient.id,
        ward_id=patient.ward_id,
        source=data.source,
        relationship=data.relationship,
        given_by=data.given_by,
        text=data.text,
        received_at=_aware(data.received_at, "received_at", now),
        recorded_by=caller.user_id,
        created_at=now,
    )
    session.add(row)
    event.object_type, event.object_id = "patient_feedback", str(row.id)
    event.detail = {"source": data.source}
    session.add(event)
    await session.flush()
    return row


async def list_feedback(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> tuple[list[PatientFeedback], str | None]:
    """Newest first by when it was received."""
    patient = await patient_for_staff(session, caller, patient_id, action="feedback.list", now=now)
    query = select(PatientFeedback).where(PatientFeedback.patient_id == patient.id)
    query = page_after(
        query,
        PatientFeedback.received_at,
        PatientFeedback.id,
        decode_cursor(cursor),
        limit,
        newest_first=True,
    )
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda r: (r.received_at, r.id))


def consent_in_force(carer: Carer, now: datetime) -> bool:
    return (
        carer.consent_to_contact
        and carer.consent_given_at is not None
        and carer.consent_given_at <= now
        and (carer.consent_withdrawn_at is None or carer.consent_withdrawn_at > now)
    )


def carer_out(row: Carer, now: datetime) -> CarerOut:
    return CarerOut(
        patient_id=row.patient_id,
        name=row.name,
        relationship=row.relationship,
        mobile=row.mobile,
        consent_to_contact=row.consent_to_contact,
        consent_given_at=row.consent_given_at,
        consent_withdrawn_at=row.consent_withdrawn_at,
        consent_in_force=consent_in_force(row, now),
        sms_opted_out=bool(row.sms_opted_out),
        updated_at=row.updated_at,
    )


async def put_carer(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, data: CarerIn, now: datetime
) -> Carer:
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="carer.put", now=now, for_update=True
    )
    given = (
        _aware(data.consent_given_at, "consent_given_at", now) if data.consent_given_at else None
    )
    withdrawn = (
        _aware(data.consent_withdrawn_at, "consent_withdrawn_at", now)
        if data.consent_withdrawn_at
        else None
    )
    if data.consent_to_contact and given is None:
        raise InvalidInput.field("consent_given_at", "is required when consent_to_contact is true")
    if given is not None and withdrawn is not None and withdrawn < given:
        raise InvalidInput.field("consent_withdrawn_at", "must not be before consent_given_at")
    mobile = normalise_mobile(data.mobile) if data.mobile else None
    if data.consent_to_contact and mobile is None:
        raise InvalidInput.field("mobile", "is required when consent_to_contact is true")
    row = await session.get(Carer, patient.id, with_for_update=True)
    if row is None:
        row = Carer(patient_id=patient.id, created_at=now)
        session.add(row)
    if row.mobile != mobile:
        # A STOP was the old number's; a new number has not asked for anything yet.
        row.sms_opted_out, row.sms_opted_out_at = False, None
    row.name = data.name
    row.relationship = data.relationship
    row.mobile = mobile
    row.consent_to_contact = data.consent_to_contact
    row.consent_given_at = given
    row.consent_withdrawn_at = withdrawn
    row.updated_by = caller.user_id
    row.updated_at = now
    event.object_type, event.object_id = "carer", str(patient.id)
    event.detail = {"consent_to_contact": data.consent_to_contact}
    session.add(event)
    await session.flush()
    return row


async def get_carer(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> Carer:
    patient = await patient_for_staff(session, caller, patient_id, action="carer.read", now=now)
    row = await session.get(Carer, patient.id)
    if row is None:
        raise NotFound("No carer is recorded for this patient.")
    return row
