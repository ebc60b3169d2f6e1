from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    # Checked by the service (placeholders, discreet words, segment budget); the schema's
    # bound only stops an absurd body before it is read any further.
    body: Annotated[str, msgspec.Meta(max_length=5_000)]


class TemplateOut(msgspec.Struct):
    purpose: str
    language: str
    body: str
    # Built-in texts have their own version number; a ward's start at 1 and go up per save.
    version: int
    source: Literal["builtin", "ward"]
    # False for a built-in language shipped for review that the ward has not confirmed.
    confirmed: bool
    label: str
    # What a patient speaking `language` is actually sent (after fallback: exact tag, base
    # language, English; an unconfirmed language falls back).
    in_force_language: str
    # "Needs review by a fluent speaker before use." until a manager confirms the language.
    review_note: str | None
    placeholders: list[str]
    required_placeholders: list[str]
    discreet: bool
    # The body filled with a sample patient's values, and what it costs in SMS segments.
    sample: str | None
    segments: int | None
    encoding: Literal["GSM-7", "UCS-2"] | None


class TemplateList(msgspec.Struct):
    items: list[TemplateOut]
    # Built-in languages shipped for review that this ward has confirmed.
    confirmed_languages: list[str]
    next_cursor: str | None = None


class TemplateVersionOut(msgspec.Struct):
    version: int
    # None: the ward withdrew its wording with this version (the built-in text applied).
    body: str | None
    created_at: datetime
    created_by: uuid.UUID | None


class TemplateVersionList(msgspec.Struct):
    items: list[TemplateVersionOut]
    next_cursor: str | None = None


class LanguageConfirmationOut(msgspec.Struct):
    language: str
    confirmed: bool
    confirmed_at: datetime
