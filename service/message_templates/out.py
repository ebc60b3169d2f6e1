"""An entry as the API and the pages show it (one shape for both)."""

from __future__ import annotations

from service.errors import InvalidInput
from service.message_templates import engine
from service.message_templates.catalogue import REVIEW_NOTE
from service.message_templates.schemas import TemplateOut
from service.message_templates.service import Entry


def to_out(entry: Entry) -> TemplateOut:
    spec = entry.spec
    sample: str | None = None
    segments: int | None = None
    encoding = None
    if not spec.keywords and entry.body:
        try:
            checked = engine.check(spec, entry.body)
        except InvalidInput:
            checked = None  # a body saved before a rule tightened: shown, not costed
        if checked is not None and checked.segments is not None:
            sample, segments, encoding = (
                checked.sample,
                checked.segments.segments,
                checked.segments.encoding,
            )
    return TemplateOut(
        purpose=spec.name,
        language=entry.language,
        body=entry.body,
        version=entry.version,
        source="ward" if entry.source == "ward" else "builtin",
        confirmed=entry.confirmed,
        label=spec.label,
        in_force_language=entry.in_force_language,
        review_note=REVIEW_NOTE if entry.needs_review else None,
        placeholders=list(spec.placeholders),
        required_placeholders=list(spec.required),
        discreet=spec.discreet,
        sample=sample,
        segments=segments,
        encoding=encoding,
    )
