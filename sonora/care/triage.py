"""Screen a listener's free-text note into crisis, clinical or everyday.

Sonora is a wellness tool, not a clinical service, so it has to notice when a
note needs more than sound and say so first, plainly and kindly.

Levels
------
crisis
    The note suggests a risk to the listener's life or safety now. The result
    lists the country's crisis line(s) first, then emergency numbers, and the
    app shows them before anything else.
clinical
    The note describes a need that a doctor or a credentialed music therapist
    (HCPC-registered in the UK, MT-BC in the US, MTA in Canada, RMT in
    Australia) can help with. The result points to them; sound is offered as
    company alongside that help, never instead of it.
everyday
    Nothing to add: a calm session is a reasonable thing to offer.

How it decides
--------------
Two layers, combined so that either can raise the level:

1. **Rules** (:mod:`sonora.care.rules`): idioms and explicit denials are
   neutralised first ("this deadline is killing me", "I'm not suicidal"),
   then named patterns look for crisis and clinical signals, including
   negative phrasings that *are* crisis ("I don't want to wake up tomorrow").
2. **Meaning** (:mod:`sonora.care.embedding`): the neutralised note and each
   of its sentences are compared with prototype sentences per level using the
   bundled all-MiniLM-L6-v2 model; a close enough match to a crisis or
   clinical prototype raises the level even when no keyword is present
   ("everyone would be better off without me").

Decisions (see also :mod:`sonora.care.rules`): a plain denial ("I'm not
suicidal, just tired") is everyday; past self-harm with nothing current is
clinical; a crisis signal anywhere wins over everything else. When in doubt
the thresholds lean towards the safer (higher) level.

Examples
--------
>>> from sonora.care.triage import triage
>>> triage("this deadline is killing me").level  # doctest: +SKIP
'everyday'
>>> triage("I don't want to wake up tomorrow", country="US").resources[0]["phone"]  # doctest: +SKIP
'988'
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Literal

import numpy as np

from sonora.care import blank, classifier, concern, embedding, messages, reading, rulebook, rules
from sonora.care.errors import CareError
from sonora.care.resources import (
    clinical_resources,
    resolve_region,
)

__all__ = [
    "CLINICAL_MARGIN",
    "CLINICAL_SIMILARITY",
    "CRISIS_MARGIN",
    "CRISIS_SIMILARITY",
    "LEVELS",
    "MAX_TEXT_CHARS",
    "WARM_UP_NOTE",
    "TriageResult",
    "pattern_signal",
    "start_warm_up",
    "triage",
]

log = logging.getLogger(__name__)

Level = Literal["crisis", "clinical", "everyday"]
LEVELS: tuple[Level, ...] = ("crisis", "clinical", "everyday")

#: Longest note accepted, in characters.
MAX_TEXT_CHARS = 5000

# Thresholds for the meaning layer, tuned on the "dev" rows of
# data/triage_labelled.csv only (benchmarks/triage.py reports "heldout" rows
# separately). Scores are mean cosine similarities to the 3 nearest prototypes.

#: Crisis by meaning: crisis score at least this ...
CRISIS_SIMILARITY = 0.50
#: ... at least this much above the everyday score on the same piece ...
CRISIS_MARGIN = 0.0
#: ... and not more than this below the clinical score on that piece.
CRISIS_CLINICAL_TOLERANCE = 0.05
#: Or: a lower crisis score that stands clearly above both everyday (by this
#: margin) and clinical on the same piece. Catches quiet, keyword-free notes
#: ("it's time I stopped being a burden") whose nearest examples are all crisis.
CRISIS_CLEAR_SIMILARITY = 0.40
CRISIS_CLEAR_MARGIN = 0.11
#: A weaker crisis resemblance that still stands well clear of everyday raises
#: a note to clinical (whose resources end with the crisis line).
CRISIS_SOFT_SIMILARITY = 0.45
CRISIS_SOFT_MARGIN = 0.12
#: Clinical by meaning: clinical score at least this ...
CLINICAL_SIMILARITY = 0.45
#: ... and at least this much above the everyday score on the same piece.
CLINICAL_MARGIN = 0.0


@dataclass
class TriageResult:
    """Outcome of screening one note (or a run of check-ins).

    Parameters
    ----------
    level : {"crisis", "clinical", "everyday"}
        How much more than sound this listener may need.
    reasons : list of str
        Plain-language reasons, strongest first. May note idioms or denials
        that were deliberately *not* counted.
    resources : list of dict
        Help to show, most urgent first; empty for ``"everyday"``. See
        :func:`sonora.care.resources.crisis_resources` and
        :func:`sonora.care.resources.clinical_resources` for the keys.
    message : str
        A short, warm message for the listener ("" for everyday). Not part of
        :meth:`to_dict`; front ends may word their own.
    danger_now : bool
        The note describes danger happening now (an overdose taken, a plan for
        tonight, someone threatening them): the emergency number is listed
        first, then the crisis lines.
    language : str
        Language the note seems to be written in (``"en"``, ``"es"``, ...,
        ``"other"``); see :func:`sonora.care.rulebook.detect_language`.
    unread : bool
        Sonora could not read the whole note (it is not in English): only crisis
        phrases of the languages it knows were screened, and the country's
        crisis resources are shown whatever the level, with a line saying so.
    tentative : bool
        A crisis call on a short note made by the trained reader alone (no rule, no
        concern signal, no emoji of harm). The same crisis resources are shown, but
        the message does not tell the listener that things sound hard: on a few
        words the reader is usually wrong (round S: 16 of 19 such calls were
        everyday notes such as "calm" or "quiet evening") and sometimes right
        ("bought the pills"), so it says plainly what the lines are for.
    medical : bool
        The note describes a medical emergency happening now (someone not breathing
        or not responding, a throat closing, the signs of a heart attack or a
        stroke): the emergency number comes first and the message asks for an
        ambulance, not for someone to talk to.
    """

    level: Level
    reasons: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    danger_now: bool = False
    language: str = "en"
    unread: bool = False
    tentative: bool = False
    medical: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data.

        Returns
        -------
        dict
            Keys ``level``, ``reasons``, ``resources``, ``danger_now``,
            ``language``, ``unread``, ``tentative`` and ``medical``.
        """
        return {
            "level": self.level,
            "reasons": list(self.reasons),
            "resources": [dict(r) for r in self.resources],
            "danger_now": self.danger_now,
            "language": self.language,
            "unread": self.unread,
            "tentative": self.tentative,
            "medical": self.medical,
        }


