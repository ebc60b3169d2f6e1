"""Plain async builders for test data, going through the domain services where one exists."""

from __future__ import annotations

import functools
import itertools
import uuid
from datetime import date, datetime, time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, Episode, Patient, User, Ward
from service.auth import passwords
from service.wards import service as wards
from service.wards.schemas import WardCreate

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


@functools.cache
def _password_hash(password: str) -> str:
    # argon2id is deliberately slow; hash each test password once per run.
    return passwords.hash_password(password)


async def ward(session: AsyncSession, **fields: Any) -> Ward:
    data = WardCreate(name=fields.pop("name", f"Ward {next(_seq)}"), **fields)
    row = await wards.create_ward(session, data)
    await session.commit()
    return row


async def agency(session: AsyncSession, **fields: Any) -> Agency:
    row = Agency(
        name=fields.pop("name", f"Agency {next(_seq)}"),
        kind=fields.pop("kind", "housing"),
        active=fields.pop("active", True),
        **fields,
    )
    session.add(row)
    await session.commit()
    return row


async def user(
    session: AsyncSession,
    role: str,
    *,
    ward_id: uuid.UUID | None = None,
    agency_id: uuid.UUID | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    **fields: Any,
) -> User:
    n = next(_seq)
    row = User(
        email=email or f"{role}{n}@example.org",
        full_name=fields.pop("full_name", f"{role.title()} {n}"),
        role=role,
        ward_id=ward_id,
        agency_id=agency_id,
        active=fields.pop("active", True),
        password_hash=_password_hash(password),
        token_version=0,
        **fields,
    )
    session.add(row)
    await session.commit()
    return row


async def token_for(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def auth_headers(
    client: AsyncTestClient[Any], who: User, password: str = PASSWORD
) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(client, who.email, password)}"}


def nhs_number(n: int) -> str:
    """A valid (modulus 11) NHS number derived from n."""
    while True:
        stem = f"{(400000000 + n) % 1000000000:09d}"
        total = sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return stem + str(check)
        n += 7919


def mobile(n: int | None = None) -> str:
    """A UK mobile in the Ofcom drama range, E.164."""
    return f"+4477009{(n if n is not None else next(_seq)) % 100000:05d}"


async def patient(session: AsyncSession, ward_id: uuid.UUID, **fields: Any) -> Patient:
    """A patient at home with SMS consent, unless told otherwise."""
    n = next(_seq)
    row = Patient(
        ward_id=ward_id,
        nhs_number=fields.pop("nhs_number", nhs_number(n)),
        given_name=fields.pop("given_name", f"Given{n}"),
        family_name=fields.pop("family_name", f"Family{n}"),
        date_of_birth=fields.pop("date_of_birth", date(1980, 1, 1)),
        mobile=fields.pop("mobile", mobile(n)),
        timezone=fields.pop("timezone", "Europe/London"),
        contact_window_start=fields.pop("contact_window_start", time(9, 0)),
        contact_window_end=fields.pop("contact_window_end", time(20, 0)),
        language=fields.pop("language", "en"),
        discreet_messages=fields.pop("discreet_messages", False),
        sms_consent=fields.pop("sms_consent", True),
        sms_opted_out=fields.pop("sms_opted_out", False),
        status=fields.pop("status", "discharged"),
        **fields,
    )
    session.add(row)
    await session.commit()
    return row


async def episode(
    session: AsyncSession,
    patient_id: uuid.UUID,
    admitted_at: datetime,
    discharged_at: datetime | None = None,
) -> Episode:
    row = Episode(patient_id=patient_id, admitted_at=admitted_at, discharged_at=discharged_at)
    session.add(row)
    await session.commit()
    return row
