"""Checking and filling a template: `string.Template`'s `$name` placeholders, nothing more
(no expressions, no attribute access: a ward's words cannot run anything). Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Template

from service.discreet import is_discreet_safe
from service.errors import InvalidInput
from service.message_templates.catalogue import MAX_SEGMENTS, Purpose
from service.message_templates.segments import SegmentCount, count

MAX_KEYWORDS = 60
MAX_KEYWORD_CHARS = 60


@dataclass(frozen=True)
class Checked:
    """A body that may be saved, and what its sample text costs."""

    body: str
    sample: str
    segments: SegmentCount | None


def placeholders(body: str) -> list[str]:
    return Template(body).get_identifiers()


def _refuse(message: str) -> InvalidInput:
    return InvalidInput.field("body", message)


def keyword_list(body: str) -> tuple[str, ...]:
    """A keyword template's words and phrases: one per line or comma-separated."""
    return tuple(w.strip() for w in re.split(r"[,\n]", body) if w.strip())


def check(spec: Purpose, body: str) -> Checked:
    """The body, if a ward may save it for this purpose; else InvalidInput naming why."""
    body = body.strip()
    if not body:
        raise _refuse("must not be blank")
    if spec.keywords:
        words = keyword_list(body)
        if not words:
            raise _refuse("must list at least one word or phrase")
        if len(words) > MAX_KEYWORDS:
            raise _refuse(f"must list at most {MAX_KEYWORDS} words or phrases")
        if any(len(w) > MAX_KEYWORD_CHARS for w in words):
            raise _refuse(f"each word or phrase must be at most {MAX_KEYWORD_CHARS} characters")
        return Checked(", ".join(words), ", ".join(words), None)
    template = Template(body)
    if not template.is_valid():
        raise _refuse("a $ must start a placeholder such as $question (write $$ for a dollar sign)")
    used = template.get_identifiers()
    for name in used:
        if name not in spec.placeholders:
            allowed = ", ".join(f"${p}" for p in spec.placeholders) or "none"
            raise _refuse(f"unknown placeholder ${name} (this text may use: {allowed})")
    for name in spec.required:
        if name not in used:
            raise _refuse(f"missing required placeholder ${name}")
    if spec.discreet and not is_discreet_safe(template.safe_substitute(dict.fromkeys(used, " "))):
        raise _refuse("a discreet text must not name health services or care")
    sample = template.substitute(spec.sample)
    segments = count(sample)
    if segments.segments > MAX_SEGMENTS:
        raise _refuse(
            f"is {segments.segments} SMS segments ({segments.encoding}) with sample values; "
            f"at most {MAX_SEGMENTS} are allowed"
        )
    return Checked(body, sample, segments)


def fill(body: str, values: dict[str, str]) -> str:
    """The text to send. Placeholders the values do not cover are left as typed (a check
    has already refused unknown ones)."""
    return Template(body).safe_substitute(values)