# ---------------------------------------------------------------------------
# validation


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise CareError("text", f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise CareError("text", f"expected at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    return text


# ---------------------------------------------------------------------------
# the screen


def _semantic_levels(
    read: reading.Reading, scores: embedding.Scores | None
) -> tuple[bool, bool, bool]:
    """(crisis, soft crisis, clinical) by the prototype thresholds, when no reader runs."""
    if scores is None or read.unread or read.explained:
        return False, False, False
    sem_crisis = (
        scores.crisis >= CRISIS_SIMILARITY
        and scores.crisis_vs_everyday >= CRISIS_MARGIN
        and scores.crisis_vs_clinical >= -CRISIS_CLINICAL_TOLERANCE
    ) or (
        # the weaker test only when no clinical rule already explains the note
        not read.clinical
        and scores.crisis >= CRISIS_CLEAR_SIMILARITY
        and scores.crisis_vs_everyday >= CRISIS_CLEAR_MARGIN
        and scores.crisis_vs_clinical >= 0.0
    )
    sem_soft = (
        scores.crisis >= CRISIS_SOFT_SIMILARITY and scores.crisis_vs_everyday >= CRISIS_SOFT_MARGIN
    )
    sem_clinical = (
        scores.clinical >= CLINICAL_SIMILARITY and scores.clinical_vs_everyday >= CLINICAL_MARGIN
    )
    return sem_crisis, sem_soft, sem_clinical


def _reader(
    text: str, read: reading.Reading, vectors: np.ndarray, scores: embedding.Scores
) -> tuple[float, float] | None:
    """Crisis and flagged probabilities from the trained reader, or ``None``."""
    try:
        return classifier.load().read(text, read.tokens(), reading.dense(vectors, scores))
    except Exception:  # a missing or damaged weights file must not stop screening
        log.exception("the trained triage reader could not run")
        return None


def _crisis_without(rest: str, cut: float) -> bool:
    """Whether the note with its figures of speech taken out still reads as crisis.

    The rules decide alone what is left when it is short (:func:`reading.is_short`):
    on "ik ben" or "lol" the trained reader has nothing to read.
    """
    if not rules.normalise(rest) or not rulebook.has_words(rest):
        return False
    read = reading.read_rules(rest)
    if read.crisis:
        return True
    if reading.is_short(rest):  # "ik ben", "lol": too few words left for the reader to read
        return False
    vectors, scores = reading.meaning(read)
    probs = _reader(rest, read, vectors, scores)
    return probs is None or probs[0] >= cut


def _not_read(country: str, region: str | None, what: str) -> TriageResult:
    """Everyday, with the crisis lines: a note with no word Sonora can read."""
    line = (
        f"Sonora could not read this note (it has no words, only {what}), so here is where"
        " to find someone to talk to if you need it."
    )
    res = messages.crisis_list(country, region, danger_now=False)
    reasons = ["the note has no words to read"]
    return TriageResult("everyday", reasons, res, line, language=rulebook.UNKNOWN, unread=True)


def _span(sig: rules.Signal) -> str:
    return f"{sig.reason} (\u201c{sig.span}\u201d)"


#: The note the start-up warm-up screens: everyday, in English, two sentences, so every
#: table (rules, concern families, the reader's weights) is loaded and the sentence model
#: has encoded once before the first listener's note.
WARM_UP_NOTE = "A long day at work. My shoulders are tight and I keep going over a meeting."


def start_warm_up() -> threading.Thread | None:
    """Load and warm the triage reader in a background thread (once per process).

    A server calls this at start-up, without waiting: it loads the rules, the sentence
    model and its prototypes (:func:`sonora.care.embedding.start_background_load`), then
    screens :data:`WARM_UP_NOTE`, so the first listener's note costs what later ones do.
    A note arriving meanwhile waits for this warm-up (at most its ``model_wait_s``), not
    for a second load beside it.

    Returns
    -------
    threading.Thread or None
        The loading thread, or ``None`` if loading already started or finished.
    """
    return embedding.start_background_load(warm=_warm_up)


def _warm_up() -> None:
    triage(WARM_UP_NOTE)


def triage(
    text: str,
    *,
    country: str = "GB",
    region: str | None = None,
    model_wait_s: float | None = None,
) -> TriageResult:
    """Screen a free-text note into crisis, clinical or everyday.

    Parameters
    ----------
    text : str
        The listener's note, at most :data:`MAX_TEXT_CHARS` characters. An
        empty note is everyday.
    country : str, default "GB"
        ISO 3166-1 alpha-2 code used to pick help resources. ``"UK"`` works
        for ``"GB"``; a well-formed code without its own table (``"FR"``)
        gets international resources (a helpline directory and local
        emergency advice).
    region : str, optional
        The listener's region within ``country`` (for GB: ``ENG``, ``SCT``,
        ``WLS``, ``NIR``); see :func:`sonora.care.resources.resolve_region`.
    model_wait_s : float, optional
        Longest time in seconds to wait for the sentence model if it is still
        loading (a server passes 1.0). ``None`` (the default) loads it and
        waits. A note the rules already read as crisis never waits; if the
        model is not ready in time the rules alone decide and a reason says so.

    Returns
    -------
    TriageResult
        ``level``, ``reasons`` (strongest first), ``resources`` (most urgent
        first: for crisis the country's crisis line comes first, or the
        emergency number when ``danger_now``), a short ``message``,
        ``danger_now``, ``language`` and ``unread``.

    Raises
    ------
    CareError
        If ``text`` is not a string or is too long, or ``country`` is not a
        two-letter code. The message names the field and what is allowed.

    Notes
    -----
    The first call in a process loads the sentence model (about 0.2 s of
    CPU); later calls take milliseconds to tens of milliseconds. Nothing is
    sent over the network. The note is encoded once: the prototype check and
    the trained reader share its embedding.
    """
    text = _check_text(text)
    resolve_region(country, region)  # validate both before doing any work
    if model_wait_s is not None and not (
        isinstance(model_wait_s, Real) and 0.0 <= float(model_wait_s) <= 60.0
    ):
        raise CareError("model_wait_s", f"expected seconds from 0 to 60, got {model_wait_s!r}")

    if not rules.normalise(text):
        return TriageResult("everyday", ["the note is empty"], [])
    if not rulebook.has_words(text):  # "aaaaaaa", "...": say so rather than guess a level
        return _not_read(country, region, "a letter repeated or punctuation")
    read = reading.read_rules(text)
    found = read.crisis or read.clinical or read.clinician
    kind = None if found else blank.nothing_to_read(text)
    if kind == "unread":  # "asdfghjkl", "1234567", emoji alone: the reader cannot read them
        return _not_read(country, region, "letters typed at random, numbers or emoji")
    if kind == "filler":  # "hmm", "fine thanks": nothing to screen, nothing to guess from
        return TriageResult("everyday", ["the note has only filler words, nothing to screen"])
    if kind == "wish":  # "sleep", "quiet evening": the listener says what they came for
        named = ", ".join(blank.named_wish(text))
        return TriageResult("everyday", [f"the note names only what you came for ({named})"])
    language, unread = read.language, read.unread
    crisis_sigs, clinical_sigs = read.crisis, read.clinical

    notes: list[str] = []
    if read.idioms:
        notes.append(
            "read as a figure of speech: " + ", ".join(i.replace("_", " ") for i in read.idioms)
        )
    if read.denials:
        notes.append(
            "respected what the note rules out: "
            + ", ".join(d.replace("_", " ") for d in read.denials)
        )
    if unread:
        notes.append(messages.unread_line(language))

    scores: embedding.Scores | None = None
    probs: tuple[float, float] | None = None
    if crisis_sigs and model_wait_s is not None and not embedding.is_ready():
        pass  # the rules already say crisis; never wait for the model
    elif model_wait_s is not None and not embedding.wait_ready(model_wait_s):
        if embedding.load_error() is not None:
            notes.append("the meaning check could not run; rules only")
        else:
            notes.append("the meaning check was still starting; the rules alone decided")
    else:
        try:
            vectors, scores = reading.meaning(read)
        except (ImportError, OSError, RuntimeError) as err:  # pragma: no cover - install
            log.error("triage meaning check unavailable, using rules only: %s", err)
            notes.append("the meaning check could not run; rules only")
        else:
            probs = _reader(text, read, vectors, scores)

    # a short note, or an emoji of harm (which the reader cannot see), weighs below
    harm = blank.has_harm_emoji(text)
    short = reading.is_short(text)
    reader_line = ""
    if probs is not None:
        reader = classifier.load()
        p_crisis, p_flagged = probs
        cut = reader.rule_threshold if crisis_sigs else reader.crisis.threshold
        is_crisis = p_crisis >= cut
        # a short note has no context for the reader to explain away the rules' alarm, or
        # an emoji of harm (which the reader cannot see): it stays crisis
        # and a medical emergency happening now is never explained away by its context
        emergency = concern.is_emergency(crisis_sigs)
        held = ((bool(crisis_sigs) or harm) and short) or concern.is_held(crisis_sigs)
        is_flagged = p_flagged >= reader.flagged.threshold
        alarm = is_crisis or held
        figures, rest = rulebook.hyperboles(text) if alarm and not harm else ([], "")
        if figures and not _crisis_without(rest, reader.crisis.threshold):
            # "mort de rire", "ce taf va me tuer": the figure was the only alarm, the reader
            # alone or the gate's words inside it; the note without it is not a crisis
            is_crisis = held = False
            notes.append(
                "read as a figure of speech, not a crisis: "
                + ", ".join(f"\u201c{f}\u201d" for f in figures)
            )
            if crisis_sigs:
                idioms = ", ".join(f"\u201c{s.span}\u201d" for s in crisis_sigs)
                notes.append(f"the alarming words were the figure of speech: {idioms}")
                crisis_sigs = []
        if held and not is_crisis:
            is_crisis = True
            what = "an emoji of harm" if harm else "the alarm"
            why = (
                "a medical emergency is never set aside"
                if emergency
                else "a last session said as a farewell is never set aside"
                if concern.is_held(crisis_sigs)
                else (f"too few words for context to set aside {what}")
            )
            notes.insert(0, why)
        if crisis_sigs and not is_crisis:
            notes.append(
                "read in context as not a crisis by the trained reader of notes (crisis "
                f"probability {p_crisis:.2f}): "
                + ", ".join(f"\u201c{s.span}\u201d" for s in crisis_sigs)
            )
            crisis_sigs = []
        reader_line = "read as {} by the trained reader of notes (probability {:.2f})"
        sem_crisis = sem_soft = sem_clinical = False
    else:
        sem_crisis, sem_soft, sem_clinical = _semantic_levels(read, scores)
        is_crisis = bool(crisis_sigs) or sem_crisis
        is_flagged = bool(clinical_sigs) or sem_clinical or sem_soft

    # their own clinician or care mentioned: at least clinical (never crisis, see rulebook)
    clinician = [] if is_crisis else read.clinician
    raised = bool(clinician) and not is_flagged
    is_flagged = is_flagged or raised

    if is_crisis:
        reasons = [_span(s) for s in crisis_sigs]
        if probs is not None and probs[0] >= reader.crisis.threshold:
            reasons.append(reader_line.format("crisis", probs[0]))
        if sem_crisis and scores is not None:
            reasons.append(
                f"close in meaning to notes from people in crisis (similarity "
                f"{scores.crisis:.2f}: \u201c{scores.crisis_piece}\u201d)"
            )
        reasons += [_span(s) for s in clinical_sigs] + notes
        danger = rulebook.danger_now(read.neutral, crisis_sigs) or concern.danger_now(
            read.neutral, crisis_sigs
        )
        if danger:
            reasons.insert(0, "describes danger happening now: emergency number first")
        # the reader alone, on a few words: usually wrong, sometimes not (TriageResult)
        tentative = not crisis_sigs and not sem_crisis and not danger and not harm and short
        res = messages.crisis_list(country, region, danger_now=danger)
        medical = concern.is_emergency(crisis_sigs)
        message = messages.crisis_message(
            res, danger_now=danger, tentative=tentative, medical=medical
        )
        if unread:  # the emergency number stays first when there is danger now
            line = messages.unread_line(language)
            message = f"{message} {line}" if danger else f"{line} {message}"
        return TriageResult(
            "crisis",
            reasons,
            res,
            message,
            danger_now=danger,
            language=language,
            unread=unread,
            tentative=tentative,
            medical=medical,
        )

    if is_flagged:
        reasons = [_span(s) for s in clinical_sigs] + [_span(s) for s in clinician]
        if probs is not None and not raised:
            reasons.append(reader_line.format("needing more than sound", probs[1]))
        if sem_clinical and scores is not None:
            reasons.append(
                f"close in meaning to notes that need clinical support (similarity "
                f"{scores.clinical:.2f}: \u201c{scores.clinical_piece}\u201d)"
            )
        if sem_soft and scores is not None:
            reasons.append(
                f"some resemblance to notes from people in crisis (similarity "
                f"{scores.crisis:.2f}: \u201c{scores.crisis_piece}\u201d)"
            )
        reasons += notes
        res = clinical_resources(country, region=region)
        message = messages.clinical_message(country, clinician=bool(clinician))
        if unread:
            res = res + [
                r for r in messages.crisis_list(country, region, danger_now=False) if r not in res
            ]
            message = messages.unread_line(language) + " " + message
        return TriageResult("clinical", reasons, res, message, language=language, unread=unread)

    if unread:
        res = messages.crisis_list(country, region, danger_now=False)
        return TriageResult(
            "everyday", notes, res, messages.unread_line(language), language=language, unread=True
        )
    return TriageResult("everyday", notes, [])


# ---------------------------------------------------------------------------
# patterns across check-ins


def pattern_signal(
    moods: Sequence[float],
    *,
    country: str = "GB",
    region: str | None = None,
    low_mood_max: float = 2.0,
    min_run: int = 3,
) -> TriageResult:
    """Look for a run of very low mood across recent check-ins.

    Parameters
    ----------
    moods : sequence of float
        Mood ratings on a 0-10 scale (0 = worst), oldest first, most recent
        last.
    country : str, default "GB"
        ISO 3166-1 alpha-2 code for the resources; see :func:`triage`.
    region : str, optional
        Region within ``country``; see :func:`triage`.
    low_mood_max : float, default 2.0
        A check-in counts as very low when its mood is at or below this.
    min_run : int, default 3
        How many consecutive most-recent check-ins must be very low.

    Returns
    -------
    TriageResult
        ``"clinical"`` with a gentle suggestion and clinical resources when the
        last ``min_run`` or more check-ins are all very low; otherwise
        ``"everyday"``. Mood numbers alone never make a crisis: only what a
        listener writes can do that.

    Raises
    ------
    CareError
        If ``moods`` is not a sequence of numbers in [0, 10], or the settings
        are out of range.

    Examples
    --------
    >>> pattern_signal([6, 2, 1, 2]).level
    'clinical'
    >>> pattern_signal([1, 1, 5]).level
    'everyday'
    """
    resolve_region(country, region)
    if isinstance(moods, (str, bytes)) or not isinstance(moods, Sequence):
        raise CareError("moods", "expected a sequence of numbers from 0 to 10, most recent last")
    values: list[float] = []
    for i, m in enumerate(moods):
        if isinstance(m, bool) or not isinstance(m, Real) or not math.isfinite(float(m)):
            raise CareError(f"moods[{i}]", f"expected a number from 0 to 10, got {m!r}")
        if not 0.0 <= float(m) <= 10.0:
            raise CareError(f"moods[{i}]", f"expected a number from 0 to 10, got {m!r}")
        values.append(float(m))
    if (
        isinstance(low_mood_max, bool)
        or not isinstance(low_mood_max, Real)
        or not (0.0 <= float(low_mood_max) <= 10.0)
    ):
        raise CareError("low_mood_max", f"expected a number from 0 to 10, got {low_mood_max!r}")
    if isinstance(min_run, bool) or not isinstance(min_run, int) or min_run < 1:
        raise CareError("min_run", f"expected a whole number of at least 1, got {min_run!r}")

    run = 0
    for v in reversed(values):
        if v > low_mood_max:
            break
        run += 1
    if run >= min_run:
        reason = f"the last {run} check-ins all had mood {low_mood_max:g} or lower on a 0-10 scale"
        res = clinical_resources(country, region=region)
        return TriageResult(
            "clinical", [reason], res, messages.clinical_message(country, pattern=True)
        )
    return TriageResult("everyday", [], [])
