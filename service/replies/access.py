"""Which replies to read a caller may read, decided in the query (see `service`)."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from db.models import ReplyToRead
from service.principal import Principal


def readable_replies(caller: Principal) -> Select[ReplyToRead]:
    """Replies the caller may read: ward staff their ward's; nobody's for anyone else."""
    if caller.staff_ward is None:
        return select(ReplyToRead).where(false())
    return select(ReplyToRead).where(ReplyToRead.ward_id == caller.staff_ward)
