"""Everyday notes that read as crisis: the scope of a story clause, dyeing, and everyday
ordeals said as death (branch triage12).

Every example here is invented for the class it stands for (none is a note of a
round). Each class has controls that must stay crisis: the narrowing must never
reach a note about the listener.
"""

from __future__ import annotations

import pytest

from sonora.care import reading, rulebook, rules
from sonora.care.evaluate import load_labelled
from sonora.care.triage import triage


def _concerns(text: str) -> list[str]:
    """Names of the crisis signals the rules and the gate read in a note."""
    return [s.name for s in reading.read_rules(text).crisis]


# --- a clause about a game or a story, beside a clause about the listener ----------


@pytest.mark.parametrize(
    "text",
    [
        "my character died on the last level again, I need a break before I rage quit",
        "the villain killed everyone in the finale, I am still shaking a bit lol",
        "my game character keeps dying to the same trap, so I need a calm track",
        "in the book the detective drowns at the end, but I loved it",
    ],
)
def test_words_in_a_story_clause_are_about_the_story(text: str) -> None:
    assert "concern.death" not in _concerns(text)
    assert "concern.water" not in _concerns(text)


@pytest.mark.parametrize(
    "text",
    [
        # the listener's own clause still carries the alarm
        "my character died again, and honestly I want to die too",
        "that show, I want to die watching it end like this",
        "finished the game, now I am going to end it tonight",
        # the listener is in the story's clause: it is theirs
        "the game is over for me and I am going to die tonight",
    ],
)
def test_the_listeners_own_clause_is_still_read(text: str) -> None:
    assert _concerns(text), text


def test_a_game_death_is_no_reason_given(model: object) -> None:
    # the gate no longer names the game's death as a reason; whether the note is crisis is
    # then the trained reader's call alone (it still reads this one as crisis, at 0.20)
    result = triage(
        "my character died again on that boss, going to make tea before I throw the pad"
    )
    assert not any("dying, death" in r for r in result.reasons), result.reasons


# --- dyeing, spelt "dying" --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "dying her hair purple for the gig",
        "I'm dying my jeans black this weekend",
        "died my roots last night and the bathroom is blue",
    ],
)
def test_dyeing_spelt_dying_is_not_death(text: str) -> None:
    assert "concern.death" not in _concerns(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'm dying, my hair is falling out and I want it over",
        "dying my hair tonight and then I am going to die",
        "I feel like I am dying inside",
    ],
)
def test_dying_itself_is_still_read(text: str) -> None:
    assert "concern.death" in _concerns(text), text


def test_dyeing_note_is_not_crisis(model: object) -> None:
    result = triage("dying my hair green before the festival!!")
    assert result.level != "crisis", result.reasons


# --- everyday ordeals said as death, more languages -------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("that spin class totally destroyed me", "that spin class totally destroyed me"),
        ("the exam finished me but it's done", "the exam finished me"),
        ("bugünkü antrenman beni mahvetti", "antrenman beni mahvetti"),
        ("bu hafta beni bitirdi", "bu hafta beni bitirdi"),
        ("كنت ميتة من الضحك اليوم", "ميتة من الضحك"),
        ("ye garmi meri jaan le legi", "garmi meri jaan le legi"),
        ("office ne aaj dum nikal diya", "office ne aaj dum nikal diya"),
    ],
)
def test_more_everyday_ordeals_are_hyperboles(text: str, found: str) -> None:
    spans, rest = rulebook.hyperboles(text)
    assert spans == [found]
    assert len(rest) < len(text)


@pytest.mark.parametrize(
    "text",
    [
        "my stepdad destroyed me",  # a person, never a figure
        "he finished me off with his fists",
        "usne kaha woh meri jaan le lega",  # a threat: someone, not traffic
        "babam beni öldürecek",  # "my father will kill me"
        "أنا أريد أن أموت",  # "I want to die"
    ],
)
def test_a_person_or_death_itself_is_not_an_ordeal(text: str) -> None:
    assert rulebook.hyperboles(text)[0] == []


@pytest.mark.parametrize(
    "text",
    [
        "the gym destroyed me today, legs are jelly",
        "bu sınav beni bitirdi ama sonunda tatil",
        "ye traffic meri jaan le lega, ghar pahunch ke chai",
    ],
)
def test_without_the_ordeal_the_rules_see_no_crisis(text: str) -> None:
    found, rest = rulebook.hyperboles(text)
    assert found
    assert not reading.read_rules(rest).crisis, rest


@pytest.mark.parametrize(
    "text",
    [
        "bugünkü antrenman beni mahvetti ama keyifliydi",
        "bu hafta beni bitirdi, hafta sonu dinleneceğim",
        "kal ka exam meri jaan le lega, abhi padhai",
        "كنت ميت من الجوع بعد التمرين",
    ],
)
def test_an_ordeal_note_is_not_crisis(model: object, text: str) -> None:
    # end to end: all four were crisis on main (the reader's alarm was the figure). On
    # some others, such as "the exam finished me but it's done now", the reader still
    # calls what is left crisis, and the correction then keeps the crisis call.
    result = triage(text)
    assert result.level != "crisis", result.reasons
    assert any("figure of speech, not a crisis" in r for r in result.reasons)


def test_no_labelled_crisis_note_meets_the_new_narrowings() -> None:
    """None of the labelled crisis notes is a dyeing note or an ordeal figure."""
    dyeing = rulebook.load_rules().idioms
    for note in load_labelled():
        if note.level != "crisis":
            continue
        assert rulebook.hyperboles(note.text)[0] == [], note.text
        plain = rulebook.rewrite_slang(rules.normalise(note.text))[0]
        assert not any(r.name == "dyeing" and r.pattern.search(plain) for r in dyeing), note.text
