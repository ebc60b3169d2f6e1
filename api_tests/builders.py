"""Plain async builders for test data, going through the domain services where one exists."""

from __future__ import annotations

import functools
import itertools
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agency, User, Ward
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
