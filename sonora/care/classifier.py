"""The trained reader of notes: two linear heads over the words, the rules and the meaning.

Why a trained model on top of the rules and the concern gate: rules written from
one round's misses did not carry over to the next writer (first-sight crisis recall
of the blind rounds: 15/40, 24/40, 20/40; see :mod:`sonora.care.evaluate`), and the
gate that replaced them raised false alarms on every new writer's everyday notes
(idioms, games, stories in other languages). The reader weighs all of it at once,
and its thresholds are chosen by leave-one-round-out over the rounds written by
independent writers, so the figure that picks them is a first-sight figure.

Inputs, for one note (see :func:`sonora.care.triage.reader_inputs`):

* **words**: the note is folded (lower case, no accents), its apostrophes removed,
  runs of three or more of one letter shortened to two, and anything but letters
  (of any script) and digits made a space. Character 3- to 5-grams of the padded
  text and word 1- and 2-grams are hashed (CRC-32) into :data:`DIMENSION` buckets,
  each present bucket worth ``1 / sqrt(number of buckets)``;
* **what the rules saw**: one token per rule, gate family or explanation that fired
  (``crisis:concern.death``, ``clinical:...``, ``idiom``, ``denial``, ``story``,
  ``lang:fr``...), hashed into the same buckets, each worth 1;
* **meaning** (:data:`N_DENSE` floats): the note's MiniLM embedding, the very vector
  triage computes for the prototype check (no second encode), and the six prototype
  similarity scores (zeros when they were not computed).

Two logistic heads read the same inputs: **crisis** against the rest, and
**flagged** (crisis or clinical) against everyday. Their log-odds are
``w[buckets] @ values + dense_w @ dense + bias``.

Weights are trained offline by ``tools/train_triage_classifier.py`` (numpy and
scipy's L-BFGS) and shipped as ``data/triage_linear.npz`` (float32). Run time needs
only numpy: a few hundred array look-ups and two dot products of 390 floats.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources as _ir

import numpy as np

from sonora.care import blank
from sonora.care.once import once

__all__ = [
    "DIMENSION",
    "N_DENSE",
    "Head",
    "LinearReader",
    "clean",
    "features",
    "load",
]

#: Number of hash buckets (2**18); each head has this many float32 weights.
DIMENSION = 1 << 18
#: Dense inputs: the 384-float MiniLM embedding and 6 prototype similarity scores.
N_DENSE = 384 + 6


def clean(text: str) -> str:
    """Fold a note to the form the word features read (see the module docstring).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Lower-case letters (any script, accents removed) and digits separated by
        single spaces.

    Examples
    --------
    >>> clean("I cant do this anymoooore!!")
    'i cant do this anymoore'
    """
    return blank.clean(text)


def _bucket(gram: str) -> int:
    return zlib.crc32(gram.encode("utf-8")) % DIMENSION


def features(text: str, tokens: Iterable[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Hash buckets present in a note and the value of each.

    Parameters
    ----------
    text : str
        The note as written.
    tokens : iterable of str, optional
        What the rules saw (see the module docstring); each is worth 1.

    Returns
    -------
    idx : numpy.ndarray
        Sorted unique bucket indices, int64, each in ``[0, DIMENSION)``.
    values : numpy.ndarray
        float64, same shape: ``1 / sqrt(n)`` for the ``n`` word buckets, plus 1 for
        each token bucket (summed where buckets coincide).
    """
    t = clean(text)
    grams: set[str] = set()
    if t:
        padded = f" {t} "
        for n in (3, 4, 5):
            grams.update("c" + padded[i : i + n] for i in range(len(padded) - n + 1))
        words = t.split()
        grams.update("w" + w for w in words)
        grams.update(f"b{a} {b}" for a, b in zip(words, words[1:], strict=False))
    acc: dict[int, float] = {}
    word_idx = {_bucket(g) for g in grams}
    for i in word_idx:
        acc[i] = 1.0 / math.sqrt(len(word_idx))
    for tok in set(tokens):
        i = _bucket("t" + tok)
        acc[i] = acc.get(i, 0.0) + 1.0
    idx = np.fromiter(sorted(acc), dtype=np.int64, count=len(acc))
    values = np.array([acc[int(i)] for i in idx], dtype=np.float64)
    return idx, values


@dataclass(frozen=True)
class Head:
    """One logistic head.

    Parameters
    ----------
    weights : numpy.ndarray
        Shape ``(DIMENSION,)``, float32: log-odds per bucket.
    dense_weights : numpy.ndarray
        Shape ``(N_DENSE,)``, float32: log-odds per dense input.
    bias : float
        Log-odds of a note with no inputs.
    threshold : float
        Probability from which the head says yes, chosen by leave-one-round-out.
    """

    weights: np.ndarray
    dense_weights: np.ndarray
    bias: float
    threshold: float

    def probability(self, idx: np.ndarray, values: np.ndarray, dense: np.ndarray) -> float:
        """Probability in ``[0, 1]`` for inputs from :func:`features` and ``dense``.

        Parameters
        ----------
        idx, values : numpy.ndarray
            Output of :func:`features`.
        dense : numpy.ndarray
            Shape ``(N_DENSE,)``, float.

        Returns
        -------
        float
        """
        z = float(self.weights[idx].astype(np.float64) @ values) + self.bias
        z += float(np.dot(self.dense_weights.astype(np.float64), dense))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class LinearReader:
    """The two heads and the threshold for notes the rules already read as crisis.

    Parameters
    ----------
    crisis : Head
        Crisis against the rest.
    flagged : Head
        Crisis or clinical against everyday.
    rule_threshold : float
        Crisis probability from which a note the rules read as crisis stays crisis
        (at most ``crisis.threshold``: the rules' word counts for something).
    """

    crisis: Head
    flagged: Head
    rule_threshold: float

    def read(self, text: str, tokens: Iterable[str], dense: np.ndarray) -> tuple[float, float]:
        """Crisis and flagged probabilities of a note.

        Parameters
        ----------
        text : str
            The note as written.
        tokens : iterable of str
            What the rules saw.
        dense : numpy.ndarray
            Shape ``(N_DENSE,)``: embedding and prototype scores.

        Returns
        -------
        tuple of (float, float)
        """
        idx, values = features(text, tokens)
        return (
            self.crisis.probability(idx, values, dense),
            self.flagged.probability(idx, values, dense),
        )


@once
def load() -> LinearReader:
    """Load ``data/triage_linear.npz`` (once per process).

    Returns
    -------
    LinearReader

    Raises
    ------
    ValueError
        If an array has the wrong shape.
    """
    ref = _ir.files("sonora.care").joinpath("data", "triage_linear.npz")
    with ref.open("rb") as fh, np.load(fh) as data:
        heads = []
        for name in ("crisis", "flagged"):
            w = data[f"{name}_weights"].astype(np.float32)
            d = data[f"{name}_dense"].astype(np.float32)
            if w.shape != (DIMENSION,) or d.shape != (N_DENSE,):
                raise ValueError(
                    f"triage_linear.npz: {name} weights {w.shape}, dense {d.shape}; "
                    f"need ({DIMENSION},) and ({N_DENSE},)"
                )
            heads.append(Head(w, d, float(data[f"{name}_bias"]), float(data[f"{name}_threshold"])))
        return LinearReader(heads[0], heads[1], float(data["rule_threshold"]))
