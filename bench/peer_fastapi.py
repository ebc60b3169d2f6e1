"""The peer for bench.api_read: GET /api/v1/patients/{id} written the way most teams would, with
FastAPI, Pydantic and the SQLAlchemy ORM, doing the same work as ours on the same tables.

Bench-only (FastAPI is not a dependency of Homeward: `pip install fastapi` to run it). The same
checks and the same writes as the real endpoint: the bearer token verified (PyJWT), the user
loaded and checked (active, token version, this token not signed out), the patient loaded
only within the caller's ward (404 otherwise), one audit row written, committed before the
answer. Started as `uvicorn bench.peer_fastapi:app` with DATABASE_URL and JWT_SECRET set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import create_engine_for
from db.models import AuditEvent, Patient, RevokedToken, User

_engine = create_engine_for(os.environ["DATABASE_URL"], pool_size=20, max_overflow=0)
_sessions = async_sessionmaker(_engine, expire_on_commit=False)
_SECRET = os.environ["JWT_SECRET"]

app = FastAPI()


class PatientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ward_id: uuid.UUID
    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    mobile: str | None
    timezone: str
    contact_window_start: time
    contact_window_end: time
    language: str
    discreet_messages: bool
    sms_consent: bool
    sms_opted_out: bool
    key_worker_id: uuid.UUID | None
    status: str


async def session() -> AsyncIterator[AsyncSession]:
    async with _sessions() as db:
        yield db


async def current_user(
    db: Annotated[AsyncSession, Depends(session)],
    authorization: Annotated[str, Header()] = "",
) -> User:
    try:
        claims = jwt.decode(
            authorization.removeprefix("Bearer "), _SECRET, algorithms=["HS256"], issuer="homeward"
        )
    except jwt.PyJWTError:
        raise HTTPException(status_code=401) from None
    user = await db.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.active or user.token_version != claims["tv"]:
        raise HTTPException(status_code=401)
    revoked = await db.scalar(select(RevokedToken).where(RevokedToken.jti == claims["jti"]))
    if revoked is not None:
        raise HTTPException(status_code=401)
    return user


@app.get("/api/v1/patients/{patient_id}", response_model=PatientOut)
async def read_patient(
    patient_id: uuid.UUID,
    user: Annotated[User, Depends(current_user)],
    db: Annotated[AsyncSession, Depends(session)],
) -> Patient:
    patient = await db.scalar(
        select(Patient).where(Patient.id == patient_id, Patient.ward_id == user.ward_id)
    )
    if patient is None:
        raise HTTPException(status_code=404)
    db.add(
        AuditEvent(
            occurred_at=datetime.now(UTC),
            actor_id=user.id,
            actor_role=user.role,
            action="patient.read",
            outcome="allowed",
            patient_id=patient.id,
            ward_id=patient.ward_id,
            object_type="patient",
            object_id=str(patient.id),
            request_id=uuid.uuid4().hex,
        )
    )
    await db.commit()
    return patient
