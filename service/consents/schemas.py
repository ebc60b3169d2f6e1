from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from service.agencies.schemas import ConsentScope
from service.timezones import AwareDatetime


class ConsentCreate(msgspec.Struct, forbid_unknown_fields=True):
    agency_id: uuid.UUID
    scope: ConsentScope
    # When the patient gave it; defaults to now and may not be in the future.
    given_at: AwareDatetime | None = None
    # Open-ended when null; otherwise after given_at and after now.
    expires_at: AwareDatetime | None = None


class ConsentOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    agency_id: uuid.UUID
    scope: ConsentScope
    given_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None
    # Given, not withdrawn and not expired at the time of the request.
    in_force: bool


class ConsentList(msgspec.Struct):
    items: list[ConsentOut]
    next_cursor: str | None
