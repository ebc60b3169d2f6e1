"""Opaque keyset cursors: (created_at, id) of the last row, base64url-encoded.

`Cursor` carries a UUID id; `SeqCursor` an integer one (bigint keys such as audit events,
or a version number).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from service.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class SeqCursor:
    at: datetime
    id: int


def encode_cursor(at: datetime, row_id: uuid.UUID | int) -> str:
    key: str | int = row_id if isinstance(row_id, int) else str(row_id)
    raw = json.dumps([at.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_parts(value: str) -> tuple[datetime, Any]:
    padded = value + "=" * (-len(value) % 4)
    at_raw, id_raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
    at = datetime.fromisoformat(at_raw)
    if at.tzinfo is None:
        raise ValueError("naive")
    return at, id_raw


def decode_cursor(value: str | None) -> Cursor | None:
    if not value:
        return None
    try:
        at, id_raw = _decode_parts(value)
        return Cursor(at=at, id=uuid.UUID(id_raw))
    except (ValueError, TypeError, AttributeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput.field("cursor", "is not a cursor this API issued") from None


def decode_seq_cursor(value: str | None) -> SeqCursor | None:
    """A cursor over (timestamp, integer id), e.g. audit events' bigint keys."""
    if not value:
        return None
    try:
        at, id_raw = _decode_parts(value)
        if not isinstance(id_raw, int) or isinstance(id_raw, bool):
            raise ValueError("not an integer key")
        return SeqCursor(at=at, id=id_raw)
    except (ValueError, TypeError, AttributeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput.field("cursor", "is not a cursor this API issued") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput.field("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def page_after(
    query: Select[Any],
    at_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[Any],
    cursor: Cursor | SeqCursor | None,
    limit: int,
    *,
    newest_first: bool = False,
) -> Select[Any]:
    """Order by (at, id) and fetch one extra row to learn whether another page exists."""
    if cursor is not None:
        if newest_first:
            query = query.where(
                or_(at_column < cursor.at, and_(at_column == cursor.at, id_column < cursor.id))
            )
        else:
            query = query.where(
                or_(at_column > cursor.at, and_(at_column == cursor.at, id_column > cursor.id))
            )
    if newest_first:
        query = query.order_by(at_column.desc(), id_column.desc())
    else:
        query = query.order_by(at_column, id_column)
    return query.limit(limit + 1)


def split_page(rows: list[T], limit: int, key: Any) -> tuple[list[T], str | None]:
    """Trim the look-ahead row and make the next cursor from the last row kept."""
    if len(rows) <= limit:
        return rows, None
    kept = rows[:limit]
    at, row_id = key(kept[-1])
    return kept, encode_cursor(at, row_id)
