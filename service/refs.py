"""The short reference staff alerts quote and the ward board shows and finds.

An escalation's reference is the first 8 hex digits of its id, written `3F2A-9C1B`: stable
for the escalation's life, with no column to keep in step, and found through the primary
key, since every id starting with those digits lies in one range of uuids. Ids are random
(uuid4, `db.base.new_id`), so references are spread evenly; two escalations may still share
one now and then, which is why a search lists every match and alerts carry the board link.
"""

from __future__ import annotations

import re
import uuid

_REF = re.compile(r"[0-9a-f]{8}")


def escalation_ref(escalation_id: uuid.UUID) -> str:
    digits = escalation_id.hex[:8].upper()
    return f"{digits[:4]}-{digits[4:]}"


def parse_ref(text: str) -> str | None:
    """The 8 hex digits of a reference as people type it ("3f2a 9c1b", "3F2A-9C1B",
    "ref 3F2A9C1B"), or None when it is not one."""
    squeezed = re.sub(r"[\s\-]", "", text.strip().lower())
    squeezed = squeezed.removeprefix("ref")
    return squeezed if _REF.fullmatch(squeezed) else None


def id_range(digits: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The lowest and highest ids whose reference is `digits` (from parse_ref)."""
    return uuid.UUID(digits + "0" * 24), uuid.UUID(digits + "f" * 24)
