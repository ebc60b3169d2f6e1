"""The one place a patient- or carer-facing text gets its words (`wording`), and a ward's
own wording per purpose and language: read by its staff, written by its managers and
admins, every save a new version, every change audited.

The patient's language is used with a clear fallback: the exact tag ("pt-BR"), then its
base language ("pt"), then English. At each step a ward's own text wins over the built-in
one; a built-in language shipped for review (Welsh) counts only once the ward confirmed it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MessageTemplate, MessageTemplateLanguage, PromItem, Ward
from service import audit
from service.errors import InvalidInput, NotFound
from service.interpretation.meaning import Keywords
from service.message_templates import engine
from service.message_templates.catalogue import (
    BUILTIN,
    BUILTIN_VERSION,
    ENGLISH,
    KEYWORD_KINDS,
    NEEDS_REVIEW,
    PURPOSES,
    SURVEY_PREFIX,
    Purpose,
)
from service.principal import Principal
from service.sms.outbox import TemplateRef
from service.wards.access import managed_ward, readable_wards

_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")


def canonical(tag: str) -> str:
    """A BCP 47 tag in its usual case: "PT-br" → "pt-BR", "sr-latn" → "sr-Latn"."""
    parts = tag.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


def language_or_422(tag: str) -> str:
    if not _TAG.match(tag.strip()):
        raise InvalidInput.field("language", "must be a language tag such as en, cy, pl or pt-BR")
    return canonical(tag)


def fallbacks(tag: str | None) -> list[str]:
    """Exact tag, then base language, then English (a tag we cannot read is English)."""
    chain: list[str] = []
    if tag and _TAG.match(tag.strip()):
        exact = canonical(tag)
        chain += [exact, exact.split("-")[0]]
    chain.append(ENGLISH)
    return list(dict.fromkeys(chain))


@dataclass(frozen=True)
class Wording:
    body: str
    ref: TemplateRef


@dataclass(frozen=True)
class _Found:
    body: str
    language: str
    source: str
    version: int


async def _ward_rows(
    session: AsyncSession, ward_id: uuid.UUID, purposes: Iterable[str], languages: Iterable[str]
) -> dict[tuple[str, str], MessageTemplate]:
    """The latest version per (purpose, language) the ward has written (a row without a body
    is a withdrawal: the built-in text applies)."""
    rows = await session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.ward_id == ward_id,
            MessageTemplate.purpose.in_(list(purposes)),
            MessageTemplate.language.in_(list(languages)),
        )
        .order_by(MessageTemplate.purpose, MessageTemplate.language, MessageTemplate.version.desc())
        .ext(distinct_on(MessageTemplate.purpose, MessageTemplate.language))
    )
    return {(r.purpose, r.language): r for r in rows}


async def confirmed_languages(session: AsyncSession, ward_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(MessageTemplateLanguage.language).where(MessageTemplateLanguage.ward_id == ward_id)
    )
    return set(rows)


def _builtin(purpose: str, language: str, survey: dict[str, str] | None) -> str | None:
    if purpose.startswith(SURVEY_PREFIX):
        return (survey or {}).get(language)
    return BUILTIN.get(language, {}).get(purpose)


def _choose(
    purpose: str,
    chain: list[str],
    rows: dict[tuple[str, str], MessageTemplate],
    confirmed: set[str],
    survey: dict[str, str] | None,
) -> _Found:
    for language in chain:
        row = rows.get((purpose, language))
        if row is not None and row.body is not None:
            return _Found(row.body, language, "ward", row.version)
        body = _builtin(purpose, language, survey)
        if body is not None and (language not in NEEDS_REVIEW or language in confirmed):
            return _Found(body, language, "builtin", BUILTIN_VERSION)
    raise LookupError(purpose)  # English is built in for every purpose


async def wording(
    session: AsyncSession,
    ward_id: uuid.UUID,
    language: str | None,
    purpose: str,
    values: dict[str, str] | None = None,
    *,
    survey: dict[str, str] | None = None,
) -> Wording:
    """The text to send for `purpose` to someone speaking `language` on this ward, filled
    with `values`, and which template it came from. `survey`: a survey item's built-in
    wording by language (survey items' words are data: `prom_items`)."""
    chain = fallbacks(language)
    rows = await _ward_rows(session, ward_id, [purpose], chain)
    found = _choose(purpose, chain, rows, await confirmed_languages(session, ward_id), survey)
    return Wording(
        engine.fill(found.body, values or {}),
        TemplateRef(purpose, found.language, found.source, found.version),
    )


async def keywords_for(session: AsyncSession, ward_id: uuid.UUID, language: str | None) -> Keywords:
    """The words a reply from someone speaking `language` is read with, beyond English's own:
    the ward's keyword lists and the built-in ones for each language in the fallback chain.
    Built-in lists count whether or not the ward has confirmed that language: reading a
    reply leans towards understanding it (only words we send wait for review)."""
    chain = fallbacks(language)
    purposes = [f"keywords.{k}" for k in KEYWORD_KINDS]
    rows = await _ward_rows(session, ward_id, purposes, chain)
    found: dict[str, list[str]] = {k: [] for k in KEYWORD_KINDS}
    for kind, purpose in zip(KEYWORD_KINDS, purposes, strict=True):
        for language in chain:
            row = rows.get((purpose, language))
            body = row.body if row is not None and row.body is not None else None
            if body is None and language != ENGLISH:
                # English's own words are the interpreter's (shown in the built-in set for
                # reference only): read again as a ward's list, "help" anywhere would count.
                body = BUILTIN.get(language, {}).get(purpose)
            if body:
                found[kind].extend(engine.keyword_list(body))
    return Keywords(**{k: tuple(v) for k, v in found.items()})


# ---- reading and writing a ward's templates -------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One purpose in one language as the API shows it."""

    spec: Purpose
    language: str
    body: str
    version: int
    source: str
    confirmed: bool
    # The language a patient speaking `language` is actually sent (after fallback).
    in_force_language: str
    needs_review: bool


async def survey_specs(session: AsyncSession) -> dict[str, tuple[Purpose, dict[str, str]]]:
    """Survey items as purposes (`survey.<item>` and its discreet variant), with their
    built-in English from `prom_items`."""
    items = await session.scalars(select(PromItem).order_by(PromItem.instrument, PromItem.position))
    result: dict[str, tuple[Purpose, dict[str, str]]] = {}
    for item in items:
        name = f"{SURVEY_PREFIX}{item.key}"
        label = f"Survey {item.instrument.upper()} item {item.position}"
        result[name] = (Purpose(name, label), {ENGLISH: item.prompt})
        result[f"{name}.discreet"] = (
            Purpose(f"{name}.discreet", f"{label} (discreet)"),
            {ENGLISH: item.discreet_prompt},
        )
    return result


def survey_purpose(item_key: str, *, discreet: bool) -> str:
    return f"{SURVEY_PREFIX}{item_key}" + (".discreet" if discreet else "")


async def _spec(session: AsyncSession, purpose: str) -> tuple[Purpose, dict[str, str] | None]:
    spec = PURPOSES.get(purpose)
    if spec is not None:
        return spec, None
    if purpose.startswith(SURVEY_PREFIX):
        found = (await survey_specs(session)).get(purpose)
        if found is not None:
            return found
    raise NotFound("No such message purpose.")


async def readable_ward(session: AsyncSession, caller: Principal, ward_id: uuid.UUID) -> Ward:
    ward = await session.scalar(readable_wards(caller).where(Ward.id == ward_id))
    if ward is None:
        raise NotFound("No such ward.")
    return ward


def _entry(
    spec: Purpose,
    language: str,
    rows: dict[tuple[str, str], MessageTemplate],
    confirmed: set[str],
    survey: dict[str, str] | None,
) -> Entry:
    in_force = _choose(spec.name, fallbacks(language), rows, confirmed, survey)
    row = rows.get((spec.name, language))
    if row is not None and row.body is not None:
        return Entry(spec, language, row.body, row.version, "ward", True, in_force.language, False)
    builtin = _builtin(spec.name, language, survey)
    if builtin is not None:
        review = language in NEEDS_REVIEW
        return Entry(
            spec,
            language,
            builtin,
            BUILTIN_VERSION,
            "builtin",
            not review or language in confirmed,
            in_force.language,
            review and language not in confirmed,
        )
    return Entry(
        spec,
        language,
        in_force.body,
        in_force.version,
        in_force.source,
        True,
        in_force.language,
        False,
    )


async def list_templates(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID
) -> tuple[list[Entry], set[str]]:
    """Every purpose in English, Welsh and each language the ward has written for, with the
    text in force and where it comes from; and the languages the ward confirmed."""
    await readable_ward(session, caller, ward_id)
    specs: dict[str, tuple[Purpose, dict[str, str] | None]] = {
        name: (spec, None) for name, spec in PURPOSES.items()
    }
    specs.update(await survey_specs(session))
    written = set(
        await session.scalars(
            select(MessageTemplate.language).where(MessageTemplate.ward_id == ward_id).distinct()
        )
    )
    languages = sorted({*BUILTIN, *written}, key=lambda x: (x != ENGLISH, x))
    chain_languages = {lang for tag in languages for lang in fallbacks(tag)}
    rows = await _ward_rows(session, ward_id, specs, chain_languages)
    confirmed = await confirmed_languages(session, ward_id)
    entries = [
        _entry(spec, language, rows, confirmed, survey)
        for spec, survey in specs.values()
        for language in languages
    ]
    return entries, confirmed


async def get_entry(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, purpose: str, language: str
) -> Entry:
    await readable_ward(session, caller, ward_id)
    spec, survey = await _spec(session, purpose)
    language = language_or_422(language)
    rows = await _ward_rows(session, ward_id, [purpose], fallbacks(language))
    return _entry(spec, language, rows, await confirmed_languages(session, ward_id), survey)


async def versions(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, purpose: str, language: str
) -> list[MessageTemplate]:
    """Every version the ward saved for this purpose and language, newest first (a version
    without a body is a withdrawal), so the words behind any text sent can be shown."""
    await readable_ward(session, caller, ward_id)
    await _spec(session, purpose)
    language = language_or_422(language)
    rows = await session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.ward_id == ward_id,
            MessageTemplate.purpose == purpose,
            MessageTemplate.language == language,
        )
        .order_by(MessageTemplate.version.desc())
    )
    return list(rows)


