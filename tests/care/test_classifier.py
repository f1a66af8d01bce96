"""The trained crisis reader (sonora/care/classifier.py): loads, is deterministic, reads
fresh phrasings written here (not in the labelled set) and leaves plain everyday notes."""

from __future__ import annotations

import numpy as np
import pytest

from sonora.care import classifier
from sonora.care.evaluate import load_labelled
from sonora.care.rules import normalise
from sonora.care.triage import triage

FRESH_CRISIS = [
    "honestly think ill just stop existing after the exams r done",
    "wrote letters 4 my sisters and put them in the drawer, they'll find them after",
    "nobody wud even notice if i wasnt around anymore tbh, might sort that out sat",
]
PLAIN_EVERYDAY = [
    "made soup, watched the rain, going to bed early",
    "the bus was late again but the driver was lovely",
]


def test_weights_load_with_their_shape() -> None:
    reader = classifier.load()
    assert reader.weights.shape == (classifier.DIMENSION,)
    assert reader.weights.dtype == np.float32
    assert reader.embed_weights.shape == (384,)
    assert 0.0 < reader.threshold < 1.0


def test_features_survive_texting_style() -> None:
    # case, apostrophes, punctuation and how long a letter run is do not matter
    same = classifier.features("i cant do this anymore, im soo tired")
    assert np.array_equal(same, classifier.features("I can't do this ANYMORE!!! I'm sooooo tired"))
    # a typo shares most buckets with the word it misspells
    a = set(classifier.features("nobody would notice if i was gone"))
    b = set(classifier.features("nobody wud notice if i was gone"))
    assert len(a & b) / len(a | b) > 0.6
    assert classifier.features("!!!").size == 0


def test_deterministic() -> None:
    note = "everything feels pointless and i have the pills here"
    first = classifier.load().probability(note)
    assert [classifier.load().probability(note) for _ in range(3)] == [first] * 3
    assert np.array_equal(classifier.features(note), classifier.features(note))


def test_fresh_phrasings_are_not_in_the_labelled_set() -> None:
    labelled = {normalise(n.text) for n in load_labelled()}
    for text in FRESH_CRISIS + PLAIN_EVERYDAY:
        assert normalise(text) not in labelled


@pytest.mark.parametrize("text", FRESH_CRISIS)
def test_fresh_crisis_phrasings_screen_as_crisis(text: str) -> None:
    assert triage(text).level == "crisis"


@pytest.mark.parametrize("text", PLAIN_EVERYDAY)
def test_plain_everyday_notes_stay_everyday(text: str) -> None:
    reader = classifier.load()
    assert reader.probability(text) < reader.threshold
    assert triage(text).level == "everyday"
