"""Short notes with nothing to read: mash, numbers, emoji alone, filler (sonora.care.blank).

The notes here were written for these tests (none is from a labelled or sealed round).
:func:`sonora.care.blank.nothing_to_read` is checked on its own across kinds and
negative controls, and through :func:`sonora.care.triage.triage` with the real
sentence model and trained reader: blank notes screen everyday (the unreadable ones
with the crisis lines shown), and short crisis notes still screen crisis.
"""

from __future__ import annotations

import pytest

from sonora.care import blank, embedding
from sonora.care.evaluate import load_labelled
from sonora.care.triage import triage


@pytest.fixture(scope="module")
def model() -> object:
    """Load the embedding model and prototypes once for this module."""
    enc = embedding.encoder()
    embedding.model_info()
    return enc


MASH = ["jkjkjkjk", "qwertyuiop", "ghjgjhg hjkhjk", "poiuyt", "lkjhgf", "xcvbnm", "DFGHJ", "wrtplkm"]
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