async def _latest(
    session: AsyncSession, ward_id: uuid.UUID, purpose: str, language: str
) -> MessageTemplate | None:
    rows = await _ward_rows(session, ward_id, [purpose], [language])
    return rows.get((purpose, language))


async def _add_version(
    session: AsyncSession,
    caller: Principal,
    ward: Ward,
    purpose: str,
    language: str,
    body: str | None,
    now: datetime,
    action: str,
) -> int:
    latest = await _latest(session, ward.id, purpose, language)
    version = (latest.version if latest is not None else 0) + 1
    await session.execute(
        insert(MessageTemplate).values(
            id=uuid.uuid4(),
            ward_id=ward.id,
            purpose=purpose,
            language=language,
            version=version,
            body=body,
            created_by=caller.user_id,
            created_at=now,
        )
    )
    audit.record(
        session,
        caller,
        action,
        at=now,
        ward_id=ward.id,
        object_type="message_template",
        object_id=f"{purpose}/{language}"[:80],
        detail={"purpose": purpose, "language": language, "version": version},
    )
    return version


async def put_template(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    purpose: str,
    language: str,
    body: str,
    now: datetime,
) -> Entry:
    """Save the ward's wording as a new version, once it passes `engine.check` (placeholders,
    discreet words, segment budget); the same words as in force change nothing."""
    ward = await managed_ward(session, caller, ward_id, "message_template.update", now, lock=True)
    spec, survey = await _spec(session, purpose)
    language = language_or_422(language)
    checked = engine.check(spec, body)
    latest = await _latest(session, ward.id, purpose, language)
    if latest is None or latest.body != checked.body:
        await _add_version(
            session, caller, ward, purpose, language, checked.body, now, "message_template.update"
        )
    rows = await _ward_rows(session, ward.id, [purpose], fallbacks(language))
    return _entry(spec, language, rows, await confirmed_languages(session, ward.id), survey)


