from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from service.audit_log import service
from service.audit_log.schemas import AuditEventList
from service.http.auth import MANAGER_AND_ADMIN, roles
from service.http.params import (
    DEFAULT_LIMIT,
    Caller,
    Cursor,
    Db,
    Limit,
    parse_time_query,
    time_query,
)

From = Annotated[str | None, time_query("RFC 3339; inclusive", name="from")]
To = Annotated[str | None, time_query("RFC 3339; exclusive")]
Action = Annotated[str | None, QueryParameter(max_length=80, description="e.g. patient.read")]


class AuditEventController(Controller):
    path = "/api/v1/audit-events"
    tags = ["audit"]

    @get(
        "/",
        opt=roles(MANAGER_AND_ADMIN),
        summary="The audit log, newest first (ward managers: their ward's events)",
    )
    async def list_(
        self,
        db: Db,
        caller: Caller,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        patient_id: FromQuery[uuid.UUID | None] = None,
        actor_id: FromQuery[uuid.UUID | None] = None,
        action: Action = None,
        from_: From = None,
        to: To = None,
    ) -> AuditEventList:
        rows, next_cursor = await service.list_events(
            db,
            caller,
            cursor,
            limit,
            patient_id=patient_id,
            actor_id=actor_id,
            action=action,
            from_=parse_time_query(from_, "from"),
            to=parse_time_query(to, "to"),
        )
        return AuditEventList(items=[service.to_out(r) for r in rows], next_cursor=next_cursor)
