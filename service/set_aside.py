"""Rows a sweep has set aside after failing on them again and again (a leaf: imports only db).

Every sweep's claim adds `not_set_aside(Model)`, so a poison row stops being claimed, and so
stops filling the batch that healthy rows are waiting behind. The rows are counted and set
aside in `service.health.poison`; this module only answers "is it set aside".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, select

from db.models import SweepItemFailure


def item_kind(model: Any) -> str:
    """A swept row's kind: its table's name (each table's ids are unique within it)."""
    return str(model.__tablename__)


def not_set_aside(model: Any) -> ColumnElement[bool]:
    """For a claim's WHERE: the row has not been set aside. A primary-key probe per row."""
    return ~exists(
        select(SweepItemFailure.item_id).where(
            SweepItemFailure.item_kind == item_kind(model),
            SweepItemFailure.item_id == model.id,
            SweepItemFailure.set_aside_at.is_not(None),
        )
    )
