"""Short notes that only name what the listener came for (sonora.care.blank.named_wish).

The notes here were written for these tests (none is from a labelled or sealed round).
The vocabulary lives in :mod:`sonora.care.blank` (care may not import sonora.plan,
see .importlinter), so the first tests check that it covers every goal, sound family
and built-in scene Sonora offers, and never a word that is a euphemism in crisis
speech. The rest go through :func:`sonora.care.triage.triage` with the real sentence
model and trained reader: a named wish is everyday, and nothing outside the gate's
guard rails moves.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sonora.care import blank
from sonora.care.evaluate import load_labelled
from sonora.care.triage import triage
from sonora.core.planner import FAMILY_LABELS
from sonora.plan import FAMILIES, GOALS
from sonora.plan.recipes import FAMILY_SOURCES
from sonora.scenes import builtin_names

ROUNDS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "triage_rounds"
#: The check-in form's goal labels (sonora.web.pages.GOAL_LABELS, copied: importing the
#: web front end here would pull in the whole app; a test below compares them).
GOAL_LABELS = ("Fall asleep", "Unwind", "Ease anxious feelings", "Focus")

#: Words that, alone or nearly, are euphemisms in crisis speech.
EUPHEMISMS = (
    "peace peaceful forever away gone end ending final long eternal never over done "
    "nothing die dead death bye goodbye free release escape darkness silence"
).split()

WISHES = [
    "sleep please",  # a request word beside a wish (alone, "please" is read as usual)
    "sleep",
    "rest",
    "calm",
    "quiet",
    "night",
    "breathe",
    "gong",
    "quiet evening",
    "Sleep.",
    "sleeeep",
    "rain and bowls tonight",
    "ocean at night",
    "20 min focus",
    "gentle rain, some wind",
    "water tonight",
    "calm morning",
    "fall asleep",
    "wind down",
    "sleep well",
]

NOT_WISHES = [
    "sleep forever",
    "final rest",
    "want to sleep",
    "long rest",
    "eternal sleep",
    "rest in peace",
    "sleep and never wake up",
    "peace",
    "done",
    "gone",
    "nothing",
    "away",
    "end",
    "tonight",  # a time of day alone names nothing Sonora offers
    "the evening",
    "the water tonight",  # no article: a wish is telegraphic
    "20 minutes",
    "fall",  # words of a goal phrase count only inside it
    "anxiety",
    "anxious",
    "help me sleep",
    "no sleep",
    "sleep \U0001f634",  # an emoji can say what the words do not
    "rest \U0001f480",
    "sleep \U0001f52a",  # an emoji of harm
    "rest \U0001f48a",
    "dormir",  # other languages are read as before
    "schlafen",
    "\u7761\u89c9",
    "\u0441\u043f\u0430\u0442\u044c",
]


def _note(name: str) -> str:
    return name.replace("_", " ").replace("-", " ")


@pytest.mark.parametrize(
    "note",
    [_note(g) for g in GOALS]
    + list(GOAL_LABELS)
    + list(FAMILIES)
    + list(FAMILY_LABELS.values())
    + [_note(s) for sources in FAMILY_SOURCES.values() for s in sources]
    + [_note(n) for n in builtin_names()],
)
def test_every_goal_family_and_scene_is_a_wish(note: str) -> None:
    """The vocabulary covers what Sonora offers, so it cannot drift from it."""
    assert blank.named_wish(note), note
    assert blank.nothing_to_read(note) == "wish"


def test_goal_labels_are_the_forms() -> None:
    from sonora.web.pages import GOAL_LABELS as FORM_LABELS

    assert tuple(FORM_LABELS[g] for g in GOALS) == GOAL_LABELS


def test_no_euphemism_is_in_the_vocabulary() -> None:
    words = blank.WISH_WORDS | blank.WISH_COMPANIONS
    phrase_words = {w for p in blank.WISH_PHRASES for w in p.split()}
    assert sorted((words | phrase_words) & set(EUPHEMISMS)) == []
    assert [w for w in EUPHEMISMS if blank.named_wish(w) or blank.named_wish(f"sleep {w}")] == []


def test_companions_never_make_a_wish_alone() -> None:
    alone = sorted(blank.WISH_COMPANIONS | blank.FILLER_WORDS)
    assert [w for w in alone if blank.named_wish(w)] == []
    assert blank.named_wish(" ".join(alone)) == ()
    assert blank.named_wish(" ".join(alone) + " rain") == ("rain",)


@pytest.mark.parametrize("text", WISHES)
def test_wishes_are_named(text: str) -> None:
    assert blank.named_wish(text)
    assert blank.nothing_to_read(text) == "wish"


@pytest.mark.parametrize("text", NOT_WISHES)
def test_not_wishes(text: str) -> None:
    assert blank.named_wish(text) == ()
    assert blank.nothing_to_read(text) != "wish"


def test_named_wish_names_what_it_found() -> None:
    assert blank.named_wish("Rain and bowls, tonight") == ("rain", "bowls")
    assert blank.named_wish("ease anxiety then fall asleep") == ("ease anxiety", "fall asleep")
    assert blank.named_wish("hmm quiet night I guess") == ()  # "i", "guess": read as usual


@pytest.mark.parametrize("text", ["sleep", "calm", "quiet evening", "night", "gong bath"])
def test_a_wish_screens_everyday(model: object, text: str) -> None:
    result = triage(text, country="US")
    assert result.level == "everyday"
    assert result.resources == []
    assert not result.tentative
    assert result.reasons[0].startswith("the note names only what you came for (")
    assert blank.named_wish(text)[0] in result.reasons[0]


@pytest.mark.parametrize("text", [t for t in NOT_WISHES if t.isascii()])
def test_not_wishes_are_read_as_before(
    model: object, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """Outside the gate, triage is exactly what it was without it."""
    now = triage(text).to_dict()
    monkeypatch.setattr(blank, "named_wish", lambda text: ())
    assert triage(text).to_dict() == now


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("I want to kill myself", "crisis"),  # a rule
        ("keep going up to the top floor of the car park and looking over", "crisis"),  # concern
        ("I've had panic attacks every day for a month", "clinical"),
    ],
)
def test_never_when_a_rule_or_the_concern_gate_fired(
    model: object, monkeypatch: pytest.MonkeyPatch, text: str, level: str
) -> None:
    """Even a gate that took every note for a wish is not asked when the rules found something."""
    monkeypatch.setattr(blank, "named_wish", lambda text: ("sleep",))
    result = triage(text)
    assert result.level == level
    assert not any("came for" in r for r in result.reasons)


def _rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [(r["text"], r["level"]) for r in csv.DictReader(fh)]


def test_no_crisis_or_clinical_note_is_a_wish() -> None:
    """On the labelled set and the open rounds (the sealed ones are measured by count only,
    outside the tests), no note that needs more than sound names only a wish."""
    notes = [(n.text, n.level) for n in load_labelled()]
    for name in ("C", "G", "H", "S"):
        notes += _rows(ROUNDS / f"round_{name}.csv")
    assert len(notes) > 2500
    assert [t for t, level in notes if level != "everyday" and blank.named_wish(t)] == []
