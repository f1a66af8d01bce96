"""Short notes with nothing to read: mash, numbers, emoji alone, filler (sonora.care.blank).

The notes here were written for these tests (none is from a labelled or sealed round).
:func:`sonora.care.blank.nothing_to_read` is checked on its own across kinds and
negative controls, and through :func:`sonora.care.triage.triage` with the real
sentence model and trained reader: blank notes screen everyday (the unreadable ones
with the crisis lines shown), and short crisis notes still screen crisis.
"""

from __future__ import annotations

import pytest

from sonora.care import blank, reading
from sonora.care.evaluate import load_labelled
from sonora.care.triage import triage

MASH = [
    "jkjkjkjk",
    "qwertyuiop",
    "ghjgjhg hjkhjk",
    "poiuyt",
    "lkjhgf",
    "xcvbnm",
    "DFGHJ",
    "wrtplkm",
]
NUMBERS = ["42", "2024", "8/10", "0 0 0", "12:30"]
EMOJI = ["\U0001f634", "\U0001f327\ufe0f\u2615", "\U0001f642\U0001f44d", "\u2764\ufe0f", "<3"]
FILLER = [
    "hmmmm",
    "umm",
    "Idk",
    "meh.",
    "okayyy",
    "all good thank you",
    "not bad thanks",
    "nothing new really",
    "yeah same as usual",
    "whatever lol",
    "k \U0001f44d",
    "cheers",
]


@pytest.mark.parametrize("text", MASH + NUMBERS + EMOJI)
def test_no_word_to_read_is_unread(text: str) -> None:
    assert blank.nothing_to_read(text) == "unread"


@pytest.mark.parametrize("text", FILLER)
def test_filler_alone_is_filler(text: str) -> None:
    assert blank.nothing_to_read(text) == "filler"


@pytest.mark.parametrize(
    "text",
    [
        "not ok",  # a negation: the reader decides
        "tired",
        "done",
        "bye",
        "i am nothing",
        "no point",
        "cant anymore",
        "kms",
        "ctb",
        "kmsss",
        "sh again",
        "\U0001f52a",  # emoji of harm are never blank
        "\U0001f48a\U0001f48a\U0001f48a",
        "ok \U0001fa78",
        "fine \u26b0\ufe0f",
        "nada",  # other languages: the reader reads them
        "\u00e7a va",
        "\u6b7b",
        "\u0443\u0441\u0442\u0430\u043b\u0430",
        "salad",  # one keyboard row, but a word
        "rhythm",  # no vowel but y, and a word
        "typewriter",
    ],
)
def test_anything_else_is_read(text: str) -> None:
    assert blank.nothing_to_read(text) is None


def test_no_labelled_note_is_blank() -> None:
    """The gate changes nothing the labelled set measures (no row of it is blank)."""
    assert [n.text for n in load_labelled() if blank.nothing_to_read(n.text)] == []


@pytest.mark.parametrize("text", MASH + NUMBERS + EMOJI)
def test_unreadable_short_note_says_so_and_shows_help(model: object, text: str) -> None:
    result = triage(text, country="US")
    assert result.level == "everyday"
    assert result.unread is True
    assert "could not read this note" in result.message
    assert result.resources[0]["kind"] == "crisis_line"


@pytest.mark.parametrize("text", FILLER)
def test_filler_note_is_everyday(model: object, text: str) -> None:
    result = triage(text)
    assert result.level == "everyday"
    assert result.resources == []
    assert "filler" in result.reasons[0]


@pytest.mark.parametrize(
    "text",
    [
        "want to die",
        "kms",
        "ok gonna kill myself",
        "hmm ending it tonight",
        "took all my pills",
        "no reason to live",
        "i cant go on",
        "bye forever everyone",
        "voglio morire",
        "\U0001f52a",
        "\U0001f48a\U0001f48a\U0001f48a",
    ],
)
def test_short_crisis_notes_still_crisis(model: object, text: str) -> None:
    assert triage(text).level == "crisis"


# ---------------------------------------------------------------------------
# short notes: how much text there is (sonora.care.reading.is_short)


def test_content_words_leave_out_numbers_and_filler() -> None:
    assert reading.content_words("hmm ok 42 so tired") == 1
    assert reading.content_words("fine thanks") == 0
    assert reading.content_words("the bus was late again") == 5


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("nothing much really", True),
        ("so tired after the gym", False),
        ("\u75b2\u308c\u305f", True),
        # no spaces in Japanese: the letters decide
        (
            "\u4eca\u65e5\u306f\u4ed5\u4e8b\u304c\u3068\u3066\u3082\u5fd9\u3057\u304f\u3066"
            "\u5e30\u308a\u306e\u96fb\u8eca\u3067\u3082\u305a\u3063\u3068\u7acb\u3063\u3066"
            "\u3044\u305f",
            False,
        ),
    ],
)
def test_is_short(text: str, short: bool) -> None:
    assert reading.is_short(text) is short


@pytest.mark.parametrize(
    "text", ["me quiero morir", "quiero suicidarme", "ich will sterben", "chce umrzec", "kys"]
)
def test_short_note_the_rules_read_as_crisis_stays_crisis(model: object, text: str) -> None:
    """A note of a few words has no context for the reader to explain the rules' alarm."""
    assert reading.read_rules(text).crisis
    assert triage(text).level == "crisis"


@pytest.mark.parametrize("text", ["\U0001f52a", "\U0001f48a\U0001f48a + \U0001f377 tonight"])
def test_short_note_with_an_emoji_of_harm_is_crisis(model: object, text: str) -> None:
    """The reader cannot see emoji; a few words around one of harm give no context."""
    result = triage(text)
    assert result.level == "crisis"
    assert result.resources[0]["kind"] in ("crisis_line", "emergency")
