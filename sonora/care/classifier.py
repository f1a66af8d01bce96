"""A small trained linear reader of crisis notes (hashed character and word n-grams).

Why a trained model on top of the rules and the concern gate: rules written from
one round's misses did not carry over to the next writer (first-sight crisis recall
of the blind rounds: 15/40, 24/40, 20/40; see :mod:`sonora.care.evaluate`). A linear
model over character n-grams reads spelling variants, texting style ("kms", "cant",
"soooo"), word families and other languages' stems without anyone writing a phrase
for them, and its threshold is chosen by leave-one-round-out over the rounds by
independent writers, so the figure that picks it is a first-sight figure.

Features (own code, ~40 lines, because it must be identical at training and at run
time and needs no dependency): the note is folded (lower case, no accents), its
apostrophes removed, runs of three or more of one letter shortened to two, and
anything but letters and digits made a space. Then character 3- to 5-grams of the
whole text padded with spaces, and word 1- and 2-grams, are hashed (CRC-32) into
:data:`DIMENSION` buckets; a note's vector is the set of its buckets scaled to unit
length, followed by the note's MiniLM embedding (384 floats, unit length) times
``embed_scale``. The score is ``w[buckets].sum() / sqrt(len(buckets)) + bias +
embed_scale * embed_weights @ embedding``, a logistic regression's log-odds that
the note is crisis.

The weights are trained offline by ``tools/train_triage_classifier.py`` (numpy and
scipy's L-BFGS, crisis notes weighted up) and shipped as ``data/triage_linear.npz``
(float32). Run time needs only numpy: a few hundred array look-ups per note plus
the one MiniLM encode that triage makes anyway.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources as _ir

import numpy as np

from sonora.care import rulebook

__all__ = ["DIMENSION", "LinearReader", "features", "load", "score"]

#: Number of hash buckets (2**18); the weight vector has this many float32 entries.
DIMENSION = 1 << 18

_REPEATS = re.compile(r"([a-z])\1{2,}")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def clean(text: str) -> str:
    """Fold a note to the form the features read (see the module docstring).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Lower-case ASCII-ish letters and digits separated by single spaces.

    Examples
    --------
    >>> clean("I cant do this anymoooore!!")
    'i cant do this anymoore'
    """
    t = rulebook.fold(text).replace("'", "").replace("\u2019", "")
    t = _REPEATS.sub(r"\1\1", t)
    return _NON_WORD.sub(" ", t).strip()


def features(text: str) -> np.ndarray:
    """Hash buckets present in a note.

    Parameters
    ----------
    text : str

    Returns
    -------
    numpy.ndarray
        Sorted unique bucket indices, int64, each in ``[0, DIMENSION)``; empty for
        a note with no letters or digits.
    """
    t = clean(text)
    if not t:
        return np.zeros(0, dtype=np.int64)
    grams: set[str] = set()
    padded = f" {t} "
    for n in (3, 4, 5):
        grams.update("c" + padded[i : i + n] for i in range(len(padded) - n + 1))
    words = t.split()
    grams.update("w" + w for w in words)
    grams.update(f"b{a} {b}" for a, b in zip(words, words[1:], strict=False))
    idx = {zlib.crc32(g.encode("utf-8")) % DIMENSION for g in grams}
    return np.fromiter(sorted(idx), dtype=np.int64, count=len(idx))


@dataclass(frozen=True)
class LinearReader:
    """Weights of the trained reader.

    Parameters
    ----------
    weights : numpy.ndarray
        Shape ``(DIMENSION,)``, float32: log-odds contribution of each bucket.
    bias : float
        Log-odds of a note with no features.
    threshold : float
        Probability from which a note is read as crisis, chosen by
        leave-one-round-out (see ``tools/train_triage_classifier.py``).
    """

    weights: np.ndarray
    bias: float
    threshold: float
    embed_weights: np.ndarray
    embed_scale: float

    def probability(self, text: str, vector: np.ndarray | None = None) -> float:
        """Probability in ``[0, 1]`` that a note is crisis.

        Parameters
        ----------
        text : str
            The note.
        vector : numpy.ndarray, optional
            Its MiniLM embedding, shape ``(384,)``, of :func:`clean` text; computed
            here (loading the model if needed) when not given.
        """
        idx = features(text)
        if idx.size == 0:
            return 0.0
        z = float(self.weights[idx].sum(dtype=np.float64)) / math.sqrt(idx.size) + self.bias
        if self.embed_scale:
            if vector is None:
                from sonora.care import embedding

                vector = embedding.encoder().encode([clean(text)])[0]
            z += self.embed_scale * float(np.dot(self.embed_weights, vector))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@cache
def load() -> LinearReader:
    """Load ``data/triage_linear.npz`` (once per process).

    Returns
    -------
    LinearReader
    """
    ref = _ir.files("sonora.care").joinpath("data", "triage_linear.npz")
    with ref.open("rb") as fh, np.load(fh) as data:
        weights = data["weights"].astype(np.float32)
        if weights.shape != (DIMENSION,):
            raise ValueError(
                f"triage_linear.npz: weights shape {weights.shape}, need ({DIMENSION},)"
            )
        return LinearReader(
            weights,
            float(data["bias"]),
            float(data["threshold"]),
            data["embed_weights"].astype(np.float32),
            float(data["embed_scale"]),
        )


def score(text: str) -> tuple[float, bool]:
    """Probability that a note is crisis, and whether it reaches the threshold.

    Parameters
    ----------
    text : str

    Returns
    -------
    tuple of (float, bool)
    """
    reader = load()
    p = reader.probability(text)
    return p, p >= reader.threshold
