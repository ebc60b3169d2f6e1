"""Reading a patient's text: STOP in all its forms, HELP, scores, OK, START, free text."""

from __future__ import annotations

import pytest

from service.discreet import CLINICAL_WORDS, is_discreet_safe
from service.interpretation.meaning import interpret

STOP_VARIANTS = [
    "STOP",
    "stop",
    "Stop",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "opt out",
    "Opt-out",
    "stop please",
    "Please stop",
    "Stop. Thank you",
    "STOP!!!",
    "  stop  ",
    "stop texting me",
    "Unsubscribe me please",
    "\u2018Stop\u2019 thanks x",
]


@pytest.mark.parametrize("text", STOP_VARIANTS)
def test_every_stop_variant_is_an_opt_out(text):
    assert interpret(text).kind == "stop"


@pytest.mark.parametrize(
    "text",
    [
        "stop smoking group was good",
        "cancel my appointment please",
        "the end of the week was hard",
        "I quit my job",
        "stopped taking the bus",
    ],
)
def test_stop_words_inside_a_sentence_are_not_an_opt_out(text):
    assert interpret(text).kind == "free_text"


@pytest.mark.parametrize(
    "text",
    [
        "HELP",
        "help",
        "Help me",
        "I need help",
        "please help",
        "I want to kill myself",
        "feeling suicidal",
        "can't go on",
    ],
)
def test_help_and_crisis_words_are_a_help_request(text):
    assert interpret(text).kind == "help"


def test_thanks_for_the_help_is_not_a_help_request():
    assert interpret("thanks for the help yesterday").kind == "free_text"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("4", 4),
        ("5", 5),
        ("2 not great", 2),
        ("4/5", 4),
        ("3.", 3),
        ("five", 5),
    ],
)
def test_a_number_from_1_to_5_is_a_score(text, score):
    meaning = interpret(text)
    assert (meaning.kind, meaning.score) == ("score", score)


@pytest.mark.parametrize("text", ["0", "6", "10", "3.5", "100 percent"])
def test_numbers_outside_1_to_5_are_free_text(text):
    assert interpret(text).kind == "free_text"


@pytest.mark.parametrize("text", ["OK", "ok", "Fine", "I'm fine thanks", "all good", "okay"])
def test_ok_and_fine_are_ok(text):
    assert interpret(text).kind == "ok"


@pytest.mark.parametrize("text", ["START", "unstop", "YES", "yes please"])
def test_start_family_is_an_opt_in(text):
    assert interpret(text).kind == "start"


def test_a_score_with_a_crisis_phrase_is_a_help_request_that_keeps_the_score():
    meaning = interpret("1 I want to end it all")
    assert (meaning.kind, meaning.score) == ("help", 1)


def test_clinical_words_are_caught_for_discreet_mode():
    assert not is_discreet_safe("How is your mood today?")
    assert not is_discreet_safe("Any mental health worries?")
    assert is_discreet_safe("How are things today?")
    assert "ward" in CLINICAL_WORDS
