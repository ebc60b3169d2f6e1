"""The audit log page and its CSV: the API's own reading (`service.audit_log`: admins every
ward's events, ward managers their own ward's), with the page's filters and keyset paging.

The CSV holds exactly the rows the page shows for the same filters and cursor (one page, never
the whole log), and no cell can run as a formula in a spreadsheet (OWASP's CSV injection
advice: a cell starting with =, +, -, @, tab or carriage return gets a leading apostrophe)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEvent
from service.audit_log import service as audit_log
from service.errors import InvalidInput
from service.http.auth import MANAGER_AND_ADMIN
from service.http.params import Caller, Db, Res
from service.http.state import AppResources
from service.pagination import DEFAULT_LIMIT
from service.principal import Principal
from service.timezones import local_instant
from service.web.common import PAGE_HEADERS, page, render, ward_zone
from service.web.forms import Form, attempt

FILTER_LABELS = {
    "patient": "Patient",
    "user": "User",
    "action": "Action",
    "from": "From",
    "to": "To",
}
_NHS = re.compile(r"^\d{10}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "occurred_at",
    "actor",
    "actor_id",
    "actor_role",
    "action",
    "outcome",
    "patient_id",
    "ward_id",
    "object_type",
    "object_id",
    "request_id",
    "detail",
)


def csv_cell(value: Any) -> str:
    """A value as a CSV cell no spreadsheet will evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass
class Filters:
    kwargs: dict[str, Any]
    cursor: str | None


def _day(fields: dict[str, str], name: str, tz: ZoneInfo, *, after: bool) -> datetime | None:
    """A date field as the ward's midnight; `to` is the whole day (up to the next midnight)."""
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput.field(name, "is not a date (YYYY-MM-DD)") from None
    if after:
        day += timedelta(days=1)
    return local_instant(day, datetime.min.time(), tz)


def _filters(fields: dict[str, str], tz: ZoneInfo) -> Filters:
    kwargs: dict[str, Any] = {}
    patient = fields.get("patient", "").replace(" ", "").strip()
    if patient:
        if _NHS.fullmatch(patient):
            kwargs["nhs_number"] = patient
        else:
            try:
                kwargs["patient_id"] = uuid.UUID(patient)
            except ValueError:
                raise InvalidInput.field(
                    "patient", "is not an NHS number or a patient id"
                ) from None
    user = fields.get("user", "").strip()
    if user:
        try:
            kwargs["actor_id"] = uuid.UUID(user)
        except ValueError:
            if "@" not in user:
                raise InvalidInput.field("user", "is not an email address or a user id") from None
            kwargs["actor_email"] = user
    action = fields.get("action", "").strip()
    if action:
        if len(action) > 80:
            raise InvalidInput.field("action", "must be at most 80 characters")
        kwargs["action"] = action
    kwargs["from_"] = _day(fields, "from", tz, after=False)
    kwargs["to"] = _day(fields, "to", tz, after=True)
    return Filters(kwargs=kwargs, cursor=fields.get("cursor") or None)


def _fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {k: str(request.query_params.get(k, ""))[:200] for k in (*FILTER_LABELS, "cursor")}


async def _read(
    db: AsyncSession, caller: Principal, fields: dict[str, str], tz: ZoneInfo
) -> tuple[list[AuditEvent], str | None]:
    filters = _filters(fields, tz)
    return await audit_log.list_events(db, caller, filters.cursor, DEFAULT_LIMIT, **filters.kwargs)


class AuditPages(Controller):
    path = "/board"
    include_in_schema = False
    opt = page(MANAGER_AND_ADMIN)

    @get("/audit")
    async def audit(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        caller: Caller,
        res: Res,
        format: FromQuery[str] = "",
    ) -> Template | Stream:
        if format == "csv":
            return await _csv(request, db, caller)
        return await _audit_page(request, res, db, caller)

    @get("/audit.csv")
    async def audit_csv(self, request: Request[Any, Any, Any], db: Db, caller: Caller) -> Stream:
        return await _csv(request, db, caller)


async def _audit_page(
    request: Request[Any, Any, Any], res: AppResources, db: AsyncSession, caller: Principal
) -> Template:
    fields = _fields(request)
    tz = await ward_zone(db, caller)
    found, form = await attempt(db, fields, lambda: _read(db, caller, fields, tz), FILTER_LABELS)
    rows, next_cursor = found or ([], None)
    names = await audit_log.actor_names(db, rows)
    form = form or Form(values=fields, labels=FILTER_LABELS)
    query = {k: v for k, v in fields.items() if v and k != "cursor"}
    return await render(
        request,
        res,
        db,
        caller,
        "audit.html",
        status_code=form.status,
        tz=tz,
        form=form,
        rows=rows,
        names=names,
        next_cursor=next_cursor,
        query=query,
    )


async def _csv(request: Request[Any, Any, Any], db: AsyncSession, caller: Principal) -> Stream:
    """The page's rows as CSV; a bad filter is the page's 422 problem, not an empty file."""
    fields = _fields(request)
    rows, _ = await _read(db, caller, fields, await ward_zone(db, caller))
    names = await audit_log.actor_names(db, rows)
    lines = [
        [
            row.occurred_at.isoformat(),
            names.get(row.actor_id, "") if row.actor_id else "",
            row.actor_id,
            row.actor_role,
            row.action,
            row.outcome,
            row.patient_id,
            row.ward_id,
            row.object_type,
            row.object_id,
            row.request_id,
            json.dumps(row.detail, sort_keys=True) if row.detail else "",
        ]
        for row in rows
    ]
    return Stream(
        _csv_lines(lines),
        media_type="text/csv; charset=utf-8",
        headers={
            **PAGE_HEADERS,
            "Content-Disposition": 'attachment; filename="audit-log.csv"',
        },
    )


def _csv_lines(rows: list[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for cells in [list(CSV_COLUMNS), *rows]:
        writer.writerow([csv_cell(c) for c in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
