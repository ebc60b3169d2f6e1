"""Consent to share with an agency: recorded and withdrawn by ward staff of the patient's ward.

Consents are never edited or deleted; a change of scope is a new consent (and, if narrower,
withdrawal of the old one). The widest consent in force decides what an agency sees
(service.patient_access.agencies).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Consent
from service.agencies.service import active_agency
from service.consents.access import readable_consents
from service.consents.ended import close_for_ended_consent
from service.consents.schemas import ConsentCreate, ConsentOut
from service.errors import Conflict, InvalidInput
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import denial, patient_for_staff
from service.principal import Principal


def in_force(consent: Consent, now: datetime) -> bool:
    return (
        consent.given_at <= now
        and consent.withdrawn_at is None
        and (consent.expires_at is None or consent.expires_at > now)
    )


def to_out(consent: Consent, now: datetime) -> ConsentOut:
    return ConsentOut(
        id=consent.id,
        patient_id=consent.patient_id,
        agency_id=consent.agency_id,
        scope=consent.scope,  # type: ignore[arg-type]
        given_at=consent.given_at,
        expires_at=consent.expires_at,
        withdrawn_at=consent.withdrawn_at,
        in_force=in_force(consent, now),
    )


async def give_consent(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: ConsentCreate,
    now: datetime,
) -> Consent:
    patient = await patient_for_staff(session, caller, patient_id, action="consent.create", now=now)
    await active_agency(session, data.agency_id, "agency_id")
    given_at = data.given_at or now
    if given_at > now:
        raise InvalidInput.field("given_at", "may not be in the future")
    if data.expires_at is not None:
        if data.expires_at <= given_at:
            raise InvalidInput.field("expires_at", "must be after given_at")
        if data.expires_at <= now:
            # It could never be in force: almost certainly a typing mistake.
            raise InvalidInput.field("expires_at", "must be in the future")
    consent = Consent(
        patient_id=patient.id,
        agency_id=data.agency_id,
        scope=data.scope,
        given_at=given_at,
        expires_at=data.expires_at,
        recorded_by_id=caller.user_id,
        created_at=now,
    )
    session.add(consent)
    await session.flush()
    return consent


async def list_consents(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    now: datetime,
    cursor: str | None,
    limit: int,
    *,
    agency_id: uuid.UUID | None = None,
) -> tuple[list[Consent], str | None]:
    await patient_for_staff(session, caller, patient_id, action="consent.list", now=now)
    query = readable_consents(caller).where(Consent.patient_id == patient_id)
    if agency_id is not None:
        query = query.where(Consent.agency_id == agency_id)
    query = page_after(query, Consent.created_at, Consent.id, decode_cursor(cursor), limit)
    rows = list((await session.scalars(query)).all())
    return split_page(rows, limit, lambda c: (c.created_at, c.id))


async def _no_such_consent(
    session: AsyncSession,
    caller: Principal,
    action: str,
    patient_id: uuid.UUID,
    consent_id: uuid.UUID,
    now: datetime,
) -> Exception:
    # Another patient's consent, or none: the same 404, with its denied audit row.
    return await denial(
        session,
        caller,
        action,
        patient_id,
        now,
        object_type="consent",
        object_id=consent_id,
        message="No such consent.",
    )


async def get_consent(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    consent_id: uuid.UUID,
    now: datetime,
) -> Consent:
    """One of the patient's consents (the page that confirms a withdrawal shows it)."""
    await patient_for_staff(session, caller, patient_id, action="consent.read", now=now)
    consent = await session.scalar(
        readable_consents(caller).where(Consent.id == consent_id, Consent.patient_id == patient_id)
    )
    if consent is None:
        raise await _no_such_consent(session, caller, "consent.read", patient_id, consent_id, now)
    return consent


async def withdraw_consent(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    consent_id: uuid.UUID,
    now: datetime,
) -> Consent:
    await patient_for_staff(session, caller, patient_id, action="consent.withdraw", now=now)
    consent = await session.scalar(
        readable_consents(caller)
        .where(Consent.id == consent_id, Consent.patient_id == patient_id)
        .with_for_update()
    )
    if consent is None:
        raise await _no_such_consent(
            session, caller, "consent.withdraw", patient_id, consent_id, now
        )
    if consent.withdrawn_at is not None:
        raise Conflict("This consent has already been withdrawn.")
    consent.withdrawn_at = now
    consent.withdrawn_by_id = caller.user_id
    await session.flush()
    # What the agency learns follows consent: its open referrals close with the last one.
    await close_for_ended_consent(session, caller, patient_id, consent.agency_id, now)
    return consent
