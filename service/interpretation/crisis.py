"""Is this text a cry for help? HELP and crisis language in the forms people really type.

A missed crisis text is the worst failure here, so the recogniser leans towards catching;
a false alarm costs a nurse a look. It still has to stay quiet on ordinary replies, or staff
learn to ignore it. Every text goes through one normaliser, and so does every phrase below
(phrases are written plainly, in any spelling; they are normalised once, at import):

1. distress emoji become words (🆘 → "sos"); NUL and other separators become spaces;
2. casefold; "od'd" read as "overdosed" and "20 pills" as "too many pills", then
   apostrophes dropped ("can't" → "cant");
3. words; a few ordinary words that would collapse or snap onto a crisis word ("odd",
   "overdone", ...) are kept as they are;
4. letter runs collapse to one letter ("helpp" → "help", "kill" → "kil", "too" → "to");
5. text-speak expands ("pls" → "please", "cant" → "can not", "wanna" → "want to",
   "kms" → "kill myself", "od" → "overdose", "harmin" → "harming");
6. misspelt crisis words snap to their spelling when rapidfuzz's OSA distance (a swap of
   two letters counts as one edit) is within budget ("sucidal" → "suicidal", "myslef" →
   "myself"). Only long, distinctive words are snapped: snapping whole phrases would turn
   "putting myself first" into "cutting myself" and "got help" into "get help".

Then a phrase matches when it appears word for word, or when it appears with the spaces
taken out of both ("killmyself", "kill my self", "self-harm"), as long as it starts and ends
on word boundaries ("spend it" does not contain "end it"). A single run-together word may
be one edit from a phrase without spaces ("kilmyslef").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

# A request for help in so many words. Matched exactly (after normalisation): these are
# common words, and a fuzzy "get help" would catch "got help".
HELP_PHRASES: tuple[str, ...] = (
    "help me",
    "need help",
    "needs help",
    "get help",
    "want help",
    "please help",
    "someone help",
    "send help",
    "sos",
)
# Crisis language. Data: add a phrase here and a realistic text to the tests.
CRISIS_PHRASES: tuple[str, ...] = (
    "suicide",
    "suicidal",
    "kill myself",
    "killing myself",
    "end my life",
    "ending my life",
    "end it",
    "end it all",
    "ending it",
    "take my life",
    "take my own life",
    "want to die",
    "want to be dead",
    "feel like dying",
    "want it all to end",
    "do not want to wake up",
    "no reason to go on",
    "wish i was dead",
    "wish i were dead",
    "better off dead",
    "better off without me",
    "self harm",
    "self harmed",
    "self harming",
    "harm myself",
    "harming myself",
    "hurt myself",
    "hurting myself",
    "cut myself",
    "cutting myself",
    "cutting again",
    "hang myself",
    "overdose",
    "overdosed",
    "overdosing",
    "took all my pills",
    "taken all my pills",
    "took all my tablets",
    "taken all my tablets",
    "swallowed all my pills",
    "too many pills",
    "too many tablets",
    "too many paracetamol",
    "loads of pills",
    "loads of tablets",
    "all my meds",
    "load of paracetamol",
    "all the paracetamol",
    "whole box of",
    "whole packet of",
    "jump off a bridge",
    "jump in front of a train",
    "can not go on",
    "can not cope",
    "can not do this anymore",
    "can not take it anymore",
    "can not do this no more",
    "do not want to be here",
    "do not want to live",
    "do not want to be alive",
    "no point living",
    "point in living",
    "point of living",
    "done with life",
    "be here any more",
    "no one would miss me",
    "nobody would miss me",
    "want to disappear",
    "no reason to live",
    "nothing to live for",
    "not safe",
    "do not feel safe",
    "unsafe",
    "emergency",
    "crisis",
    # In the first person but worded otherwise.
    "wish i was not alive",
    "wish i was not here",
    "wish i was never born",
    "never been born",
    # Said of someone else: carers text the ward about the person they care for.
    "kill himself",
    "kill herself",
    "kill themselves",
    "killing himself",
    "killing herself",
    "killing themselves",
    "end his life",
    "end her life",
    "end their life",
    "ending his life",
    "ending her life",
    "take his own life",
    "take her own life",
    "take their own life",
    "take his life",
    "take her life",
    "wants to die",
    "wants to be dead",
    "harm himself",
    "harm herself",
    "harmed himself",
    "harmed herself",
    "harming himself",
    "harming herself",
    "hurt himself",
    "hurt herself",
    "hurting himself",
    "hurting herself",
    "cut himself",
    "cut herself",
    "cutting himself",
    "cutting herself",
    "hang himself",
    "hang herself",
    "took all his pills",
    "took all her pills",
    "taken all his pills",
    "taken all her pills",
    "took all his tablets",
    "took all her tablets",
    "load of tablets",
    "load of pills",
    "does not want to live",
    "does not want to be alive",
    "does not want to be here",
)
# Emoji people send instead of words.
DISTRESS_EMOJI: dict[str, str] = {"\U0001f198": "sos"}  # 🆘
TEXT_SPEAK: dict[str, str] = {
    "pls": "please",
    "plz": "please",
    "plse": "please",
    "plez": "please",
    "pleas": "please",
    "hlp": "help",
    "halp": "help",
    "hepl": "help",
    "cant": "can not",
    "cannot": "can not",
    "carnt": "can not",
    "dont": "do not",
    "dnt": "do not",
    "wont": "will not",
    "doesnt": "does not",
    "wasnt": "was not",
    "wanna": "want to",
    "gonna": "going to",
    "im": "i am",
    "ive": "i have",
    "2": "to",  # "want 2 die"; a leading score is read elsewhere, from the raw text
    "sum1": "someone",
    "u": "you",
    "ur": "your",
    "meself": "myself",
    "kms": "kill myself",
    "od": "overdose",
    "oded": "overdosed",
    "anymore": "any more",
}
# Long, distinctive words a misspelling may snap onto.
FUZZY_WORDS: tuple[str, ...] = (
    "suicide",
    "suicidal",
    "overdose",
    "overdosed",
    "overdosing",
    "myself",
)
# Ordinary words that are one collapse or one edit away from a crisis word: kept as typed.
ORDINARY_WORDS = frozenset({"odd", "overdo", "overdone", "overdoing", "overdue"})

# "od'd" (overdosed) is not the word "odd": read it before the apostrophe goes.
_OD_D = re.compile(r"\bod['\u2019]d\b")
# "took 20 tablets": a count of ten or more is too many.
_MANY = re.compile(r"\b[1-9][0-9]+\s*(pills|tablets|paracetamol)\b")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_RUNS = re.compile(r"([a-z])\1+")


def _edit_budget(word: str) -> int:
    return 1 if len(word) < 8 else 2


def _collapse(word: str) -> str:
    return _RUNS.sub(r"\1", word)


@cache
def _fuzzy_words() -> dict[str, str]:
    """Collapsed spelling → the word, for the snapping step."""
    return {_collapse(w): w for w in FUZZY_WORDS}


@cache
def _phrase_words() -> frozenset[str]:
    return frozenset(_collapse(w) for p in CRISIS_PHRASES for w in _APOSTROPHES.sub("", p).split())


@cache
def _text_speak() -> dict[str, str]:
    # Keys collapse like the text does ("plzzz" → "plz").
    return {_collapse(k): v for k, v in TEXT_SPEAK.items()}


def _token(raw: str) -> list[str]:
    if raw in ORDINARY_WORDS:
        return [raw]
    word = _collapse(raw)
    expanded = _text_speak().get(word)
    if expanded is not None:
        return [_collapse(w) for w in expanded.split()]
    if word.endswith("in") and word + "g" in _phrase_words():
        return [word + "g"]  # "cuttin", "harmin"
    if len(word) >= 5 and not word.isdigit():
        snapped = _snap(word)
        if snapped is not None:
            return [snapped]
    return [word]


def _snap(word: str) -> str | None:
    choices = _fuzzy_words()
    if word in choices:
        return word
    found = process.extractOne(word, list(choices), scorer=OSA.distance, score_cutoff=2)
    if found is None:
        return None
    choice, distance, _ = found
    return choice if distance <= _edit_budget(choice) else None


def words(text: str) -> list[str]:
    """The normalised words of a text (steps 1-6 of the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    for emoji, word in DISTRESS_EMOJI.items():
        text = text.replace(emoji, f" {word} ")
    lowered = _MANY.sub(r" too many \1 ", _OD_D.sub(" overdosed ", text.casefold()))
    result: list[str] = []
    for raw in _NOT_WORD.split(_APOSTROPHES.sub("", lowered)):
        if raw:
            result.extend(_token(raw))
    return result


@cache
def _phrases(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each phrase normalised: (with spaces, without)."""
    normalised = [" ".join(words(p)) for p in phrases]
    return tuple((p, p.replace(" ", "")) for p in normalised)


def _contains(tokens: list[str], phrases: tuple[str, ...], *, spaceless: bool) -> bool:
    spaced = " " + " ".join(tokens) + " "
    joined = "".join(tokens)
    # Offsets in `joined` where a word starts or ends: a spaceless match must sit on them.
    bounds = {0}
    offset = 0
    for token in tokens:
        offset += len(token)
        bounds.add(offset)
    for phrase, bare in _phrases(phrases):
        if f" {phrase} " in spaced:
            return True
        if not spaceless:
            continue
        start = joined.find(bare)
        while start != -1:
            if start in bounds and start + len(bare) in bounds:
                return True
            start = joined.find(bare, start + 1)
    return False


def _run_together(tokens: list[str]) -> bool:
    """One long word a single edit away from a crisis phrase with its spaces taken out."""
    bare = [b for _, b in _phrases(CRISIS_PHRASES) if len(b) >= 8]
    for token in tokens:
        if len(token) < 8 or token in ORDINARY_WORDS:
            continue
        if process.extractOne(token, bare, scorer=OSA.distance, score_cutoff=1) is not None:
            return True
    return False


def is_help_request(tokens: list[str]) -> bool:
    """HELP on its own or at the start ("help", "helpp!!", "pls help"), or a help phrase."""
    if not tokens:
        return False
    if tokens[0] == "help" or tokens[:2] == ["please", "help"]:
        return True
    return _contains(tokens, HELP_PHRASES, spaceless=False)


def is_crisis_language(tokens: list[str]) -> bool:
    return _contains(tokens, CRISIS_PHRASES, spaceless=True) or _run_together(tokens)


def is_crisis(text: str) -> bool:
    """Whether a text asks for help or speaks of crisis: staff must be told and the patient
    sent the crisis routes."""
    tokens = words(text)
    return is_help_request(tokens) or is_crisis_language(tokens)
