"""Inbound texts that arrive while PostgreSQL is down: kept on local disk, replayed once.

Twilio does not retry an inbound message by default, so a webhook answered 503 loses the
patient's text. When the database cannot be reached, the webhook (after checking Twilio's
signature) writes the text to this spool and answers 200: with the national crisis routes,
in discreet words, when the text is HELP or crisis language (who sent it, and so their
discreet setting and their ward's number, cannot be known without the database), else with
nothing. Once the database answers again the text goes through the usual inbound handling
(`service.conversation.inbound.handle_inbound`) and its file is deleted only after that
transaction committed.

Exactly once: one file per MessageSid (a Twilio retry during the outage finds its file), and
the inbound path is keyed by MessageSid, so a replay that crashed between commit and delete,
or two processes replaying the same file, has no second effect. Files are claimed with an
exclusive `flock`, so processes on one host do not both work on one file.

Durability: the text is written to a temporary file, fsynced, renamed into place and the
folder fsynced before the webhook answers 200. A crash mid-write leaves only a temporary
file (never replayed; Twilio got no 200 for it); one older than an hour is removed.

Order: texts replay oldest first, and while any wait, a new text joins the queue behind
them instead of overtaking (a START must not be handled before the STOP it follows).

Limits: the spool is this host's disk. Several API hosts each keep their own; each replays
its own (a drain loop in every API process, the webhook before a new text, and any worker
sharing its data folder). Bodies are patient data: files are 0600 in a 0700 folder and
never logged.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import database_unreachable
from service.conversation import inbound
from service.interpretation.meaning import interpret
from service.settings import Settings
from service.standards import DISCREET_CRISIS_ROUTES

log = logging.getLogger("homeward.conversation.spool")

SPOOL_KEY = "inbound_spool"
SPOOL_FOLDER = "inbound-spool"
STALE_TEMPORARY_SECONDS = 3600
_SAFE_SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


@dataclass(frozen=True)
class SpooledText:
    message_sid: str
    from_number: str
    to_number: str | None
    body: str
    received_at: datetime
    # What the webhook answered in TwiML while the database was down (None: nothing).
    answered: str | None


def outage_answer(body: str) -> str | None:
    """The TwiML answer while the database is down: the crisis routes for HELP or crisis
    words, in words fit for anyone's phone (no service named; every number kept)."""
    return DISCREET_CRISIS_ROUTES if interpret(body).kind == "help" else None


class InboundSpool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_settings(cls, settings: Settings) -> InboundSpool:
        """This host's spool: a folder in HOMEWARD_DATA_DIR."""
        return cls(settings.data_dir / SPOOL_FOLDER)

    def _path(self, message_sid: str) -> Path:
        # Twilio's sids are letters and digits; anything else still gets one stable name.
        name = (
            message_sid
            if _SAFE_SID.match(message_sid)
            else uuid.uuid5(uuid.NAMESPACE_URL, message_sid).hex
        )
        return self.directory / f"{name}.json"

    def keep(self, text: SpooledText) -> Path:
        """Write the text durably (fsynced file and folder) before the webhook answers."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self._path(text.message_sid)
        if final.exists():
            return final  # Twilio retried during the outage: the first copy stands
        temporary = self.directory / f".{final.stem}.{uuid.uuid4().hex}.tmp"
        record = {**asdict(text), "received_at": text.received_at.isoformat()}
        data = json.dumps(record).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
        self._sync_folder()
        return final

    def pending(self) -> list[Path]:
        """Spooled texts, oldest first (a STOP before the START that followed it)."""
        if not self.directory.is_dir():
            return []
        found: list[tuple[str, int, str, Path]] = []
        for path in self.directory.glob("*.json"):
            try:
                received = json.loads(path.read_text())["received_at"]
                written = path.stat().st_mtime_ns  # ties in received time: as written
            except FileNotFoundError:
                continue  # replayed and deleted meanwhile
            except (OSError, ValueError, KeyError):
                # Written whole or not at all (renamed into place), so this should not be.
                log.error("unreadable spooled text left in place", extra={"file": path.name})
                continue
            found.append((received, written, path.name, path))
        return [p for *_, p in sorted(found)]

    @contextmanager
    def claim(self, path: Path) -> Iterator[SpooledText | None]:
        """The text in `path`, held with an exclusive lock; None if another process holds
        it or it is gone (already replayed)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            if not path.exists():
                yield None  # replayed and deleted between our open and our lock
                return
            with os.fdopen(os.dup(fd)) as handle:
                record = json.load(handle)
            record["received_at"] = datetime.fromisoformat(record["received_at"])
            yield SpooledText(**record)
        finally:
            os.close(fd)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._sync_folder()

    def remove_stale_temporaries(self) -> None:
        if not self.directory.is_dir():
            return
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        for path in self.directory.glob(".*.tmp"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                pass

    def _sync_folder(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Replay:
    handled: int
    # Texts still wait their turn (the database unreachable, the time budget spent, or
    # another process replaying one right now): a new text must join them, not overtake.
    # A text that failed for any other reason does not hold the others back.
    held_up: bool


async def replay(
    session: AsyncSession, spool: InboundSpool, now: datetime, *, budget: float | None = None
) -> Replay:
    """Hand each spooled text, oldest first, to the usual inbound handling, one transaction
    each, and delete its file after the commit. A text that fails stays for the next replay
    and the rest go on; once the database proves unreachable, or after `budget` seconds,
    the rest wait for the next replay."""
    spool.remove_stale_temporaries()
    stop_at = time.monotonic() + budget if budget is not None else None
    handled = 0
    for path in spool.pending():
        if stop_at is not None and time.monotonic() > stop_at:
            return Replay(handled, held_up=True)
        with spool.claim(path) as text:
            if text is None:
                if path.exists():
                    return Replay(handled, held_up=True)  # another process is on it
                continue
            try:
                await inbound.handle_inbound(
                    session,
                    message_sid=text.message_sid,
                    from_number=text.from_number,
                    to_number=text.to_number,
                    body=text.body,
                    now=now,
                    received_at=text.received_at,
                    replayed=inbound.Replayed(answered=text.answered),
                )
                await session.commit()
            except Exception as exc:
                try:
                    await session.rollback()
                except Exception:
                    log.debug("rollback after a failed replay failed")
                if database_unreachable(exc):
                    log.warning("spool replay waits: database unreachable")
                    return Replay(handled, held_up=True)
                log.error(
                    "spooled text failed; left for the next replay",
                    extra={"file": path.name, "exc_class": type(exc).__name__},
                )
                continue
            spool.remove(path)
            handled += 1
    return Replay(handled, held_up=False)
