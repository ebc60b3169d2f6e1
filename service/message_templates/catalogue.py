"""Every purpose a patient- or carer-facing text is worded for, its placeholders, and the
built-in wording: English (the words the service has always sent) and Welsh (shipped for a
fluent speaker to review: not used on a ward until its manager confirms Welsh).

Placeholders are `string.Template`'s `$name`. A purpose ending `.discreet` is the variant
for a patient with discreet messages on: its own words must pass `service.discreet`.
Keyword purposes (`keywords.*`) hold words and phrases, one per line or comma-separated,
that a reply in that language is read as; English is always recognised as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.interpretation.crisis import HELP_PHRASES
from service.interpretation.meaning import OK_WORDS, START_WORDS, STOP_WORDS
from service.standards import CRISIS_ROUTES

ENGLISH = "en"
# Built-in languages shipped for review: a ward uses them only once a manager confirms.
NEEDS_REVIEW = frozenset({"cy"})
REVIEW_NOTE = "Needs review by a fluent speaker before use."
# The most a template may cost, rendered with its sample values (a staff text's own cap is
# four segments too: service.conversation.messages).
MAX_SEGMENTS = 4
KEYWORD_KINDS = ("help", "stop", "start", "ok", "crisis")

_QUESTION = "How are you feeling today?"
_SAMPLE = {
    "question": _QUESTION,
    "crisis_routes": CRISIS_ROUTES + " Ward: 020 7946 0000.",
    "ward": "Oak Ward",
    "phone": "020 7946 0000",
    "message": "Your appointment is on Tuesday at 10:00.",
}


@dataclass(frozen=True)
class Purpose:
    name: str
    label: str
    placeholders: tuple[str, ...] = ()
    # Each must appear: a text without it would fail the person it is sent to.
    required: tuple[str, ...] = ()
    keywords: bool = False
    sample: dict[str, str] = field(default_factory=dict)

    @property
    def discreet(self) -> bool:
        return self.name.endswith(".discreet")


def _pair(
    name: str, label: str, placeholders: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> list[Purpose]:
    sample = {p: _SAMPLE[p] for p in placeholders}
    return [
        Purpose(name, label, placeholders, required, sample=sample),
        Purpose(f"{name}.discreet", f"{label} (discreet)", placeholders, required, sample=sample),
    ]


PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in [
        *_pair("checkin.prompt", "Check-in prompt", ("question",), ("question",)),
        *_pair("checkin.reminder", "Check-in reminder", ("question",), ("question",)),
        # Asked when the patient's plan has no question of its own (the plan's is sent as written).
        *_pair("checkin.question", "Default check-in question"),
        *_pair("optout.confirmation", "Opt-out confirmation"),
        *_pair("optin.confirmation", "Opt-in confirmation"),
        *_pair("crisis.reply", "Crisis reply", ("crisis_routes",), ("crisis_routes",)),
        Purpose(
            "carer.notice",
            "Carer notice",
            ("ward", "phone"),
            ("phone",),
            sample={"ward": _SAMPLE["ward"], "phone": _SAMPLE["phone"]},
        ),
        Purpose(
            "carer.notice.discreet",
            "Carer notice (discreet)",
            ("phone",),
            ("phone",),
            sample={"phone": _SAMPLE["phone"]},
        ),
        *_pair("staff.signature", "Staff-written text (signature)", ("message",), ("message",)),
        *[
            Purpose(f"keywords.{k}", f"Reply words: {k.upper()}", keywords=True)
            for k in KEYWORD_KINDS
        ],
    ]
}
SURVEY_PREFIX = "survey."

_EN = {
    "checkin.prompt": (
        "Homeward check-in: $question Reply with a number from 1 (very low) to 5 (very well), "
        "or a word. Reply HELP if you need support now. Reply STOP to opt out."
    ),
    "checkin.prompt.discreet": (
        "Hi. $question Reply with a number from 1 (not good) to 5 (very good), "
        "or a word. Reply HELP if you need support. Reply STOP to stop these texts."
    ),
    "checkin.reminder": (
        "Reminder from your Homeward care team: $question Reply with a number from 1 (very "
        "low) to 5 (very well), or a word. Reply HELP if you need support now. Reply STOP to "
        "opt out."
    ),
    "checkin.reminder.discreet": (
        "Just a reminder. $question Reply with a number from 1 (not good) to 5 (very good), "
        "or a word. Reply HELP if you need support. Reply STOP to stop these texts."
    ),
    "checkin.question": _QUESTION,
    "checkin.question.discreet": "How are things today?",
    "optout.confirmation": (
        "Homeward: you will get no more check-in texts from your care team. "
        "Reply START to get them again."
    ),
    "optout.confirmation.discreet": (
        "You will get no more texts from this number. Reply START to get them again."
    ),
    "optin.confirmation": (
        "Homeward: your check-in texts are back on. Reply STOP at any time to opt out."
    ),
    "optin.confirmation.discreet": (
        "Texts from this number are back on. Reply STOP at any time to stop them."
    ),
    "crisis.reply": "$crisis_routes",
    "crisis.reply.discreet": "$crisis_routes",
    "carer.notice": "Homeward: please contact $ward on $phone.",
    # No ward, no service, nothing clinical; the number the carer rings is the ward's, and
    # the person who answers says why.
    "carer.notice.discreet": (
        "Hello. Please call $phone as soon as you can, about someone close to you."
    ),
    "staff.signature": "$message",
    "staff.signature.discreet": "$message",
    # Shown for reference: these are recognised whatever the ward writes.
    "keywords.help": ", ".join(["help", *HELP_PHRASES]),
    "keywords.stop": ", ".join(sorted(STOP_WORDS)),
    "keywords.start": ", ".join(sorted(START_WORDS)),
    "keywords.ok": ", ".join(sorted(OK_WORDS)),
    "keywords.crisis": "",
}

# Welsh, drafted for review (REVIEW_NOTE): never sent until a ward's manager confirms it.
_CY = {
    "checkin.prompt": (
        "Gwiriad Homeward: $question Atebwch gyda rhif o 1 (isel iawn) i 5 (da iawn), neu air. "
        "Atebwch HELP os oes angen cymorth arnoch nawr. Atebwch STOP i optio allan."
    ),
    "checkin.prompt.discreet": (
        "Helo. $question Atebwch gyda rhif o 1 (ddim yn dda) i 5 (da iawn), neu air. "
        "Atebwch HELP os oes angen cymorth arnoch. Atebwch STOP i atal y negeseuon hyn."
    ),
    "checkin.reminder": (
        "Nodyn atgoffa gan eich tîm gofal Homeward: $question Atebwch gyda rhif o 1 (isel "
        "iawn) i 5 (da iawn), neu air. Atebwch HELP os oes angen cymorth arnoch nawr. "
        "Atebwch STOP i optio allan."
    ),
    "checkin.reminder.discreet": (
        "Nodyn atgoffa. $question Atebwch gyda rhif o 1 (ddim yn dda) i 5 (da iawn), neu air. "
        "Atebwch HELP os oes angen cymorth arnoch. Atebwch STOP i atal y negeseuon hyn."
    ),
    "checkin.question": "Sut ydych chi'n teimlo heddiw?",
    "checkin.question.discreet": "Sut mae pethau heddiw?",
    "optout.confirmation": (
        "Homeward: ni fyddwch yn cael rhagor o negeseuon gwirio gan eich tîm gofal. "
        "Atebwch START i'w cael eto."
    ),
    "optout.confirmation.discreet": (
        "Ni fyddwch yn cael rhagor o negeseuon o'r rhif hwn. Atebwch START i'w cael eto."
    ),
    "optin.confirmation": (
        "Homeward: mae eich negeseuon gwirio yn ôl ymlaen. Atebwch STOP unrhyw bryd i optio allan."
    ),
    "optin.confirmation.discreet": (
        "Mae negeseuon o'r rhif hwn yn ôl ymlaen. Atebwch STOP unrhyw bryd i'w hatal."
    ),
    "crisis.reply": "Mae help ar gael nawr: $crisis_routes",
    "crisis.reply.discreet": "Mae rhywun ar gael nawr: $crisis_routes",
    "carer.notice": "Homeward: cysylltwch â $ward ar $phone, os gwelwch yn dda.",
    "carer.notice.discreet": (
        "Helo. Ffoniwch $phone cyn gynted ag y gallwch, am rywun agos atoch chi."
    ),
    "staff.signature": "$message",
    "staff.signature.discreet": "$message",
    "keywords.help": "cymorth, helpwch fi",
    "keywords.stop": "stopio, dim mwy",
    "keywords.start": "dechrau, ailddechrau",
    "keywords.ok": "iawn, yn iawn, da",
    "keywords.crisis": "eisiau marw, lladd fy hun, niweidio fy hun, hunanladdiad",
}

BUILTIN: dict[str, dict[str, str]] = {ENGLISH: _EN, "cy": _CY}
BUILTIN_VERSION = 1


def purpose(name: str) -> Purpose | None:
    return PURPOSES.get(name)
