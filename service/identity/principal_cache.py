"""Who a token belongs to, kept between requests and forgotten the moment it changes.

Reading the user on every request is what makes a deactivation, a sign-out or a role change
take effect at once; it is also a round trip per request. The cache keeps that row per token
(jti) and forgets it when PostgreSQL says it changed:

* Other processes' changes arrive by `LISTEN homeward_principals` (triggers on `users`,
  `sessions` and `revoked_tokens`, migration 31), milliseconds after they commit.
* This process's own commits are forgotten synchronously, right after the commit returns
  (SQLAlchemy session events below), so a request that follows a deactivation in the same
  process can never be served from the old row.
* A fill races a change: a row read before a change committed may only be stored if nothing
  was forgotten since the read began (a generation counter), else it is dropped.
* While the listener is not connected, news may be missed: the cache is empty and unused
  (every request reads the database) until it is listening again. Entries also expire after
  `MAX_AGE_SECONDS`, a bound on any staleness a silent failure could cause.
"""

from __future__ import annotations

import re
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from db.engine import AUTOCOMMIT_INFO_KEY
from db.models import RevokedToken, User, UserSession
from service.principal import Role

CHANNEL = "homeward_principals"
MAX_AGE_SECONDS = 60.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The principal query's row for one token, as authentication reads it."""

    id: uuid.UUID
    role: Role
    ward_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    active: bool
    token_version: int
    must_change_password: bool
    revoked: bool
    last_seen: datetime | None

    @classmethod
    def of(cls, row: Any) -> Snapshot:
        return cls(
            id=row.id,
            role=row.role,
            ward_id=row.ward_id,
            agency_id=row.agency_id,
            active=row.active,
            token_version=row.token_version,
            must_change_password=row.must_change_password,
            revoked=row.revoked,
            last_seen=row.last_seen,
        )


class PrincipalCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, Snapshot]] = {}
        self._generation = 0
        self._listening = False
        self.hits = 0
        self.misses = 0
        _live_caches.add(self)

    @property
    def listening(self) -> bool:
        return self._listening

    @property
    def size(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Read before a fill's query; `put` refuses the row if anything was forgotten since."""
        return self._generation

    def get(self, token_id: str, user_id: uuid.UUID) -> Snapshot | None:
        if not self._listening:
            return None
        found = self._entries.get(token_id)
        if found is None:
            self.misses += 1
            return None
        stored_at, snapshot = found
        if snapshot.id != user_id or self._clock() - stored_at > MAX_AGE_SECONDS:
            del self._entries[token_id]
            self.misses += 1
            return None
        self.hits += 1
        return snapshot

    def put(self, token_id: str, snapshot: Snapshot, generation: int) -> None:
        if not self._listening or generation != self._generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            # Oldest first (dicts keep insertion order): one eviction per fill at the cap.
            del self._entries[next(iter(self._entries))]
        self._entries[token_id] = (self._clock(), snapshot)

    def forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()

    def forget_token(self, token_id: str) -> None:
        self._generation += 1
        self._entries.pop(token_id, None)

    def forget_user(self, user_id: uuid.UUID) -> None:
        self._generation += 1
        for token_id in [t for t, (_, s) in self._entries.items() if s.id == user_id]:
            del self._entries[token_id]

    def heard(self, payload: str) -> None:
        """One notification: `user:<id>`, `token:<jti>` or `*` (anything else: forget all)."""
        kind, _, key = payload.partition(":")
        if kind == "token" and key:
            self.forget_token(key)
            return
        if kind == "user":
            try:
                self.forget_user(uuid.UUID(key))
                return
            except ValueError:
                pass
        self.forget_all()

    def listening_started(self) -> None:
        """LISTEN is in place: from now on no change goes unheard, so the cache may serve."""
        self.forget_all()
        self._listening = True

    def listening_stopped(self) -> None:
        """The listener is gone: changes may be missed, so nothing cached may be trusted."""
        self._listening = False
        self.forget_all()


# Every cache in this process; a commit here that touched the principal tables empties them.
_live_caches: weakref.WeakSet[PrincipalCache] = weakref.WeakSet()

_PRINCIPAL_CLASSES = (User, UserSession, RevokedToken)
_PRINCIPAL_TABLES = frozenset(cls.__table__.name for cls in _PRINCIPAL_CLASSES)  # type: ignore[attr-defined]
_WRITE_TEXT = re.compile(
    r"\b(?:insert\s+into|update|delete\s+from|truncate)\s+(?:table\s+)?(?:only\s+)?"
    r"(?:\"?public\"?\.)?\"?(?:users|sessions|revoked_tokens)\b",
    re.IGNORECASE,
)
_CHANGED_KEY = "homeward.principals_changed"
# A write that changes one token's row only says so as an execution option holding the jti:
# its commit then forgets that token alone. The session touch (once a minute per signed-in
# session) is most of this process's writes to these tables; each one emptied the whole cache.
TOKEN_OPTION = "homeward_principal_token"


def _note_change(session: Session, token_id: str | None = None) -> None:
    """Remember, until the commit, what to forget: one token, or everything (None)."""
    session.info.setdefault(_CHANGED_KEY, set()).add(token_id)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in _PRINCIPAL_TABLES or (name is None and _WRITE_TEXT.search(str(state.statement))):
        token_id = state.execution_options.get(TOKEN_OPTION)
        _note_change(state.session, token_id if isinstance(token_id, str) else None)


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _flush: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _PRINCIPAL_CLASSES):
            _note_change(session)
            return


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    # After the commit returned: a fill that starts from here reads the new rows. A savepoint's
    # release commits nothing yet: its notes wait for the transaction's own commit.
    if session.in_nested_transaction():
        return
    changed: set[str | None] = session.info.pop(_CHANGED_KEY, set())
    if not changed:
        return
    for cache in list(_live_caches):
        if None in changed:
            cache.forget_all()
        else:
            for token_id in changed:
                if token_id is not None:
                    cache.forget_token(token_id)


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    if session.info.get(AUTOCOMMIT_INFO_KEY):
        # Each statement committed as it ran: the rollback undid none of the noted writes.
        _on_commit(session)
    elif not session.in_nested_transaction():
        # Rolled back to a savepoint: the outer transaction's notes (and, harmlessly, the
        # savepoint's own) stay until it ends.
        session.info.pop(_CHANGED_KEY, None)
