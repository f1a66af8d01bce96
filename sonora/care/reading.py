"""What triage reads in a note before deciding: the rules' findings and the note's meaning.

:func:`read_rules` runs every rule over a note (slang and idioms rewritten, denials
honoured, the phrase rules, the foreign phrases and the concern gate) and returns a
:class:`Reading`. :func:`meaning` encodes the note's pieces once with the sentence
model and scores them against the prototypes; :func:`reader_inputs` turns both into
what the trained reader (:mod:`sonora.care.classifier`) reads. :mod:`sonora.care.triage`
and ``tools/train_triage_classifier.py`` share these functions, so the reader is
trained on exactly what it sees at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from sonora.care import blank, concern, embedding, rulebook, rules

__all__ = [
    "SHORT_LETTERS",
    "SHORT_WORDS",
    "Reading",
    "cached_embeddings",
    "content_words",
    "dense",
    "is_short",
    "meaning",
    "read_rules",
    "reader_inputs",
]

#: A note of at most this many content words (:func:`content_words`) ...
SHORT_WORDS = 3
#: ... and at most this many letters (a note in Japanese has no spaces) is short.
SHORT_LETTERS = 24


@dataclass
class Reading:
    """What the rules read in a note, before the sentence model.

    Parameters
    ----------
    language : str
        From :func:`sonora.care.rulebook.detect_language`.
    neutral : str
        The note normalised, slang rewritten, figures of speech and honoured
        denials removed: what the sentence model reads.
    crisis, clinical : list of Signal
        Crisis and clinical findings of the rules and the concern gate.
    idioms, denials : list of str
        Figures of speech and denials set aside.
    story : bool
        Some crisis words were about a story, show or game.
    explained : bool
        An accident, a story or routine medicine explains the note
        (:func:`sonora.care.concern.explained`).
    clinician : list of Signal
        The listener mentions their own clinician, diagnosis or mental-health care
        (:func:`sonora.care.rulebook.clinician_signals`). Not one of :meth:`tokens`:
        the trained reader never sees it, so it cannot move a crisis call.
    """

    language: str
    neutral: str
    crisis: list[rules.Signal]
    clinical: list[rules.Signal]
    idioms: list[str]
    denials: list[str]
    story: bool
    explained: bool
    clinician: list[rules.Signal] = field(default_factory=list)

    @property
    def unread(self) -> bool:
        """Whether the note is not in English (Sonora cannot read all of it)."""
        return self.language != rulebook.ENGLISH

    def tokens(self) -> list[str]:
        """What the rules saw, as tokens for the trained reader (see classifier.py).

        A medical emergency or a farewell (:data:`sonora.care.concern.HELD`) is not one:
        triage keeps it crisis whatever the reader says, and the reader was never trained
        on it.
        """
        alarms = [s for s in self.crisis if s.name not in concern.HELD]
        out = [f"crisis:{s.name}" for s in alarms]
        out += [f"clinical:{s.name}" for s in self.clinical]
        out += [f"lang:{self.language}"] + (["crisis"] if alarms else [])
        out += (["clinical"] if self.clinical else []) + (["idiom"] if self.idioms else [])
        out += (["denial"] if self.denials else []) + (["story"] if self.story else [])
        return out + (["explained"] if self.explained else [])


def read_rules(text: str) -> Reading:
    norm = rules.normalise(text)
    language = rulebook.detect_language(text)
    plain, _slang = rulebook.rewrite_slang(norm)
    threats = rules.threat_signals(plain)
    plain, extra_idioms = rulebook.rewrite_idioms(plain)
    neutral, idioms, denials = rules.neutralise(plain)
    idioms = extra_idioms + idioms
    crisis_sigs, demoted = rules.crisis_signals(neutral)
    crisis_sigs = threats + crisis_sigs
    seen = {s.name for s in crisis_sigs}
    for sig in rulebook.crisis_signals(neutral) + rulebook.foreign_signals(text):
        if sig.name not in seen:
            seen.add(sig.name)
            crisis_sigs.append(sig)
    clinical_sigs = demoted + rules.clinical_signals(neutral) + rulebook.clinical_signals(neutral)
    # a story, a show, a game: a crisis word there is about the story, not the listener
    story = [s for s in crisis_sigs if concern.in_story(neutral, s.span)]
    if story:
        crisis_sigs = [s for s in crisis_sigs if s not in story]
        seen -= {s.name for s in story}
        idioms.append("about a story: " + ", ".join(f"\u201c{s.span}\u201d" for s in story))
    # the concern gate: broad word families, escalating unless explained (see concern.py)
    for sig in concern.concerns(neutral, rulebook.fold(text), language=language):
        if concern.is_clinical(sig):
            clinical_sigs.append(sig)
        elif sig.name not in seen:
            seen.add(sig.name)
            crisis_sigs.append(sig)
    return Reading(
        language,
        neutral,
        crisis_sigs,
        clinical_sigs,
        idioms,
        denials,
        bool(story),
        concern.explained(neutral),
        rulebook.clinician_signals(neutral, text),
    )


def meaning(read: Reading) -> tuple[np.ndarray, embedding.Scores]:
    """The note's pieces encoded once: their embeddings and the prototype scores."""
    pieces = embedding.split_pieces(read.neutral)
    vectors = _embed_pieces(pieces)
    return vectors, embedding.score_pieces(pieces, vectors=vectors)


