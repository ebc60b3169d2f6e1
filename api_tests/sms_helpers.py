"""Helpers shared by the SMS tests: a discharged patient with a schedule, signed webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from api_tests import builders
from api_tests.conftest import PUBLIC_BASE_URL
from db.models import CheckIn, Escalation, OutboxMessage, Patient
from service.checkins import lifecycle


async def discharged_patient(
    session: AsyncSession, ward_id: uuid.UUID, discharged_at: datetime, **fields: Any
) -> Patient:
    """A patient discharged at `discharged_at`, with the default check-in schedule started."""
    patient = await builders.home_patient(session, ward_id, **fields)
    await builders.episode(
        session,
        patient.id,
        admitted_at=discharged_at.replace(year=discharged_at.year - 1),
        discharged_at=discharged_at,
    )
    await lifecycle.start_schedule(session, patient.id, discharged_at, discharged_at)
    await session.commit()
    return patient


def signature(token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


async def post_signed(
    client: Any,
    path: str,
    params: dict[str, str],
    token: str,
    *,
    query: str = "",
    signed_url: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a form to a webhook with the signature Twilio would compute for PUBLIC_BASE_URL."""
    target = path + (f"?{query}" if query else "")
    url = signed_url or PUBLIC_BASE_URL + target
    all_headers = {"X-Twilio-Signature": signature(token, url, params), **(headers or {})}
    return await client.post(target, data=params, headers=all_headers)


def inbound_params(from_number: str, body: str, sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "SmsSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": from_number,
        "To": "+447700900001",
        "Body": body,
        "NumMedia": "0",
    }


async def check_ins(session: AsyncSession, patient_id: uuid.UUID) -> list[CheckIn]:
    rows = await session.scalars(
        select(CheckIn)
        .where(CheckIn.patient_id == patient_id)
        .order_by(CheckIn.due_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def outbox_rows(session: AsyncSession, patient_id: uuid.UUID) -> list[OutboxMessage]:
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.patient_id == patient_id)
        .order_by(OutboxMessage.created_at, OutboxMessage.dedupe_key)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def escalations(session: AsyncSession, patient_id: uuid.UUID) -> list[Escalation]:
    rows = await session.scalars(
        select(Escalation)
        .where(Escalation.patient_id == patient_id)
        .order_by(Escalation.opened_at)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def fresh(session: AsyncSession, model: Any, key: Any) -> Any:
    """Re-read one row from the database (other sessions changed it)."""
    return await session.get(model, key, populate_existing=True)


def written_ref(escalation_id: uuid.UUID) -> str:
    """An escalation's short reference, worked out by hand: the first 8 hex digits of its
    id, in capitals, with a hyphen in the middle."""
    digits = str(escalation_id).replace("-", "")[:8].upper()
    return digits[:4] + "-" + digits[4:]


def staff_notice(escalation: Escalation, *, level: int, reason: str, severity: str) -> str:
    """The page staff get for an escalation at `level`, as the tests expect it word for word."""
    ref = written_ref(escalation.id)
    return (
        f"Homeward: {severity} escalation {ref}, level {level}: {reason}. "
        f"Ward board: {PUBLIC_BASE_URL}/board/search?q={ref}"
    )
