from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UUIDPrimaryKey


class Ward(UUIDPrimaryKey, Base):
    __tablename__ = "wards"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    crisis_message: Mapped[str] = mapped_column(Text)
    # {"ack_minutes": {"urgent": [l1, l2, l3], "routine": [...]},
    #  "resolve_minutes": {"urgent": m, "routine": m}, "on_call_phone", "crisis_phone", ...}
    escalation_policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
