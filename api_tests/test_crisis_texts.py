"""Crisis texts as people really type them, and the ordinary replies that must stay quiet.

The examples are written here by hand, not taken from the recogniser's phrase list: each
phrase the recogniser knows has a realistic text below, then misspelt, run-together,
spaced-out and text-speak variants of them.
"""

from __future__ import annotations

import pytest

from service.interpretation.crisis import is_crisis
from service.interpretation.meaning import interpret

# One realistic text per phrase the recogniser knows (in the order of its list).
PHRASE_TEXTS = [
    "help me",
    "I need help",
    "my son needs help now",
    "how do I get help",
    "I want help tonight",
    "please help",
    "someone help me",
    "send help",
    "SOS",
    "thinking about suicide again",
    "feeling suicidal tonight",
    "I want to kill myself",
    "I'm thinking of killing myself",
    "I want to end my life",
    "thinking about ending my life",
    "I just want to end it",
    "going to end it all",
    "I'm ending it tonight",
    "I'm going to take my life",
    "I want to take my own life",
    "I want to die",
    "I want to be dead",
    "I feel like dying",
    "I just want it all to end",
    "I don't want to wake up tomorrow",
    "there's no reason to go on",
    "I wish I was dead",
    "wish I were dead",
    "everyone would be better off dead",
    "they'd all be better off without me",
    "I self harmed last night",
    "I've been self harming again",
    "I want to harm myself",
    "I keep harming myself",
    "I'm scared I'll hurt myself",
    "I've been hurting myself",
    "I cut myself",
    "I'm cutting myself",
    "started cutting again",
    "I want to hang myself",
    "I took an overdose",
    "I overdosed",
    "I think I'm overdosing",
    "took all my pills",
    "I've taken all my pills",
    "took all my tablets",
    "I've taken all my tablets",
    "I swallowed all my pills",
    "I've had too many pills",
    "took too many tablets",
    "I've taken too many paracetamol",
    "took loads of pills",
    "I've had loads of tablets",
    "I've swallowed all my meds",
    "I took a load of paracetamol",
    "I've taken all the paracetamol",
    "I swallowed a whole box of pills",
    "took a whole packet of sleeping tablets",
    "I'm going to jump off a bridge",
    "I want to jump in front of a train",
    "I can't go on",
    "I can't cope anymore",
    "I can't do this anymore",
    "I can't take it anymore",
    "i cant do this no more",
    "I don't want to be here",
    "I don't want to live",
    "I don't want to be alive",
    "no point living",
    "I don't see the point in living",
    "what's the point of living",
    "I'm done with life",
    "I don't want to be here any more",
    "no one would miss me",
    "nobody would miss me if I went",
    "I want to disappear forever",
    "I have no reason to live",
    "I've got nothing to live for",
    "I'm not safe",
    "I don't feel safe",
    "I feel unsafe at home",
    "this is an emergency",
    "I'm in crisis",
]

# The forms people really type: misspelt, repeated letters, spaces missing or added,
# text-speak, emoji.
VARIANTS = [
    "pls help",
    "plz help me",
    "plzzz help",
    "helpp",
    "HELPPPP!!!",
    "Help!!",
    "hlp me",
    "help me pls",
    "im scared pls help",
    "need help now",
    "\U0001f198",
    "\U0001f198\U0001f198\U0001f198",
    "sucidal",
    "feeling sucidal",
    "suicidel thoughts",
    "sucide",
    "i feel suisidal",
    "took all my pills",
    "tooook all my pillls",
    "I've taken an overdose",
    "taken a overdoes",
    "i od",
    "i have od'd",
    "i oded",
    "ive overdosd",
    "I want to end it",
    "want 2 end it all",
    "going to end my life tonight",
    "killmyself",
    "kill my self",
    "kil myslef",
    "kilmyslef",
    "i wanna kill myself",
    "i wana die",
    "i want 2 die",
    "plz sum1 help",
    "took 20 tablets",
    "I've taken 32 paracetamol",
    "kms",
    "gonna kill meself",
    "i want to end it all x",
    "cant go on",
    "cnt cope cant go on",
    "I cant go on like this",
    "dont want to be here anymore",
    "i dont wanna be here any more",
    "dont want to live",
    "no point living",
    "self-harm",
    "selfharm again",
    "been self harmin",
    "cut my self",
    "hurt my self",
    "suicidal!!!",
    "SUICIDAL",
    "I'M GOING TO KILL MYSELF",
    "end   it   all",
    "i want to kill\u2019myself",
    "I can\u2019t go on",
    "I don\u2019t want to be here",
    "1 I want to end it",
    "not safe",
]

# Replies heard every day on a recovery ward: none of them is a crisis.
ORDINARY = [
    "I helped my mum today",
    "no help needed thanks",
    "4",
    "ok thanks",
    "feeling better",
    "stop smoking group was good",
    "killing time before work",
    "the pills are helping",
    "end of the week is busy",
    "cant wait to see my sister",
    "thanks for the help yesterday",
    "5 great day",
    "3 so so",
    "I'm fine",
    "all good here",
    "been to the gym",
    "my new meds are working",
    "took my tablets this morning",
    "I took my pills",
    "that's odd, I didn't get a text",
    "the pasta was overdone",
    "I'm overdoing it a bit with work",
    "my rent is overdue",
    "putting myself first this week",
    "I put myself to bed early",
    "looking after myself",
    "proud of myself today",
    "went for a walk by myself",
    "see you at the end of the month",
    "I'm at the end of my shift",
    "we watched a film and it was good",
    "my phone is nearly dead",
    "dead tired but ok",
    "the group helps a lot",
    "my sister helped me move",
    "helping out at the food bank",
    "I'm safe and well",
    "safe home thanks",
    "slept well",
    "can you call me tomorrow",
    "don't want to miss my appointment",
    "I want to go to the gym",
    "I can't make Tuesday",
    "yes",
    "STOP",
    "killing it at work today",
    "I'd kill for a cup of tea",
    "life is good",
    "I'm living with my brother now",
    "spend it on food",
    "I take paracetamol for my back",
    "cutting down on coffee",
    "cut my hair today",
    "I hurt my ankle at football",
    "the end of term is soon",
    "no point asking him",
    "I can go on the trip",
    "overdue library books",
    "I take 2 tablets at night",
    "want 2 meet up",
    "I take 10 mg at night",
    "2",
    "\U0001f600\U0001f600",
    "\U0001f44d",
    "",
]


@pytest.mark.parametrize("text", PHRASE_TEXTS)
def test_each_phrase_in_a_realistic_text_is_a_crisis(text):
    assert is_crisis(text)
    assert interpret(text).kind == "help"


@pytest.mark.parametrize("text", VARIANTS)
def test_crisis_texts_as_people_type_them_are_caught(text):
    assert is_crisis(text)
    assert interpret(text).kind == "help"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_replies_are_not_a_crisis(text):
    assert not is_crisis(text)
    assert interpret(text).kind != "help"


def test_a_crisis_text_with_a_score_keeps_its_score():
    meaning = interpret("1 I want to end it")
    assert (meaning.kind, meaning.score) == ("help", 1)


def test_a_long_text_with_a_crisis_phrase_at_the_end_is_caught():
    text = "Had a long day at work and the bus was late again. " * 30 + "I cant go on."
    assert len(text) > 1500
    assert is_crisis(text)