def content_words(text: str) -> int:
    """How many words of a note say something: not numbers, not filler ("hmm", "ok").

    Parameters
    ----------
    text : str
        The note as written.

    Returns
    -------
    int
        Words (runs of letters, any script, after the folding of
        :func:`sonora.care.classifier.clean`) that are neither all digits nor in
        :data:`sonora.care.blank.FILLER_WORDS`; in scripts written without spaces
        (Thai, Japanese, Chinese) every two characters count as a word.
    """
    words = blank.clean(text).split()
    return sum(_words_in(w) for w in words if not w.isdigit() and w not in blank.FILLER_WORDS)


#: Scripts written without spaces (Thai, kana, Han): about two characters a word.
_NO_SPACES = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _words_in(run: str) -> int:
    n = len(_NO_SPACES.findall(run))
    return 1 if n == 0 else (n + 1) // 2


def _score_inputs(scores: embedding.Scores) -> np.ndarray:
    s = scores
    extra = [s.crisis, s.clinical, s.everyday]
    extra += [s.crisis_vs_everyday, s.crisis_vs_clinical, s.clinical_vs_everyday]
    return np.array(extra, dtype=np.float64)


def dense(vectors: np.ndarray, scores: embedding.Scores) -> np.ndarray:
    """The reader's dense inputs: embedding and prototype scores.

    Parameters
    ----------
    vectors : numpy.ndarray
        From :func:`meaning`; row 0 is the whole note's embedding (384 floats).
    scores : embedding.Scores
        From :func:`meaning`.

    Returns
    -------
    numpy.ndarray
        Shape ``(classifier.N_DENSE,)``, float64.
    """
    return np.concatenate([vectors[0].astype(np.float64), _score_inputs(scores)])


def reader_inputs(text: str) -> tuple[list[str], np.ndarray]:
    """What the trained reader reads for a note (used to train it; see classifier.py).

    Parameters
    ----------
    text : str
        A non-empty note.

    Returns
    -------
    tokens : list of str
        What the rules saw.
    dense : numpy.ndarray
        Shape ``(classifier.N_DENSE,)``: the whole note's embedding, then the six
        prototype scores.
    """
    read = read_rules(text)
    vectors, scores = meaning(read)
    return read.tokens(), dense(vectors, scores)


_CACHE: dict[str, np.ndarray] | None = None


def _pieces_to_encode(pieces: list[str]) -> list[str]:
    # what embedding.embed_pieces encodes: the whole note alone, or its sentences
    return pieces if len(pieces) == 1 else pieces[1:]


@contextmanager
def cached_embeddings(texts: Iterable[str], *, batch: int = 64) -> Iterator[int]:
    """Encode the pieces of many notes in batches; :func:`meaning` reads them from memory.

    For evaluating or training on thousands of notes: encoding them in batches of
    similar length costs a fraction of encoding them one by one. The vectors are the
    sentence model's own (the same encoder, the same pieces); only the batching
    differs, which changes them by float rounding (``tests/care/test_triage.py``
    checks they match :func:`sonora.care.embedding.embed_pieces` to 1e-5).

    Parameters
    ----------
    texts : iterable of str
        Notes as written.
    batch : int, default 64
        Pieces encoded per call.

    Yields
    ------
    int
        How many distinct pieces were encoded.
    """
    global _CACHE
    wanted: set[str] = set()
    for text in texts:
        if rules.normalise(text):
            wanted.update(_pieces_to_encode(embedding.split_pieces(read_rules(text).neutral)))
    order = sorted(wanted, key=len)
    enc = embedding.encoder()
    cache: dict[str, np.ndarray] = {}
    for i in range(0, len(order), batch):
        chunk = order[i : i + batch]
        cache.update(zip(chunk, enc.encode(chunk), strict=True))
    previous, _CACHE = _CACHE, cache
    try:
        yield len(cache)
    finally:
        _CACHE = previous


def _embed_pieces(pieces: list[str]) -> np.ndarray:
    need = _pieces_to_encode(pieces)
    if _CACHE is None or any(p not in _CACHE for p in need):
        return embedding.embed_pieces(pieces)
    parts = np.stack([_CACHE[p] for p in need])
    if len(pieces) == 1:
        return parts
    # as embedding.embed_pieces: the whole note is its sentences' word-weighted mean
    weights = np.array([max(1, len(p.split())) for p in need], dtype=np.float32)
    whole = (weights[:, None] * parts).sum(axis=0)
    whole /= max(float(np.linalg.norm(whole)), 1e-12)
    return np.vstack([whole[None, :], parts]).astype(np.float32)


def is_short(text: str) -> bool:
    """Whether a note is short: at most :data:`SHORT_WORDS` content words and
    :data:`SHORT_LETTERS` letters.

    Triage keeps the rules' crisis call on a short note whatever the trained reader
    says: a few words carry no context that could explain the alarm away.

    Parameters
    ----------
    text : str
        The note as written.

    Returns
    -------
    bool
    """
    letters = sum(1 for c in text if c.isalpha())
    return content_words(text) <= SHORT_WORDS and letters <= SHORT_LETTERS
