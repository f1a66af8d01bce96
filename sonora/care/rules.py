"""Hand-written rules for triage: normalisation, idioms, denials and signals.

The rules are the first of the two layers in :mod:`sonora.care.triage` (the
second is a sentence-embedding similarity check). They are deliberately
readable: each pattern has a name and a plain-language reason, and the tests
in ``tests/test_triage.py`` pin down the tricky cases.

The tables themselves (contractions, idioms, denials, crisis and clinical
patterns and the fragments they share) are data, in
``data/triage_rules_base.toml``; this module reads them once at import and
holds the code that applies them. Newer rules (slang, more self-harm forms,
other languages, danger now) are in ``data/triage_rules.toml``, applied by
:mod:`sonora.care.rulebook`.

How a note is read
------------------
1. :func:`normalise` lower-cases, straightens quotes and expands contractions
   (``"don't"`` becomes ``"do not"``), so one pattern covers many spellings.
2. :func:`neutralise` rewrites *idioms* (``"this deadline is killing me"``,
   ``"dying to get some sleep"``) and explicit *denials* (``"I'm not
   suicidal"``, ``"I'd never hurt myself"``) into neutral words. A denial is
   only honoured when nothing around it casts doubt on it: ``"I'm not sure I
   won't hurt myself"`` is **not** a denial.
   A denial that is taken back a moment later ("I'm not suicidal. Well, maybe
   I am") is not honoured either.
3. :func:`threat_signals` looks for threats of violence against the listener
   *before* idioms are rewritten, so "he said he'd kill me if I leave" is never
   mistaken for "my boss would kill me if I was late" (a note that laughs it
   off, "lol", or a trivial condition, "if I'm late again", is not a threat).
4. :func:`crisis_signals` and :func:`clinical_signals` look for the remaining
   signals, clause by clause. Some crisis patterns are themselves negative
   ("I don't want to wake up tomorrow"), so negation is handled per pattern,
   never by a blanket "a 'not' nearby cancels everything" rule.

Decisions recorded here
-----------------------
* A plain denial ("I'm not suicidal, just tired") is *everyday*: the denial is
  respected and nothing else in the note is a signal. Any other crisis signal
  in the same note still counts ("I'm not suicidal but I wish I could sleep
  and never wake up" is crisis).
* Past self-harm with no sign that it is current ("I used to self-harm as a
  teenager") is *clinical*, not crisis.
* "I don't want to live like this" is read as crisis; showing a crisis line to
  someone who did not need it costs little, missing someone who did costs a lot.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources as _ir
from typing import Any

__all__ = [
    "Signal",
    "clauses",
    "clinical_signals",
    "crisis_signals",
    "neutralise",
    "normalise",
    "threat_signals",
]


@dataclass(frozen=True)
class Signal:
    """One rule that fired.

    Parameters
    ----------
    name : str
        Stable identifier of the rule, e.g. ``"crisis.end_life"``.
    reason : str
        Plain-language description suitable for a ``reasons`` list.
    span : str
        The normalised text that matched.
    """

    name: str
    reason: str
    span: str


# ---------------------------------------------------------------------------
# the tables, read from data/triage_rules_base.toml


def _load_tables() -> dict[str, Any]:
    text = _ir.files("sonora.care").joinpath("data", "triage_rules_base.toml").read_text("utf-8")
    data = tomllib.loads(text)
    fragments: dict[str, str] = {}
    for name, value in data["fragments"].items():  # a fragment may use earlier ones
        fragments[name] = _expand(value, fragments)
    data["fragments"] = fragments
    return data


def _expand(pattern: str, fragments: dict[str, str]) -> str:
    for name, value in fragments.items():
        pattern = pattern.replace("{{" + name + "}}", value)
    return pattern


_T = _load_tables()
_F: dict[str, str] = _T["fragments"]
_P: dict[str, str] = _T["patterns"]


def _compiled(table: str, *fields: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for entry in _T[table]:
        pat = re.compile(_expand(entry["pattern"], _F))
        if table == "contraction":
            out.append((pat, entry["replace"]))
        else:
            out.append((entry["name"], pat, *(entry[f] for f in fields)))
    return out


_CONTRACTIONS_RE = _compiled("contraction")
_IDIOMS_RE = _compiled("idiom", "replace")
_DENIALS_RE = [(n, p) for n, p in _compiled("denial")]
_CRISIS_RE = _compiled("crisis", "reason")
_CLINICAL_RE = _compiled("clinical", "reason")
_CLAUSE_SPLIT = re.compile(_P["clause_split"])
_RETRACT = re.compile(_P["retract"])
_DOUBT = re.compile(_P["doubt"])
_THREAT_RE = re.compile(_P["threat"])
_JOKE_RE = re.compile(_P["joke"])
_TRIVIAL_IF_RE = re.compile(_P["trivial_if"])
_PAST = re.compile(_P["past"])
_CURRENT = re.compile(_P["current"])
_STRONG_RE = re.compile(r"\b(" + _F["STRONG"] + r")\b")
_MILD_RE = re.compile(r"\b(" + _F["MILD"] + r")\b")
_LONG_RE = re.compile(_F["LONG"])
_MID_RE = re.compile(_F["MID"])

# ---------------------------------------------------------------------------
# normalisation


def normalise(text: str) -> str:
    """Lower-case a note, straighten quotes and expand contractions.

    Parameters
    ----------
    text : str
        The listener's note.

    Returns
    -------
    str
        Normalised text with single spaces.

    Examples
    --------
    >>> normalise("I  don’t want to wake up tomorrow")
    'i do not want to wake up tomorrow'
    """
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    t = re.sub("[\u2010-\u2015]", "-", t)
    t = re.sub(r"self\s*-\s*harm", "self harm", t)
    t = re.sub(r"\bselfharm", "self harm", t)
    for pat, rep in _CONTRACTIONS_RE:
        t = pat.sub(rep, t)
    return re.sub(r"\s+", " ", t).strip()


def clauses(text: str) -> list[str]:
    """Split normalised text into clauses for rule matching.

    Parameters
    ----------
    text : str
        Normalised text (see :func:`normalise`).

    Returns
    -------
    list of str
        Non-empty, stripped clauses.
    """
    return [c.strip() for c in _CLAUSE_SPLIT.split(text) if c and c.strip()]


# ---------------------------------------------------------------------------
# idioms and denials


def neutralise(text: str) -> tuple[str, list[str], list[str]]:
    """Rewrite idioms and honoured denials into neutral words.

    Parameters
    ----------
    text : str
        Normalised text (see :func:`normalise`).

    Returns
    -------
    neutral : str
        The text with idioms and denials replaced.
    idioms : list of str
        Names of the idioms that were rewritten.
    denials : list of str
        Names of the denials that were honoured.

    Examples
    --------
    >>> neutralise(normalise("This deadline is killing me"))[0]
    'this deadline is wearing me out'
    >>> neutralise(normalise("I'm not suicidal, just tired"))[0]
    'i am okay, just tired'
    """
    idioms: list[str] = []
    for name, pat, rep in _IDIOMS_RE:
        text, n = pat.subn(rep, text)
        if n:
            idioms.append(name)
    denials: list[str] = []
    for name, pat in _DENIALS_RE:

        def _sub(m: re.Match[str], _name: str = name, src: str = text) -> str:
            # nothing just before the denial may cast doubt on it, and nothing
            # just after may take it back ("I'm not suicidal. Well, maybe I am")
            start = max(src.rfind(",", 0, m.start()), src.rfind(".", 0, m.start()))
            before = src[start + 1 : m.start()]
            after = src[m.end() : m.end() + 60]
            if _DOUBT.search(before) or _RETRACT.search(after):
                return m.group(0)
            denials.append(_name)
            return "i am okay"

        text = pat.sub(_sub, text)
    return text, idioms, denials


# ---------------------------------------------------------------------------
# crisis signals


def threat_signals(text: str) -> list[Signal]:
    """Find threats of violence against the listener in *normalised* text.

    Run this on the output of :func:`normalise`, before :func:`neutralise`,
    because an idiom rewrite could otherwise hide a real threat.

    Parameters
    ----------
    text : str
        Normalised note.

    Returns
    -------
    list of Signal
        At most one ``crisis.threatened`` signal.
    """
    m = _THREAT_RE.search(text)
    if not m:
        return []
    # "my sister said she'd kill me if I'm late again lol" is a figure of speech
    after = text[m.end() : m.end() + 40]
    if _JOKE_RE.search(text) or _TRIVIAL_IF_RE.match(after):
        return []
    return [Signal("crisis.threatened", "says someone has threatened to hurt them", m.group(0))]


def crisis_signals(text: str) -> tuple[list[Signal], list[Signal]]:
    """Find crisis signals in neutralised text.

    Parameters
    ----------
    text : str
        Output of :func:`neutralise` (normalised, idioms and denials removed).

    Returns
    -------
    crisis : list of Signal
        Signals that mean crisis.
    demoted : list of Signal
        Self-harm mentions that are clearly in the past, which count as
        clinical rather than crisis.
    """
    found: list[Signal] = []
    demoted: list[Signal] = []
    seen: set[str] = set()
    for clause in [text, *clauses(text)]:
        for name, pat, reason in _CRISIS_RE:
            m = pat.search(clause)
            if not m or name in seen:
                continue
            seen.add(name)
            sig = Signal(name, reason, m.group(0))
            if name == "crisis.self_harm" and _PAST.search(text) and not _CURRENT.search(text):
                demoted.append(
                    Signal("clinical.past_self_harm", "mentions past self-harm", m.group(0))
                )
            else:
                found.append(sig)
    return found, demoted


# ---------------------------------------------------------------------------
# clinical signals


def clinical_signals(text: str) -> list[Signal]:
    """Find clinical signals in neutralised text.

    Besides direct mentions (a diagnosis, a condition, a clinician, medication)
    this looks for *persistence*: a strong symptom (low mood, panic, grief,
    crying, flashbacks...) that has lasted weeks or keeps coming back, or a
    milder one (poor sleep, worry, pain, tiredness) that has lasted months.

    Parameters
    ----------
    text : str
        Output of :func:`neutralise`.

    Returns
    -------
    list of Signal
        Clinical signals, in rule order.
    """
    found: list[Signal] = []
    for name, pat, reason in _CLINICAL_RE:
        m = pat.search(text)
        if m:
            found.append(Signal(name, reason, m.group(0)))
    strong = _STRONG_RE.search(text)
    mild = _MILD_RE.search(text)
    long_ = _LONG_RE.search(text)
    mid = _MID_RE.search(text)
    if strong and (long_ or mid):
        span = f"{strong.group(0)} … {(long_ or mid).group(0)}"  # type: ignore[union-attr]
        found.append(
            Signal(
                "clinical.persistent", "describes distress that has lasted or keeps returning", span
            )
        )
    elif mild and long_:
        found.append(
            Signal(
                "clinical.persistent",
                "describes a difficulty that has lasted months",
                f"{mild.group(0)} … {long_.group(0)}",
            )
        )
    return found