async def delete_template(
    session: AsyncSession,
    caller: Principal,
    ward_id: uuid.UUID,
    purpose: str,
    language: str,
    now: datetime,
) -> None:
    """Withdraw the ward's wording (a new, empty version): the built-in text applies again."""
    ward = await managed_ward(session, caller, ward_id, "message_template.delete", now, lock=True)
    await _spec(session, purpose)
    language = language_or_422(language)
    latest = await _latest(session, ward.id, purpose, language)
    if latest is None or latest.body is None:
        raise NotFound("This ward has no wording of its own for this purpose and language.")
    await _add_version(
        session, caller, ward, purpose, language, None, now, "message_template.delete"
    )


async def confirm_language(
    session: AsyncSession, caller: Principal, ward_id: uuid.UUID, language: str, now: datetime
) -> datetime:
    """A manager confirms a built-in language shipped for review (a fluent speaker read it):
    the ward's patients who speak it get it from now on. Returns when it was confirmed."""
    ward = await managed_ward(
        session, caller, ward_id, "message_template.confirm_language", now, lock=True
    )
    language = language_or_422(language)
    if language not in NEEDS_REVIEW:
        raise InvalidInput.field(
            "language", "only a built-in language shipped for review needs confirming"
        )
    existing = await session.get(MessageTemplateLanguage, (ward.id, language))
    if existing is not None:
        return existing.confirmed_at
    session.add(
        MessageTemplateLanguage(
            ward_id=ward.id, language=language, confirmed_by=caller.user_id, confirmed_at=now
        )
    )
    await session.flush()
    audit.record(
        session,
        caller,
        "message_template.confirm_language",
        at=now,
        ward_id=ward.id,
        object_type="message_template_language",
        object_id=language,
        detail={"language": language},
    )
    return now


def preview(spec: Purpose, body: str) -> engine.Checked:
    """The body checked and filled with the sample patient's values (nothing saved)."""
    return engine.check(spec, body)
