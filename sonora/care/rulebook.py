"""Triage rules kept as data (``data/triage_rules.toml``) and the code that applies them.

The rule tables live in a TOML file so that they can be read, reviewed and
extended without touching code; this module only compiles and applies them.
:mod:`sonora.care.triage` calls, in order:

1. :func:`rewrite_slang` on the normalised note: slang, abbreviations and
   common misspellings become plain words ("kms" -> "kill myself",
   "sewerslide" -> "suicide", "ctb" -> "end my life"), so every later rule and
   the sentence model read the plain form.
2. :func:`rewrite_idioms`: figures of speech become neutral words ("that
   cliffhanger killed me", "overdosed on chocolate").
3. :func:`crisis_signals` and :func:`clinical_signals` on the neutralised
   note, clause by clause.
4. :func:`foreign_signals` on the note with accents folded: crisis phrases in
   Spanish, French, German, Portuguese, Italian and Polish, whatever language
   the note was detected as.
5. :func:`detect_language`: a light offline detector (common-word counts per
   language plus the writing system) that tells whether Sonora could read the
   note at all.
6. :func:`danger_now`: whether a crisis note describes danger happening now.

After the decision, :func:`clinician_signals` finds whether the listener mentions
their own clinician, diagnosis or mental-health service (the ``[[clinician]]``
table): :mod:`sonora.care.triage` then reads an everyday note as clinical. It is
deliberately not an input of the trained reader, so it can never move a crisis call.
:func:`has_words` tells a note with words from one of a letter held down or only
punctuation.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources as _ir

from sonora.care.once import once
from sonora.care.rules import Signal, clauses

__all__ = [
    "ENGLISH",
    "ENGLISH_SHARE_MIN",
    "SCREENED_LANGUAGES",
    "UNKNOWN",
    "Rules",
    "clinical_signals",
    "clinician_signals",
    "crisis_signals",
    "danger_now",
    "detect_language",
    "english_words",
    "fold",
    "foreign_signals",
    "has_words",
    "hyperboles",
    "load_rules",
    "rewrite_idioms",
    "rewrite_slang",
]

ENGLISH = "en"
#: Languages whose crisis phrases are screened (besides English).
SCREENED_LANGUAGES = ("es", "fr", "de", "pt", "it", "pl")
#: Names of languages, for messages.
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "pl": "Polish",
    "nl": "Dutch",
    "sv": "Swedish",
    "tr": "Turkish",
    "id": "Indonesian",
    "ro": "Romanian",
    "cs": "Czech",
    "other": "another language",
    "und": "another language",
}

_NEGATORS = frozenset({"no", "not", "nao", "non", "nie", "pas", "nicht", "nunca", "jamais", "mai"})


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    reason: str = ""
    replace: str = ""
    danger_now: bool = False
    negatable: bool = False
    lang: str = ""


@dataclass(frozen=True)
class Rules:
    """The compiled rule tables (see the TOML file for what each holds)."""

    slang: tuple[_Rule, ...]
    idioms: tuple[_Rule, ...]
    crisis: tuple[_Rule, ...]
    danger: tuple[_Rule, ...]
    clinical: tuple[_Rule, ...]
    foreign: tuple[_Rule, ...]
    languages: dict[str, frozenset[str]]
    clinician: tuple[_Rule, ...] = ()
    clinician_guard: tuple[_Rule, ...] = ()
    hyperbole: tuple[_Rule, ...] = ()


@once
def load_rules() -> Rules:
    """Read and compile ``data/triage_rules.toml`` (cached).

    Returns
    -------
    Rules

    Raises
    ------
    ValueError
        If a pattern does not compile; the message names the rule.
    """
    text = _ir.files("sonora.care").joinpath("data", "triage_rules.toml").read_text("utf-8")
    data = tomllib.loads(text)
    fragments: dict[str, str] = {}
    for key, value in data.get("fragments", {}).items():  # a fragment may use earlier ones
        for name, done in fragments.items():
            value = value.replace("{{" + name + "}}", done)
        fragments[key] = value

    def build(table: str) -> tuple[_Rule, ...]:
        out = []
        for entry in data.get(table, []):
            pat = entry["pattern"]
            for key, value in fragments.items():
                pat = pat.replace("{{" + key + "}}", value)
            if "{{" in pat:
                raise ValueError(f"triage rule {entry['name']!r}: unknown fragment in {pat!r}")
            try:
                compiled = re.compile(pat)
            except re.error as err:
                raise ValueError(f"triage rule {entry['name']!r}: {err}") from err
            out.append(
                _Rule(
                    name=entry["name"],
                    pattern=compiled,
                    reason=entry.get("reason", ""),
                    replace=entry.get("replace", ""),
                    danger_now=bool(entry.get("danger_now", False)),
                    negatable=bool(entry.get("negatable", False)),
                    lang=entry.get("lang", ""),
                )
            )
        return tuple(out)

    return Rules(
        slang=build("slang"),
        idioms=build("idiom"),
        crisis=build("crisis"),
        danger=build("danger"),
        clinical=build("clinical"),
        foreign=build("foreign"),
        languages={k: frozenset(v) for k, v in data.get("languages", {}).items()},
        clinician=build("clinician"),
        clinician_guard=build("clinician_guard"),
        hyperbole=build("hyperbole"),
    )


def fold(text: str) -> str:
    """Lower-case and strip accents ("Żyć" -> "zyc", "Straße" -> "strasse").

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Folded text with single spaces.
    """
    return re.sub(r"\s+", " ", strip_marks(text.lower())).strip()


def strip_marks(text: str) -> str:
    """Accents and marks stripped as :func:`fold` strips them, without lower-casing.

    Compatibility decomposition (Japanese dakuten, Korean syllables into their letters,
    Arabic hamza), combining marks dropped, a few letters replaced. The concern gate
    folds its foreign patterns with it (their regular-expression syntax is ASCII and
    case-sensitive, so it is left as it is).
    """
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = t.replace("ł", "l").replace("ß", "ss").replace("ø", "o").replace("æ", "ae")
    t = t.replace("ı", "i")  # Turkish dotless i has no decomposition
    return t.replace("\u2019", "'").replace("\u2018", "'")


def _rewrite(text: str, table: tuple[_Rule, ...]) -> tuple[str, list[str]]:
    names: list[str] = []
    for rule in table:
        text, n = rule.pattern.subn(rule.replace, text)
        if n:
            names.append(rule.name)
    return re.sub(r"\s+", " ", text).strip(), names


def rewrite_slang(text: str) -> tuple[str, list[str]]:
    """Replace slang, abbreviations and misspellings with plain words.

    Parameters
    ----------
    text : str
        Normalised note (:func:`sonora.care.rules.normalise`).

    Returns
    -------
    text : str
        The rewritten note.
    names : list of str
        Names of the rewrites that applied.

    Examples
    --------
    >>> rewrite_slang("ngl i think i am going to kms")[0]
    'ngl i think i am going to kill myself'
    """
    return _rewrite(text, load_rules().slang)


def rewrite_idioms(text: str) -> tuple[str, list[str]]:
    """Rewrite the figures of speech of the rule file into neutral words.

    Parameters
    ----------
    text : str
        Normalised note after :func:`rewrite_slang`.

    Returns
    -------
    text : str
    names : list of str
    """
    return _rewrite(text, load_rules().idioms)


def _scan(text: str, table: tuple[_Rule, ...]) -> list[tuple[_Rule, str]]:
    found: list[tuple[_Rule, str]] = []
    seen: set[str] = set()
    for piece in [text, *clauses(text)]:
        for rule in table:
            if rule.name in seen:
                continue
            m = rule.pattern.search(piece)
            if m:
                seen.add(rule.name)
                found.append((rule, m.group(0)))
    return found


def _signals(text: str, table: tuple[_Rule, ...]) -> list[Signal]:
    """The signals of one table of the rule file in a neutralised note.

    Parameters
    ----------
    text : str
        Output of :func:`sonora.care.rules.neutralise`.
    table : tuple of _Rule
        ``load_rules().crisis`` or ``load_rules().clinical``.

    Returns
    -------
    list of Signal
        One per rule that matched, in rule order, with the words that matched.
    """
    return [Signal(r.name, r.reason, span) for r, span in _scan(text, table)]


def crisis_signals(text: str) -> list[Signal]:
    """Crisis signals of the rule file in a neutralised note (see :func:`_signals`)."""
    return _signals(text, load_rules().crisis)


def clinical_signals(text: str) -> list[Signal]:
    """Clinical signals of the rule file in a neutralised note (see :func:`_signals`)."""
    return _signals(text, load_rules().clinical)


def foreign_signals(text: str) -> list[Signal]:
    """Crisis phrases in Spanish, French, German, Portuguese, Italian and Polish.

    Parameters
    ----------
    text : str
        The note as written (it is folded here).

    Returns
    -------
    list of Signal
        One per matching rule; a phrase right after a negation ("no quiero
        morir") is skipped when its rule is marked negatable.
    """
    folded = fold(text)
    out: list[Signal] = []
    for rule in load_rules().foreign:
        for m in rule.pattern.finditer(folded):
            before = re.findall(r"[a-z]+", folded[max(0, m.start() - 12) : m.start()])
            if rule.negatable and before and before[-1] in _NEGATORS:
                continue
            name = LANGUAGE_NAMES.get(rule.lang, rule.lang)
            out.append(Signal(rule.name, f"a crisis phrase in {name}", m.group(0)))
            break
    return out


_SENTENCE = re.compile(r"[.!?;\n]+")


def clinician_signals(neutral: str, text: str) -> list[Signal]:
    """Whether the listener mentions their own clinician, diagnosis or mental-health care.

    Parameters
    ----------
    neutral : str
        The neutralised note (:attr:`sonora.care.reading.Reading.neutral`); the
        English rules read it.
    text : str
        The note as written; the rules of other languages read it folded.

    Returns
    -------
    list of Signal
        One per ``[[clinician]]`` rule that matched in a sentence that no
        ``[[clinician_guard]]`` rule matched (a job, someone else's clinician).

    Examples
    --------
    >>> [s.span for s in clinician_signals("my psychiatrist said to rest", "")]
    ['my psychiatrist']
    >>> clinician_signals("my friend is a psychiatrist", "")
    []
    """
    rules = load_rules()
    out: list[Signal] = []
    for rule in rules.clinician:
        source = fold(text) if rule.lang else neutral
        for sentence in _SENTENCE.split(source):
            sentence = sentence.strip()
            m = rule.pattern.search(sentence)
            if m and not any(g.pattern.search(sentence) for g in rules.clinician_guard):
                out.append(Signal(rule.name, rule.reason, m.group(0)))
                break
    return out


def _fold_mapped(text: str) -> tuple[str, list[int]]:
    """:func:`fold` character by character, with the index in ``text`` of each output one."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        f = fold(ch) if not ch.isspace() else " "
        out.append(f)
        where.extend([i] * len(f))
    return "".join(out), where


def hyperboles(text: str) -> tuple[list[str], str]:
    """Figures of speech of dying of something everyday (eleven languages), of work,
    heat or traffic "killing me" (seven), or of a phone, battery or car that "died"
    (``hyperbole.device``, ten).

    Parameters
    ----------
    text : str
        The note as written (it is folded here).

    Returns
    -------
    found : list of str
        The matching words, folded, one per ``[[hyperbole]]`` rule that matched
        ("mort de rire", "morta de cansaco").
    rest : str
        The note as written with those words taken out. :mod:`sonora.care.triage`
        sets aside a crisis call (the reader's, or the gate's when its words were the
        figure) only when the rules find no crisis cue in ``rest`` and the reader,
        reading it, no longer calls it crisis (or ``rest`` is short).

    Examples
    --------
    >>> hyperboles("Bin heute fast gestorben vor Lachen. Guter Tag.")
    (['gestorben vor lachen'], 'Bin heute fast . Guter Tag.')
    """
    folded, where = _fold_mapped(text)
    found: list[str] = []
    cut: list[tuple[int, int]] = []
    for rule in load_rules().hyperbole:
        for m in rule.pattern.finditer(folded):
            if m.group(0) not in found:
                found.append(m.group(0))
            cut.append((where[m.start()], where[m.end() - 1] + 1))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(cut):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    rest = text
    for a, b in reversed(merged):
        rest = rest[:a] + rest[b:]
    return found, re.sub(r"\s+", " ", rest).strip()


#: A run of letters that is one letter held down ("aaaaaaa", "zzzz"): not a word.
_HELD_LETTER = re.compile(r"^(.)\1{2,}$")


def has_words(text: str) -> bool:
    """Whether a note has anything to read: a word, a number or a symbol such as an emoji.

    Parameters
    ----------
    text : str
        The note as written.

    Returns
    -------
    bool
        ``False`` for a note of one letter held down ("aaaaaaa", "zzz zzz") or only
        punctuation ("...", "!!!"): Sonora says it could not read such a note (and
        still shows where to find help) instead of guessing a level from it. Any run
        of letters that is not one letter repeated three or more times counts as a
        word ("k", "ok", "asdf"), and so does any digit ("999") or symbol ("\U0001f62d"),
        so those are read as usual.

    Examples
    --------
    >>> has_words("aaaaaaa"), has_words("..."), has_words("ok"), has_words("999")
    (False, False, True, True)
    """
    runs = re.findall(r"[^\W\d_]+", text)
    if any(not _HELD_LETTER.match(r.lower()) for r in runs):
        return True
    return any(c.isdigit() or unicodedata.category(c) in ("So", "Sm", "Sc") for c in text)


def danger_now(text: str, signals: list[Signal]) -> bool:
    """Whether a crisis note describes danger happening now.

    Parameters
    ----------
    text : str
        The neutralised note.
    signals : list of Signal
        The crisis signals found in it.

    Returns
    -------
    bool
        ``True`` for an overdose taken, someone threatening or hurting them
        now (in English or, by ``[[danger]]`` rules with a ``lang``, matched on the
        accent-folded note, in another language: "er bringt mich um"), self-harm
        happening as they write, a plan for tonight, means at hand, or standing at
        an edge.
    """
    rules = load_rules()
    flagged = {r.name for r in (*rules.crisis, *rules.foreign) if r.danger_now}
    flagged |= {"crisis.threatened", "crisis.took_pills", "crisis.at_edge"}
    if any(s.name in flagged for s in signals):
        return True
    folded = fold(text)  # rules with a `lang` (other languages) read the note accent-folded
    return any(r.pattern.search(folded if r.lang else text) for r in rules.danger)


_LATIN = re.compile(r"[a-z]")
# Letters that English does not use, and the languages that do (each distinct
# letter present adds one to those languages' scores).
_LETTER_HINTS = {
    "es": "ñ¿¡áíóú",
    "fr": "àâçèéêëîïôûœ",
    "de": "äöüß",
    "pt": "ãõçáâêéíóú",
    "it": "àèéìòù",
    "pl": "ąćęłńóśźż",
    "tr": "ışğçöü",
    "sv": "åäö",
    "ro": "ăâîșțşţ",
    "cs": "čďěňřšťůž",
    "nl": "ĳë",
}


def detect_language(text: str) -> str:
    """Guess the language of a note, offline, from very common words.

    Parameters
    ----------
    text : str
        The note as written.

    Returns
    -------
    str
        ``"en"``, a code from :data:`SCREENED_LANGUAGES`, another code from
        the rule file's word lists (``"nl"``, ``"tr"``...), ``"other"`` for a
        note mostly in a script other than Latin, or :data:`UNKNOWN` for a note in
        Latin letters whose words are mostly not English. A note too short to tell
        (no common word of any language) is taken as English.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return ENGLISH
    folded = fold(text)
    latin = sum(1 for c in folded if _LATIN.match(c))
    if latin < 0.5 * len(letters):
        return "other"
    words = re.findall(r"[a-z]+", folded)
    if not words:
        return ENGLISH
    scores = {
        lang: sum(1 for w in words if w in vocab) for lang, vocab in load_rules().languages.items()
    }
    present = set(text.lower())
    for lang, letters_used in _LETTER_HINTS.items():
        if lang in scores:
            scores[lang] += len(present & set(letters_used))
    best = max(scores, key=lambda k: (scores[k], k == ENGLISH))
    en = scores.get(ENGLISH, 0)
    # English unless another language clearly has more of its common words
    if best == ENGLISH or scores[best] < 2 or scores[best] <= en:
        # ... and unless most of its words are not English words at all (Swahili,
        # Turkish or Polish without its letters, Hindi in Latin letters): then
        # Sonora cannot read it and must say so rather than call it everyday
        known = english_words()
        hits = sum(w in known or w + "g" in known for w in words)  # thinkin, feelin
        if len(words) >= 3 and hits < ENGLISH_SHARE_MIN * len(words):
            return UNKNOWN
        return ENGLISH
    return best


#: A Latin-script note is English only if at least this share of its words are in
#: :func:`english_words` (texting-style English measured >= 0.50; other languages that
#: the common-word lists missed <= 0.44, on the blind rounds and pools, 2026-12-06).
ENGLISH_SHARE_MIN = 0.45
#: Language code of a Latin-script note in a language Sonora does not recognise.
UNKNOWN = "und"


@cache
def english_words() -> frozenset[str]:
    """Words of English, from the sentence model's own vocabulary (``data/english_words.txt``).

    Returns
    -------
    frozenset of str
        About 21,700 lower-case words.
    """
    text = _ir.files("sonora.care").joinpath("data", "english_words.txt").read_text("utf-8")
    return frozenset(w for w in text.split("\n") if w and not w.startswith("#"))
