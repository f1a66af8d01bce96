"""Everyday excess said as death ("worked to death", "sleep like the dead") is a figure of
speech; doing something harmful to oneself "to death" never is.

The notes here are written for these tests and are not rows of the labelled set.
"""

from __future__ import annotations

import pytest

from sonora.care import reading
from sonora.care.evaluate import load_labelled
from sonora.care.rules import normalise

FIGURES = [
    "my boss works us to death every december",
    "the kids nagged me to death about the zoo",
    "loved that film to death",
    "overworked to death this week, need rain sounds",
    "slept like a log after the hike",
    "hoping to sleep like the dead tonight, no alarm",
]


@pytest.mark.parametrize("text", FIGURES)
def test_everyday_excess_said_as_death_is_a_figure(text: str) -> None:
    read = reading.read_rules(text)
    assert read.crisis == [], [s.name for s in read.crisis]
    assert read.idioms


@pytest.mark.parametrize(
    "text",
    [
        "drinking myself to death and nobody notices",
        "starving myself to death",
        "i want to sleep like the dead and never wake up",
        "beaten to death in my dreams every night, and I want to die",
    ],
)
def test_harm_to_death_stays_crisis(text: str) -> None:
    assert reading.read_rules(text).crisis


def test_the_notes_are_not_labelled_rows() -> None:
    labelled = {normalise(n.text) for n in load_labelled()}
    for text in FIGURES:
        assert normalise(text) not in labelled, text
