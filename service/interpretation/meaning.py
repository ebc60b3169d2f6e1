"""What a patient's text means. Pure functions: the text in, an interpretation out.

Order of precedence: a request for help (HELP or crisis language: `crisis.is_crisis`)
first, then opt-out (STOP and its family, alone or with polite words only: "stop please",
"Stop. Thank you"), then opt-in (START/UNSTOP/YES), then a score 1-5, then OK/FINE, else
free text. A message like "stop smoking group was good" is free text: STOP only counts
when nothing but polite words or "texting me"-style objects surround it.

Replies in the patient's language: the caller hands in the ward's `Keywords` for it (data,
so this stays a leaf that queries nothing); English is always recognised as well, since
carriers act on English STOP words whatever the language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from service.interpretation.crisis import is_crisis

Kind = Literal["score", "ok", "help", "stop", "start", "free_text"]

STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
START_WORDS = frozenset({"start", "unstop", "yes"})
POLITE_WORDS = frozenset(
    {
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "thankyou",
        "you",
        "thx",
        "ta",
        "cheers",
        "now",
        "x",
        "xx",
        "xxx",
        "sorry",
        "kindly",
        "ok",
        "okay",
    }
)
# "stop texting me", "unsubscribe me", "stop all messages"
OPT_OUT_OBJECTS = frozenset(
    {
        "me",
        "all",
        "texting",
        "texts",
        "text",
        "messaging",
        "messages",
        "message",
        "sending",
        "these",
        "this",
        "contacting",
        "contact",
        "sms",
    }
)
OK_WORDS = frozenset({"ok", "okay", "k", "fine", "good", "alright", "allright", "great", "well"})
OK_FILLERS = frozenset({"im", "i", "am", "all", "doing", "feeling", "pretty", "very", "really"})
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}

_SCORE = re.compile(r"^\s*([1-5])(?:\s*(?:/|out of)\s*5)?(?![0-9]|[.,][0-9])")


@dataclass(frozen=True)
class Interpretation:
    kind: Kind
    score: int | None = None
    # The opt-in word, so "yes" can still be an answer when the patient never opted out.
    word: str | None = None


@dataclass(frozen=True)
class Keywords:
    """Words and phrases of another language, read like their English kind: a HELP word or
    a crisis phrase anywhere in the text asks for help (a missed cry for help is the worst
    failure; a false alarm costs a nurse a look); a text that is only a
    STOP, START or OK word (polite English words aside) is that."""

    help: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    ok: tuple[str, ...] = ()
    crisis: tuple[str, ...] = ()


NO_KEYWORDS = Keywords()


def folded(text: str) -> list[str]:
    """Words of any script, casefolded and without accents ("POMÓŻ" → "pomoz"), so a ward's
    list matches what phones type with or without them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"\w+", bare)


def _has_phrase(tokens: list[str], phrases: tuple[str, ...]) -> bool:
    spaced = " " + " ".join(tokens) + " "
    return any(
        wanted and f" {wanted} " in spaced for wanted in (" ".join(folded(p)) for p in phrases)
    )


def _is_only(tokens: list[str], phrases: tuple[str, ...]) -> str | None:
    core = " ".join(t for t in tokens if t not in POLITE_WORDS)
    for phrase in phrases:
        if core and core == " ".join(folded(phrase)):
            return core
    return None


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped ("can't" → "cant"), "opt out" → "optout"."""
    lowered = text.casefold().replace("\u2019", "'").replace("'", "")
    tokens = re.findall(r"[a-z0-9]+", lowered)
    joined: list[str] = []
    for token in tokens:
        if joined and joined[-1] == "opt" and token == "out":
            joined[-1] = "optout"
        else:
            joined.append(token)
    return joined


def is_stop(tokens: list[str]) -> bool:
    core = [t for t in tokens if t not in POLITE_WORDS]
    if not core or core[0] not in STOP_WORDS:
        return False
    return all(t in STOP_WORDS or t in OPT_OUT_OBJECTS for t in core[1:])


def start_word(tokens: list[str]) -> str | None:
    core = [t for t in tokens if t not in POLITE_WORDS]
    if len(core) == 1 and core[0] in START_WORDS:
        return core[0]
    return None


def score_of(text: str, tokens: list[str]) -> int | None:
    match = _SCORE.match(text)
    if match:
        return int(match.group(1))
    core = [t for t in tokens if t not in POLITE_WORDS]
    if len(core) == 1 and core[0] in NUMBER_WORDS:
        return NUMBER_WORDS[core[0]]
    return None


def is_ok(tokens: list[str]) -> bool:
    core = [t for t in tokens if t not in POLITE_WORDS or t in OK_WORDS]
    if not core or not any(t in OK_WORDS for t in core):
        return False
    return all(t in OK_WORDS or t in OK_FILLERS for t in core)


def interpret(text: str, extra: Keywords = NO_KEYWORDS) -> Interpretation:
    tokens = words(text)
    other = folded(text)
    score = score_of(text, tokens)
    if is_crisis(text) or _has_phrase(other, extra.help) or _has_phrase(other, extra.crisis):
        return Interpretation("help", score=score)
    if is_stop(tokens) or _is_only(other, extra.stop):
        return Interpretation("stop")
    opt_in = start_word(tokens) or _is_only(other, extra.start)
    if opt_in is not None:
        return Interpretation("start", word=opt_in)
    if score is not None:
        return Interpretation("score", score=score)
    if is_ok(tokens) or _is_only(other, extra.ok):
        return Interpretation("ok")
    return Interpretation("free_text")
