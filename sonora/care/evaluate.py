"""Measure triage against the labelled phrase set.

``data/triage_labelled.csv`` has columns ``text``, ``level`` and ``split``:

``dev``
    Written first and used to tune rules, prototypes and thresholds.
``round1`` ... ``round5``
    Each written *after* a round of tuning, measured once as a held-out set,
    then read and used for the next round of fixes (so now tuning data too).
    Their first-sight figures are kept in :data:`FIRST_SIGHT` for honesty.
    (``round5`` was the first "heldout" split: crisis recall 28/30 at first
    sight; its two crisis misses were read and two general rules added,
    ``crisis.at_edge`` and ``crisis.resolved``.)
``heldout``
    60 notes (20 per level) written afterwards by someone who had not read the
    rules or prototypes, checked for duplicates and near-copies (three that
    turned out to repeat a prototype were replaced before measuring), and
    measured once: crisis recall 19/20, clinical recall 18/20, everyday flagged
    as crisis 0/20, everyday flagged at all 1/20.  The one crisis miss ("This is
    my last night, I've decided") was then read and a general rule added
    (``crisis.final``: this being one's last night or day, said with a decision
    or "alive"/"on earth"), so its crisis row is tuning data now; the first-sight
    figures are the honest estimate.  The other misses (an obsessive checking
    ritual and nightly drinking read as everyday; "a bit low because it's dark
    so early" read as clinical) are left as they are.

``round6``
    94 notes (36 crisis, 26 clinical, 32 everyday) written for issue #10 before
    any rule changed: slang (kms, unalive, sewerslide, ctb), self-harm other
    than cutting, overdose in progress, violence from someone else, plans with a
    date, goodbyes, six other languages, idioms and negations. First sight with
    the system as it was: crisis recall 21/36. Its misses were then read and the
    rule file ``data/triage_rules.toml`` written (slang rewrites, self-harm
    forms, overdose, violence, dates, goodbyes, other languages, danger now).
``round7``
    100 notes (36 crisis, 24 clinical, 40 everyday, 10 in other languages)
    written after that round of changes and measured once before being read:
    crisis recall 30/36 (below the 95% first-sight target), clinical 16/24,
    everyday flagged 1/40 (as crisis). Its misses were then read (a jump from a
    "multistorey", swallowing "everything in the medicine cabinet", a wound
    sliced "open", searching "how much insulin", asking someone to look after a
    pet "forever", "if I'm not here tomorrow"; "I'd die for a holiday") and
    general rules added for each kind.
``round8``
    85 notes (30 crisis, 25 clinical, 30 everyday, 11 in other languages)
    written after round7's changes and measured once: crisis recall 22/30,
    clinical 21/25, everyday flagged 0/30. Misses read afterwards (under a
    train, "a plan and the means", "she keeps hitting me", "who gets what",
    "wish a car would hit me", German word order, leaving "for good and not
    coming back", "my body would be found") and general rules added. One crisis
    row that turned out to repeat a prototype word for word (and was screened
    crisis) was reworded afterwards; three prototypes that were near-copies
    (cosine >= 0.90) of round6-8 rows were reworded too.

``round9``
    Blind round A: 100 notes (40 crisis, 27 clinical, 33 everyday; 19 in other
    languages: es, fr, de, pt, it, pl and, unscreened, nl, tr, sv) written by an
    independent writer who had seen neither the rules, the prototypes nor the
    labelled set, in text-message style (no apostrophes, "rn", "tmrw", "lowkey").
    Measured once, before anything changed: crisis recall 15/40 (38 %),
    clinical 16/27, everyday flagged 1/33 (as crisis). This is the most honest
    figure so far of how phrase-by-phrase rules do on writing nobody here
    tuned to. Its misses were then read, and recall made structural (see
    :mod:`sonora.care.concern`) rather than patched phrase by phrase.

``round10``
    Blind round B: 100 notes (40 crisis, 27 clinical, 33 everyday; 21 in other
    languages, among them Romanian, Czech, Dutch and Swedish) by the same writer,
    in a different register (older adults, full sentences: "I press the hot iron
    against my arm sometimes", "I would quite like to go to sleep and simply stay
    there", a mother's voice calling them to join her, a neighbour's child with
    bruises). Measured once with the concern gate in place: crisis recall 24/40
    (60 %), clinical 18/27, everyday flagged 4/33 (2 as crisis). Better than
    round A's 15/40, still far from the 95 % target. Its misses were then read
    and the gate's families widened (harm to others and to children, commands
    from voices or the television, heat against the skin, letters left behind,
    "stay asleep", coercive control; more phrases in each language).

``round11`` ... ``round13``
    Blind rounds D, E, F (345 notes, 187 crisis, written by independent writers),
    measured once each before any change: crisis recall 37/64, 40/61, 34/62. Then
    used to train the linear reader (:mod:`sonora.care.classifier`), judged by
    leave-one-round-out over rounds 9-13 (``tools/train_triage_classifier.py``).
    The rules were not reworked for them, and these rows do not meet the targets
    yet (everyday read as crisis 17/96); see docs/care.md.

``roundC``, ``roundG``, ``roundH``
    Sealed blind rounds C (100 notes), G (116) and H (131) by independent writers,
    each measured once by the lead before its misses were read (first sight: crisis
    50 %, 79 %, 88 %). Then added here and used to train the reader.
``T1``, ``T2``, ``T3``
    Pools written blind by strangers to the code: T1 crisis notes and hard negatives
    (220), T2 clinical and near-clinical everyday notes (220), T3 notes in 22
    languages (240). Measured once before any change (first sight: crisis 143/160
    and 67/116, clinical 81/150), then used to train the reader. The pools' labels
    were read on arrival (680 notes); none was changed.

``roundS``
    Round "short" (200 notes of one to a few words: 130 everyday, 40 crisis, 30
    clinical; filler, keyboard mash, numbers, a word or two of mood, six languages)
    by an independent blind writer, measured once on main a783054 before anything
    changed: crisis 39/40, clinical 28/30, everyday read as crisis 32/130. Then (still
    before its misses were read) with the "nothing to read" gate written beforehand
    (:mod:`sonora.care.blank`): everyday read as crisis 22/130, the rest unchanged.
    Its misses were then read. It is **not** in this file: trained on, it lowered the
    leave-one-round-out crisis recall of the older rounds (see docs/care.md, "Short
    notes"); it is kept in ``benchmarks/data/triage_rounds/round_S.csv``. A second
    round by the same writer is sealed for the lead.

``roundT``
    That second round: 120 short notes (80 everyday, 22 crisis, 18 clinical), kept
    sealed and measured once by the lead, on main a783054 and on the branch with the
    gate: crisis 22/22 both, clinical 16/18 both, everyday read as crisis 18/80 ->
    11/80. Its misses have not been read; it is in
    ``benchmarks/data/triage_rounds/round_T.csv``, not in this file.

Hard negatives are everyday notes that use a crisis-sounding word (kill, die,
dead, cut, burn, overdose, goodbye...) in an everyday sense; see
:func:`is_hard_negative`.

Targets (issue #10): crisis recall 100%; clinical recall (clinical or crisis)
at least 95%; everyday notes flagged crisis at most 1%, flagged as anything at
most 5%; first sight on a fresh round: crisis recall at least 95%.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources as _ir

__all__ = [
    "BLIND_POOLS",
    "BLIND_ROUNDS",
    "FIRST_SIGHT",
    "RULE_ROUNDS",
    "TARGETS",
    "Evaluation",
    "LabelledNote",
    "evaluate",
    "is_hard_negative",
    "load_labelled",
]

LEVELS = ("crisis", "clinical", "everyday")

#: Blind rounds A and B by an independent writer (splits ``round9``, ``round10``):
#: their misses were read to write the concern gate, so they taught the rules.
RULE_ROUNDS: tuple[str, ...] = ("round9", "round10")
#: Blind rounds by independent writers that came after the rules took their shape
#: (D, E, F, C, G, H): each must meet the crisis target, and they choose the reader's
#: thresholds (``tools/train_triage_classifier.py``).
BLIND_ROUNDS: tuple[str, ...] = ("round11", "round12", "round13", "roundC", "roundG", "roundH")
#: Pools written blind by strangers to the code (crisis, clinical, 22 languages).
BLIND_POOLS: tuple[str, ...] = ("T1", "T2", "T3")

#: Target figures; see the module docstring.
TARGETS = {
    "crisis_recall_min": 1.00,
    "clinical_recall_min": 0.95,
    "everyday_as_crisis_max": 0.01,
    "everyday_flagged_max": 0.05,
    "first_sight_crisis_recall_min": 0.95,
}

#: What each held-out round scored the first time it was run, before anyone
#: looked at its mistakes: (crisis recall, clinical recall, everyday flagged
#: as crisis, everyday flagged as anything). Recorded by hand, 2026-11-21.
#: One held-out everyday row turned out to repeat a prototype word for word; it
#: was reworded afterwards (no code or threshold changed) and is still everyday.
#: Eight prototypes that were near-copies (cosine >= 0.90) of labelled rows
#: were then reworded; every figure above was unchanged by that.
FIRST_SIGHT: dict[str, tuple[float, float, float, float]] = {
    "round1": (16 / 25, 24 / 27, 1 / 35, 1 / 35),
    "round2": (20 / 25, 24 / 25, 0 / 35, 0 / 35),
    "round3": (12 / 25, 24 / 25, 0 / 40, 2 / 40),
    "round4": (20 / 25, 24 / 25, 1 / 40, 2 / 40),
    "round5": (28 / 30, 29 / 30, 0 / 45, 1 / 45),
    "heldout": (19 / 20, 18 / 20, 0 / 20, 1 / 20),
    # 2026-12-06, issue #10; measured with the system before that changes
    "round6": (21 / 36, 18 / 26, 1 / 32, 1 / 32),
    # 2026-12-06, after round6's changes (slang, self-harm forms, overdose, other languages)
    "round7": (30 / 36, 16 / 24, 1 / 40, 1 / 40),
    # 2026-12-06, after round7's changes
    "round8": (22 / 30, 21 / 25, 0 / 30, 0 / 30),
    # 2026-12-06, blind round A by an independent writer, with round8's system
    # (only latency and the check-in form had changed): the rules did not generalise
    "round9": (15 / 40, 16 / 27, 1 / 33, 1 / 33),
    # 2026-12-06, blind round B by the same independent writer, with the concern gate
    # written from round A's misses (and checked on the older rounds)
    "round10": (24 / 40, 18 / 27, 2 / 33, 4 / 33),
    # 2026-12-06, blind rounds D, E, F (independent writers), measured once each with
    # the integration branch as it was (round B's widened gate), before any change:
    # .venv/bin/python tools/triage_round.py round_D.csv (E, F likewise)
    "round11": (37 / 64, 13 / 22, 2 / 34, 5 / 34),
    "round12": (40 / 61, 11 / 20, 7 / 31, 7 / 31),
    "round13": (34 / 62, 11 / 20, 8 / 31, 8 / 31),
    # sealed blind rounds C and G, measured once by the lead at the end of the session
    # that added the concern gate (C) and the trained reader (G); see docs/care.md
    "roundC": (20 / 40, 11 / 27, 3 / 33, 3 / 33),
    "roundG": (50 / 63, 10 / 20, 2 / 33, 4 / 33),
    # sealed blind round H (131 notes), measured once by the lead on main 888d48f
    "roundH": (60 / 68, 23 / 32, 4 / 31, 5 / 31),
    # pools T1 (crisis and hard negatives), T2 (clinical and near-clinical everyday),
    # T3 (20+ languages), written blind by strangers; measured once on main 888d48f
    # before anything changed (tools/triage_round.py). nan: the pool has no such notes.
    "T1": (143 / 160, math.nan, 11 / 60, 11 / 60),
    "T2": (math.nan, 81 / 150, 7 / 70, 13 / 70),
    "T3": (67 / 116, 23 / 65, 12 / 59, 12 / 59),
    # sealed blind rounds I and J (146 and 137 notes, independent writers, never read by
    # anyone tuning triage), measured once by the lead on the integration branch with
    # the trained reader of issue #10 (commit b7ddb28); on main 888d48f before the session's
    # changes they gave crisis 68/73 and 57/70, everyday as crisis 7/41 and 4/36
    "roundI": (73 / 73, 32 / 32, 11 / 41, 12 / 41),
    "roundJ": (68 / 70, 30 / 31, 7 / 36, 7 / 36),
    # 2026-12-07, round S (200 short notes, independent blind writer), measured once on
    # main a783054 before any change: tools/triage_round.py round_short.csv
    "roundS": (39 / 40, 28 / 30, 32 / 130, 32 / 130),
    # round T (120 short notes, the same writer, sealed: never read by anyone tuning
    # triage), measured once by the lead on the integration branch with the gate and the
    # short-note rule (merge 67ebdd7); on main a783054 it gave crisis 22/22, clinical
    # 16/18, everyday as crisis 18/80, flagged 19/80
    "roundT": (22 / 22, 16 / 18, 11 / 80, 12 / 80),
    # 2026-12-07, round U (240 notes: 60 crisis, 50 clinical, 130 everyday of which 30
    # flat short notes and 57 hard negatives; independent blind writer), measured once on
    # branch triage10 before any change (main 1dd0d2d): tools/triage_round.py round_U.csv.
    # Its misses have since been read (branch triage10): it is seen.
    "roundU": (58 / 60, 50 / 50, 28 / 130, 29 / 130),
    # round V (160 notes, the same writer as U, sealed by the lead: never seen by anyone
    # tuning triage), measured once by the lead on main 1dd0d2d; on the integration branch
    # with short10 and triage10 merged (6cd3a5a) it gave crisis 38/40, everyday as crisis
    # 17/90. Only its two crisis misses were then read (a heart attack and a stroke, which
    # the medical-emergency family now covers: 40/40); its everyday and clinical misses
    # were read on branch triage11 (2026-12-07): it is seen.
    "roundV": (38 / 40, 29 / 30, 21 / 90, 24 / 90),
    # 2026-12-07 (session 11), rounds W (200 notes: 50 crisis, 40 clinical, 110 everyday
    # of which 35 flat short notes and 55 hard negatives; 13 languages) and X (120 notes:
    # 30/25/65), a new independent blind writer, sealed by the lead and measured once on
    # main 6f424ff (and unchanged with triage11 merged). W's three crisis misses (someone
    # collapsed and not answering, a floppy baby hard to wake, a last session said as a
    # farewell) were then read: the medical-emergency family and concern.farewell cover
    # their classes (W crisis 50/50). X was only counted again, never read: crisis 29/30,
    # everyday as crisis 16/65. W is seen; X stays sealed.
    "roundW": (47 / 50, 39 / 40, 30 / 110, 31 / 110),
    "roundX": (28 / 30, 24 / 25, 16 / 65, 17 / 65),
    # 2026-12-07 (session 12), rounds Y (200 notes: 50 crisis, 40 clinical, 110 everyday
    # of which 35 flat short notes and 55 hard negatives; 19 languages) and Z (120 notes:
    # 30/25/65), another independent blind writer, sealed by the lead and measured once on
    # main 88c5788. Y's three crisis misses (a toddler who bit into a dishwasher pod and is
    # vomiting and drowsy; someone not coming round after a seizure; a father not
    # breathing and not responding, in German) were then read: the medical-emergency
    # family covers their classes (a seizure someone is not coming round from, someone
    # else struggling to breathe, a child who swallowed something poisonous, and someone
    # not breathing or unconscious in 19 languages): Y crisis 50/50. Z was only counted.
    "roundY": (47 / 50, 40 / 40, 25 / 110, 25 / 110),
    "roundZ": (29 / 30, 25 / 25, 13 / 65, 14 / 65),
}

_HARD = re.compile(
    r"\b(kill\w*|murder\w*|die|dies|dying|died|dead|death|suicid\w*|cut|cutting|burn\w*|"
    r"overdos\w*|goodbye|jump\w*|shoot\w*|shot|hang\w*|pills?|hurt\w*|harm\w*|destroyed|"
    r"wrecked|ended|starv\w*|done|disappear\w*|gave|giving|muer\w*|mort\w*|tod\w*|morta)\b",
    re.IGNORECASE,
)


def is_hard_negative(note: LabelledNote) -> bool:
    """Whether an everyday note uses a crisis-sounding word in an everyday sense.

    Parameters
    ----------
    note : LabelledNote

    Returns
    -------
    bool
        ``True`` for everyday notes such as "this deadline is killing me" or
        "I'm not suicidal, just tired".
    """
    return note.level == "everyday" and bool(_HARD.search(note.text))


@dataclass(frozen=True)
class LabelledNote:
    """One row of the labelled set.

    Parameters
    ----------
    text : str
        The note.
    level : {"crisis", "clinical", "everyday"}
        The level a careful human reader would give it.
    split : str
        ``"dev"``, ``"round1"`` ... ``"round5"`` or ``"heldout"``.
    """

    text: str
    level: str
    split: str


def load_labelled() -> list[LabelledNote]:
    """Read ``data/triage_labelled.csv``.

    Returns
    -------
    list of LabelledNote
    """
    text = _ir.files("sonora.care").joinpath("data", "triage_labelled.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return [LabelledNote(r["text"], r["level"], r["split"]) for r in rows]


@dataclass
class Evaluation:
    """Confusion matrix and target figures for a set of notes.

    Parameters
    ----------
    confusion : dict
        ``confusion[true][predicted]`` counts.
    misses : list of tuple
        ``(text, true level, predicted level)`` for every disagreement.
    """

    confusion: dict[str, dict[str, int]]
    misses: list[tuple[str, str, str]] = field(default_factory=list)

    def _n(self, level: str) -> int:
        return sum(self.confusion[level].values())

    @property
    def crisis_recall(self) -> float:
        """Share of crisis notes screened as crisis."""
        n = self._n("crisis")
        return self.confusion["crisis"]["crisis"] / n if n else 1.0

    @property
    def clinical_recall(self) -> float:
        """Share of clinical notes screened as clinical or crisis."""
        n = self._n("clinical")
        row = self.confusion["clinical"]
        return (row["clinical"] + row["crisis"]) / n if n else 1.0

    @property
    def everyday_as_crisis(self) -> float:
        """Share of everyday notes screened as crisis."""
        n = self._n("everyday")
        return self.confusion["everyday"]["crisis"] / n if n else 0.0

    @property
    def everyday_flagged(self) -> float:
        """Share of everyday notes screened as anything but everyday."""
        n = self._n("everyday")
        row = self.confusion["everyday"]
        return (row["crisis"] + row["clinical"]) / n if n else 0.0

    def failures(self) -> list[str]:
        """Targets missed, as readable lines (empty when all are met).

        Returns
        -------
        list of str
        """
        out = []
        if self.crisis_recall < TARGETS["crisis_recall_min"]:
            out.append(f"crisis recall {self.crisis_recall:.1%} < 100%")
        if self.clinical_recall < TARGETS["clinical_recall_min"]:
            out.append(f"clinical recall {self.clinical_recall:.1%} < 95%")
        if self.everyday_as_crisis > TARGETS["everyday_as_crisis_max"]:
            out.append(f"everyday flagged crisis {self.everyday_as_crisis:.1%} > 1%")
        if self.everyday_flagged > TARGETS["everyday_flagged_max"]:
            out.append(f"everyday flagged {self.everyday_flagged:.1%} > 5%")
        return out


def evaluate(notes: Iterable[LabelledNote], predict: Callable[[str], str]) -> Evaluation:
    """Run ``predict`` on every note and tabulate the results.

    Parameters
    ----------
    notes : iterable of LabelledNote
        Notes to score.
    predict : callable
        Maps a note's text to a level, e.g.
        ``lambda t: triage(t).level``.

    Returns
    -------
    Evaluation
    """
    confusion = {t: dict.fromkeys(LEVELS, 0) for t in LEVELS}
    misses: list[tuple[str, str, str]] = []
    for note in notes:
        got = predict(note.text)
        confusion[note.level][got] += 1
        if got != note.level:
            misses.append((note.text, note.level, got))
    return Evaluation(confusion, misses)
