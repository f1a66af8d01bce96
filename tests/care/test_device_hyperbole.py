"""A device, battery or car that "died" in another language is a figure of speech
(``hyperbole.device`` in ``data/triage_rules.toml``), as the English gate already reads
"my phone is dead" as about a thing; a person or a pet that died never is.

The notes here are written for these tests and are not rows of the labelled set.
"""

from __future__ import annotations

import pytest

from sonora.care import rulebook
from sonora.care.evaluate import load_labelled
from sonora.care.rules import normalise

DEVICES = [
    ("se me murió el móvil otra vez", "se me murio el movil"),
    ("mein Akku ist tot, gute Nacht", "akku ist tot"),
    ("il telefono è morto a metà film", "telefono e morto"),
    ("o meu portátil morreu ontem", None),  # "portatil" is not on the list: read as usual
    ("mijn laptop is dood", "laptop is dood"),
    ("ma batterie est morte, je vais dormir", "batterie est morte"),
    ("telefonum öldü, yarın konuşuruz", "telefonum oldu"),
]


@pytest.mark.parametrize(("text", "found"), DEVICES)
def test_a_device_that_died_is_a_figure(text: str, found: str | None) -> None:
    spans, rest = rulebook.hyperboles(text)
    if found is None:
        assert spans == []
    else:
        assert found in spans, spans
        assert found not in rulebook.fold(rest)


@pytest.mark.parametrize(
    "text",
    [
        "mi perro murió ayer",
        "mon chat est mort",
        "meine Oma ist tot",
        "mon mari est mort et je veux mourir",
        "je suis morte",
        "il mio amico è morto",
        "moja mama umarła",
    ],
)
def test_a_person_or_pet_or_the_listener_is_never_a_device(text: str) -> None:
    assert rulebook.hyperboles(text) == ([], text)


def test_what_is_left_keeps_its_crisis_words() -> None:
    _, rest = rulebook.hyperboles("mi auto murió y yo quiero morir")
    assert "quiero morir" in rest


def test_the_notes_are_not_labelled_rows() -> None:
    labelled = {normalise(n.text) for n in load_labelled()}
    for text, _ in DEVICES:
        assert normalise(text) not in labelled, text
