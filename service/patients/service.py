"""Patients: registration, reading, searching and changing a ward's patients, all audited.

Ward staff (ward_staff, ward_manager) act on the patients of their own ward. Everything a
response shows about a patient goes through `to_out`, so other access paths (agency workers
within consent scope) can reuse or narrow it in one place.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import Row, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Episode, Patient, User, Ward
from service import audit
from service.agencies.schemas import AgencyPatientOut
from service.agencies.visibility import read_patient_for_agency
from service.checkins import lifecycle as checkins
from service.checks import check_not_future, flush_or
from service.errors import Conflict, Forbidden, InvalidInput
from service.follow_ups.service import follow_up_due
from service.pagination import decode_cursor, page_after, split_page
from service.patient_access.staff import (
    patient_for_staff,
    patient_for_staff_deferred,
    patient_row_for_staff,
    readable_patients,
)
from service.patient_access.texting import CANNOT_TEXT, monitoring_gap
from service.patients import episodes
from service.patients.schemas import MonitoringGapOut, PatientCreate, PatientOut, PatientUpdate
from service.phones import normalise_mobile
from service.principal import WARD, Principal
from service.proms import service as proms
from service.sms import outbox
from service.timezones import check_timezone

_NHS_DIGITS = re.compile(r"^[0-9]{10}$")
_EARLIEST_BIRTH = date(1900, 1, 1)
# `?discharged_within_days=`: the ward looks back at most a quarter.
MAX_DISCHARGED_WITHIN_DAYS = 90


# --- NHS number -------------------------------------------------------------------------


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11 over weights 10..2; None when the result is 10 (no valid number)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def normalise_nhs_number(raw: str, field: str = "nhs_number") -> str:
    """Ten digits (spaces as in `943 476 5919` are allowed) with a valid check digit."""
    value = raw.replace(" ", "")
    if len(value) != 10:
        raise InvalidInput.field(field, "must be 10 digits")
    if not _NHS_DIGITS.match(value):
        raise InvalidInput.field(field, "must contain only digits")
    check = nhs_check_digit(value[:9])
    if check is None or check != int(value[9]):
        raise InvalidInput.field(field, "is not a valid NHS number (check digit)")
    return value


# --- output -------------------------------------------------------------------------------


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def gap_out(reason: str | None) -> MonitoringGapOut | None:
    if reason is None:
        return None
    return MonitoringGapOut(
        reason=reason,  # type: ignore[arg-type]
        detail=CANNOT_TEXT.get(reason, "The patient cannot be texted now."),
    )


def to_out(
    patient: Patient | Row[Any],
    monitoring_gap: MonitoringGapOut | msgspec.UnsetType | None = msgspec.UNSET,
) -> PatientOut:
    """The full patient record as ward staff see it (from the object or a row of the table)."""
    return PatientOut(
        id=patient.id,
        ward_id=patient.ward_id,
        nhs_number=patient.nhs_number,
        given_name=patient.given_name,
        family_name=patient.family_name,
        date_of_birth=patient.date_of_birth,
        mobile=patient.mobile,
        timezone=patient.timezone,
        contact_window_start=_hhmm(patient.contact_window_start),
        contact_window_end=_hhmm(patient.contact_window_end),
        language=patient.language,
        discreet_messages=patient.discreet_messages,
        sms_consent=patient.sms_consent,
        sms_opted_out=patient.sms_opted_out,
        key_worker_id=patient.key_worker_id,
        status=patient.status,  # type: ignore[arg-type]
        created_at=patient.created_at,
        updated_at=patient.updated_at,
        monitoring_gap=monitoring_gap,
    )


# --- checks -------------------------------------------------------------------------------


def _clock_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _check_window(start: time, end: time) -> None:
    # A window may wrap midnight (22:00-07:00); an empty one would never allow contact.
    if start == end:
        raise InvalidInput.field("contact_window_end", "must differ from contact_window_start")


def _check_birth_date(value: date, now: datetime) -> date:
    if value > now.date() or value < _EARLIEST_BIRTH:
        raise InvalidInput.field("date_of_birth", "is not a plausible date of birth")
    return value


def _name(value: str, field: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput.field(field, "must not be blank")
    return cleaned


async def _check_key_worker(session: AsyncSession, ward_id: uuid.UUID, user_id: uuid.UUID) -> None:
    user = await session.get(User, user_id)
    if user is None or not user.active or user.role not in WARD or user.ward_id != ward_id:
        raise InvalidInput.field("key_worker_id", "must be an active member of the ward's staff")


async def _nhs_number_holder(
    session: AsyncSession, nhs_number: str, other_than: uuid.UUID | None = None
) -> uuid.UUID | None:
    """The patient already registered with this NHS number (on any ward), if any."""
    query = select(Patient.id).where(Patient.nhs_number == nhs_number)
    if other_than is not None:
        query = query.where(Patient.id != other_than)
    return await session.scalar(query.limit(1))


def _duplicate(
    caller: Principal,
    action: str,
    now: datetime,
    patient_id: uuid.UUID | None,
    matched: uuid.UUID | None = None,
) -> Conflict:
    # The answer says neither where the other record lives nor whose it is. The denied row
    # names the record the number matched, so a probe for who is registered leaves a trace on
    # that patient's audit trail (a create has no patient of its own to name).
    detail: dict[str, Any] = {"reason": "duplicate_nhs_number"}
    if matched is not None:
        detail["matched_patient_id"] = str(matched)
    return audit.denied(
        caller,
        action,
        Conflict("A patient with this NHS number is already registered."),
        at=now,
        patient_id=patient_id or matched,
        ward_id=caller.ward_id,
        object_type="patient",
        object_id=patient_id or matched,
        detail=detail,
    )


async def _flush_unique(
    session: AsyncSession,
    caller: Principal,
    action: str,
    now: datetime,
    patient_id: uuid.UUID | None,
) -> None:
    # The only unique key on patients is the NHS number (a concurrent registration).
    await flush_or(session, lambda: _duplicate(caller, action, now, patient_id))


def _ward_of(caller: Principal) -> uuid.UUID:
    ward_id = caller.staff_ward
    if ward_id is None:
        raise Forbidden("Only ward staff manage patients.")
    return ward_id


# --- operations ---------------------------------------------------------------------------


async def create_patient(
    session: AsyncSession, caller: Principal, data: PatientCreate, now: datetime
) -> Patient:
    """Register a patient on the caller's ward and open their first episode."""
    ward_id = _ward_of(caller)
    if data.ward_id is not None and data.ward_id != ward_id:
        raise InvalidInput.field("ward_id", "must be your own ward (or left out)")
    ward = await session.get(Ward, ward_id)
    if ward is None:  # pragma: no cover - users.ward_id is a foreign key
        raise Forbidden("Only ward staff manage patients.")

    nhs_number = normalise_nhs_number(data.nhs_number)
    start, end = _clock_time(data.contact_window_start), _clock_time(data.contact_window_end)
    _check_window(start, end)
    mobile = normalise_mobile(data.mobile) if data.mobile else None
    if data.sms_consent and mobile is None:
        raise InvalidInput.field("sms_consent", "needs a mobile number")
    if data.key_worker_id is not None:
        await _check_key_worker(session, ward_id, data.key_worker_id)
    # Default: admitted now, to the second (as staff would write it).
    admitted_at = check_not_future(
        data.admitted_at or now.replace(microsecond=0), now, "admitted_at"
    )
    matched = await _nhs_number_holder(session, nhs_number)
    if matched is not None:
        raise _duplicate(caller, "patient.create", now, None, matched)

    patient = Patient(
        id=uuid.uuid4(),
        ward_id=ward_id,
        nhs_number=nhs_number,
        given_name=_name(data.given_name, "given_name"),
        family_name=_name(data.family_name, "family_name"),
        date_of_birth=_check_birth_date(data.date_of_birth, now),
        mobile=mobile,
        timezone=check_timezone(data.timezone or ward.timezone),
        contact_window_start=start,
        contact_window_end=end,
        language=data.language,
        discreet_messages=data.discreet_messages,
        sms_consent=data.sms_consent,
        sms_opted_out=False,
        key_worker_id=data.key_worker_id,
        status="inpatient",
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    await _flush_unique(session, caller, "patient.create", now, None)
    episode = await episodes.open_episode(session, patient, admitted_at, now)
    audit.record(
        session,
        caller,
        "patient.create",
        at=now,
        patient_id=patient.id,
        ward_id=ward_id,
        object_type="patient",
        object_id=patient.id,
        detail={"episode_id": str(episode.id)},
    )
    return patient


async def get_patient(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> Patient:
    return await patient_for_staff(session, caller, patient_id, action="patient.read", now=now)


async def read_patient(
    session: AsyncSession, caller: Principal, patient_id: uuid.UUID, now: datetime
) -> PatientOut | AgencyPatientOut:
    """Ward staff of the patient's ward: the whole record. Agency workers: the projection of
    the widest consent scope in force (service.patient_access.agencies), decided in the query on
    every request. Anyone else: the audited 404."""
    if caller.is_agency_worker:
        return await read_patient_for_agency(session, caller, patient_id, now)
    return to_out(
        await patient_row_for_staff(session, caller, patient_id, action="patient.read", now=now)
    )


async def update_patient(
    session: AsyncSession,
    caller: Principal,
    patient_id: uuid.UUID,
    data: PatientUpdate,
    now: datetime,
) -> Patient:
    patient, event = await patient_for_staff_deferred(
        session, caller, patient_id, action="patient.update", now=now, for_update=True
    )
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    changed: set[str] = set()

    def put(field: str, value: Any) -> None:
        if getattr(patient, field) != value:
            setattr(patient, field, value)
            changed.add(field)

    if "nhs_number" in changes:
        nhs_number = normalise_nhs_number(changes["nhs_number"])
        if nhs_number != patient.nhs_number:
            matched = await _nhs_number_holder(session, nhs_number, other_than=patient.id)
            if matched is not None:
                raise _duplicate(caller, "patient.update", now, patient.id, matched)
        put("nhs_number", nhs_number)
    for field in ("given_name", "family_name"):
        if field in changes:
            put(field, _name(changes[field], field))
    if "date_of_birth" in changes:
        put("date_of_birth", _check_birth_date(changes["date_of_birth"], now))
    if "mobile" in changes:
        put("mobile", normalise_mobile(changes["mobile"]) if changes["mobile"] else None)
    if "timezone" in changes:
        put("timezone", check_timezone(changes["timezone"]))
    for field in ("contact_window_start", "contact_window_end"):
        if field in changes:
            put(field, _clock_time(changes[field]))
    for field in ("language", "discreet_messages", "sms_consent"):
        if field in changes:
            put(field, changes[field])
    if "key_worker_id" in changes:
        if changes["key_worker_id"] is not None:
            await _check_key_worker(session, patient.ward_id, changes["key_worker_id"])
        put("key_worker_id", changes["key_worker_id"])
    if changes.get("status") == "closed" and patient.status != "closed":
        if await episodes.open_episode_of(session, patient.id) is not None:
            raise Conflict("The patient is on the ward; record the discharge before closing.")
        put("status", "closed")
        event.action = "patient.close"
        await checkins.cancel_for_closure(session, patient.id, now)
        await proms.cancel_surveys(session, patient.id, now)

    _check_window(patient.contact_window_start, patient.contact_window_end)
    if patient.sms_consent and patient.mobile is None:
        raise InvalidInput.field("sms_consent", "needs a mobile number")
    if "sms_consent" in changed and not patient.sms_consent:
        # Consent withdrawn: texts still queued are withdrawn now, as an opt-out's are, not
        # left for the send step to refuse (consent given again must not release them).
        await outbox.cancel_queued(session, patient_id=patient.id, now=now, reason="no_consent")
    if changed:
        patient.updated_at = now
        await _flush_unique(session, caller, "patient.update", now, patient.id)
    event.detail = {"fields": sorted(changed)}
    session.add(event)
    return patient


async def list_patients(
    session: AsyncSession,
    caller: Principal,
    now: datetime,
    cursor: str | None,
    limit: int,
    *,
    nhs_number: str | None = None,
    name: str | None = None,
    status: str | None = None,
    monitoring: str | None = None,
    discharged_within_days: int | None = None,
    follow_up: str | None = None,
) -> tuple[list[PatientOut], str | None]:
    """The caller's ward's patients, oldest registration first; one audit event per page.

    Each carries its monitoring gap (`texting.monitoring_gap`, the texting rule in SQL);
    `monitoring="none"` keeps the patients at home whom no check-in can reach, `"sms"` those
    at home it can. `discharged_within_days` keeps patients at home discharged that recently;
    `follow_up="due"` those whose post-discharge follow-up still waits for a human contact
    (pending or breached, and not superseded by a readmission)."""
    ward_id = _ward_of(caller)
    gap = monitoring_gap()
    query: Any = readable_patients(caller).add_columns(gap.label("monitoring_gap"))
    filters: list[str] = []
    if nhs_number is not None:
        query = query.where(Patient.nhs_number == nhs_number.replace(" ", ""))
        filters.append("nhs_number")
    if name is not None:
        prefix = " ".join(name.split()).lower()
        if not prefix:
            raise InvalidInput.field("name", "must not be blank")
        query = query.where(
            or_(
                Patient.family_name.ilike(_like_prefix(prefix), escape="\\"),
                Patient.given_name.ilike(_like_prefix(prefix), escape="\\"),
            )
        )
        filters.append("name")
    if status is not None:
        query = query.where(Patient.status == status)
        filters.append("status")
    if monitoring == "none":
        query = query.where(gap.is_not(None))
        filters.append("monitoring")
    elif monitoring == "sms":
        query = query.where(Patient.status == "discharged", gap.is_(None))
        filters.append("monitoring")
    if discharged_within_days is not None:
        if not 1 <= discharged_within_days <= MAX_DISCHARGED_WITHIN_DAYS:
            raise InvalidInput.field(
                "discharged_within_days", f"must be between 1 and {MAX_DISCHARGED_WITHIN_DAYS}"
            )
        since = now - timedelta(days=discharged_within_days)
        query = query.where(
            Patient.status == "discharged",
            select(Episode.id)
            .where(Episode.patient_id == Patient.id, Episode.discharged_at >= since)
            .exists(),
        )
        filters.append("discharged_within_days")
    if follow_up == "due":
        query = query.where(Patient.status != "closed", follow_up_due(Patient.id))
        filters.append("follow_up")
    query = page_after(query, Patient.created_at, Patient.id, decode_cursor(cursor), limit)
    rows = list((await session.execute(query)).all())
    page, next_cursor = split_page(rows, limit, lambda r: (r[0].created_at, r[0].id))
    # Filter names only: the values searched for are patient data.
    audit.record(
        session,
        caller,
        "patient.list",
        at=now,
        ward_id=ward_id,
        object_type="patient",
        detail={"patient_ids": [str(r[0].id) for r in page], "filters": filters},
    )
    return [to_out(r[0], gap_out(r.monitoring_gap)) for r in page], next_cursor


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


__all__ = [
    "create_patient",
    "get_patient",
    "list_patients",
    "nhs_check_digit",
    "normalise_nhs_number",
    "read_patient",
    "to_out",
    "update_patient",
]
