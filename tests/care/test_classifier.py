"""The trained crisis reader (sonora/care/classifier.py): loads, is deterministic, reads
fresh phrasings written here (not in the labelled set) and leaves plain everyday notes."""

from __future__ import annotations

import numpy as np
import pytest

from sonora.care import classifier, reading
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
    for head in (reader.crisis, reader.flagged):
        assert head.weights.shape == (classifier.DIMENSION,)
        assert head.weights.dtype == np.float32
        assert head.dense_weights.shape == (classifier.N_DENSE,)
        assert 0.0 < head.threshold < 1.0
    assert 0.0 < reader.rule_threshold <= reader.crisis.threshold


def test_features_survive_texting_style() -> None:
    # case, apostrophes, punctuation and how long a letter run is do not matter
    same = classifier.features("i cant do this anymore, im soo tired")[0]
    other = classifier.features("I can't do this ANYMORE!!! I'm sooooo tired")[0]
    assert np.array_equal(same, other)
    # a typo shares most buckets with the word it misspells
    a = set(classifier.features("nobody would notice if i was gone")[0])
    b = set(classifier.features("nobody wud notice if i was gone")[0])
    assert len(a & b) / len(a | b) > 0.6
    assert classifier.features("!!!")[0].size == 0
    # other scripts are read too, and the rules' findings add buckets worth 1 each
    assert classifier.features("не хочу больше жить")[0].size > 10
    idx, values = classifier.features("!!!", ["crisis", "lang:und"])
    assert idx.size == 2 and np.array_equal(values, [1.0, 1.0])


def test_deterministic() -> None:
    note = "everything feels pointless and i have the pills here"
    tokens, dense = reading.reader_inputs(note)
    first = classifier.load().read(note, tokens, dense)
    assert [classifier.load().read(note, *reading.reader_inputs(note)) for _ in range(3)] == [
        first
    ] * 3


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
    p_crisis, p_flagged = reader.read(text, *reading.reader_inputs(text))
    assert p_crisis < reader.crisis.threshold
    assert p_flagged < reader.flagged.threshold
    assert triage(text).level == "everyday"
