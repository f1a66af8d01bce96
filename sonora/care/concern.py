"""The concern gate: broad word families that escalate unless a narrow explanation applies.

Blind rounds showed that rules written phrase by phrase do not generalise: each
fresh round written by someone else missed a quarter or more of its crisis notes
(25 of 40 in blind round A), because people say the same thing in words nobody
wrote a rule for ("bf choked me again", "drank bleach", "gave my hoodies to my
little bro, he doesnt need to know why"). The gate inverts the burden:

* any reference to dying or ending, not being here, harming the body, pills,
  poisons, weapons or heights, someone hurting, threatening or following the
  listener, goodbyes and giving things away is a **concern**, matched by word
  family (``chok\\w*``: choke, choked, choking), in English and in the screened
  languages (``data/triage_concern.toml``);
* a concern makes the note **crisis** unless a narrow explanation applies:
  a figure of speech or an honoured denial (rewritten away before the gate runs,
  by :mod:`sonora.care.rules` and :mod:`sonora.care.rulebook`); the words are
  about a story, show or game; or they are about someone or something else
  ("my grandma died in May", "my phone is dead") with nothing about the listener.

Clinical families work the same way at the clinical level.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources as _ir

from sonora.care.once import once
from sonora.care.rulebook import strip_marks
from sonora.care.rules import Signal, clauses

__all__ = [
    "EMERGENCY",
    "FAREWELL",
    "Family",
    "accident",
    "concerns",
    "danger_now",
    "explained",
    "in_story",
    "is_clinical",
    "is_emergency",
    "is_held",
    "load_families",
]

_FIRST_PERSON = re.compile(r"\b(i|me|myself|im)\b")
_THIRD_PERSON = re.compile(r"\b(he|she|they|his|her|their|him|them)\b")
_PAST_ONLY = re.compile(
    r"\b(used to|years ago|in the past|as a (teen|teenager|kid|child)|when i was (younger|a teen\w*|"
    r"at school|\d+)|(\d+|two|three|four|five|many|several) years (clean|free|ago))\b"
)
_NOW = re.compile(
    r"\b(again|urges?|relaps\w*|tonight|now|today|yesterday|last night|this week|lately|"
    r"recently|want to|keep)\b"
)
_SENTENCES = re.compile(r"[.!?\n]+")
# An accident, said as one ("burned my hand on the pan"), unless something says otherwise.
_ACCIDENT = re.compile(
    r"\b(accident\w*|by mistake|clumsy|oops|ouch|on the (pan|oven|stove|hob|iron|kettle|tray|"
    r"grill|barbecue|bbq|toaster|radiator|door|corner|table)|(making|cooking|baking|chopping|"
    r"cutting|slicing|peeling) (the |some |a |up |up the )?(onions?|vegetables|veg|bread|meat|"
    r"carrots?|potatoes|dinner|lunch|breakfast|tea|pancakes|cake|food|wood|paper|fabric|"
    r"tomatoes|apples?|cheese|chicken|fish)|(at|in) (the )?(gym|training|practice|match))\b"
)
_DELIBERATE = re.compile(
    r"\b(on purpose|deliberately|again|deserve\w*|punish\w*|wanted to|want to|urges?|"
    r"myself|relaps\w*|clean)\b"
)
_POSSESSION = re.compile(
    r"('s|s)? (old |own |spare |sleeping |prescription |hunting |heart |pain )?(gun|guns|rifle|pistol|"
    r"pills?|tablets?|meds|medication|medicine|insulin|painkillers|razor|blades?|knife|knives|"
    r"car keys|rope|garage|shed|cabinet|cupboard)\b"
)
_NEGATORS = frozenset(
    {"no", "not", "nao", "non", "nie", "pas", "nicht", "nunca", "jamais", "mai", "niet", "inte"}
)
# Words the other languages share with English: English families read them in English notes.
_SHARED_WITH_ENGLISH = re.compile(r"(suicid\w*|adieu|farewell|mort|morte|methods?)$")


@dataclass(frozen=True)
class Family:
    """One family of the concern gate (see ``data/triage_concern.toml``)."""

    name: str
    reason: str
    pattern: re.Pattern[str]
    anchor: str
    level: str
    lang: str
    danger_now: bool


@dataclass(frozen=True)
class _Tables:
    families: tuple[Family, ...]
    media: re.Pattern[str]
    other: re.Pattern[str]


@once
def load_families() -> _Tables:
    """Read and compile ``data/triage_concern.toml`` (cached).

    Returns
    -------
    _Tables
        The families, in file order, and the media and other-subject patterns.

    Raises
    ------
    ValueError
        If a pattern does not compile or a field is out of range; the message
        names the family and the field.
    """
    text = _ir.files("sonora.care").joinpath("data", "triage_concern.toml").read_text("utf-8")
    data = tomllib.loads(text)
    frags: dict[str, str] = {}
    for key, value in data["fragments"].items():
        for k, v in frags.items():
            value = value.replace("{{" + k + "}}", v)
        frags[key] = value

    def expand(pat: str) -> str:
        for k, v in frags.items():
            pat = pat.replace("{{" + k + "}}", v)
        return pat

    families = []
    for i, entry in enumerate(data["family"]):
        name = entry.get("name", f"family[{i}]")
        anchor = entry.get("anchor", "self")
        level = entry.get("level", "crisis")
        if anchor not in ("self", "none"):
            raise ValueError(f"{name}.anchor: expected 'self' or 'none', got {anchor!r}")
        if level not in ("crisis", "clinical"):
            raise ValueError(f"{name}.level: expected 'crisis' or 'clinical', got {level!r}")
        source = expand(entry["pattern"])
        if entry.get("lang"):
            # written in the language's own script; fold it as the note is folded
            source = strip_marks(source)
        try:
            pattern = re.compile(source)
        except re.error as err:
            raise ValueError(f"{name}.pattern: {err}") from err
        families.append(
            Family(
                name=name,
                reason=entry["reason"],
                pattern=pattern,
                anchor=anchor,
                level=level,
                lang=entry.get("lang", ""),
                danger_now=bool(entry.get("danger_now", False)),
            )
        )
    return _Tables(
        tuple(families), re.compile(frags["MEDIA"]), re.compile(r"\b" + frags["OTHER_SUBJECT"])
    )


def _about_someone_else(clause: str, start: int, end: int, other: re.Pattern[str]) -> bool:
    """Whether the words at ``clause[start:end]`` are about someone or something else.

    The nearest subject before the words decides: another person, a pet or a
    thing ("my grandma died", "the battery is dead", "she cut her hair") means
    someone else; I, me or myself means the listener. With no subject before
    them, "death of my grandma" (someone else named just after) is someone else;
    anything else is about the listener (texts often drop the "I").
    """
    before = clause[max(0, start - 40) : start]
    subjects = [(m.end(), "self") for m in _FIRST_PERSON.finditer(before)]
    subjects += [
        (m.end(), "other")
        for m in other.finditer(before)
        # "my dads gun": the gun, not the dad, is what the words are about
        if not _POSSESSION.match(before[m.end() :] + clause[start:end])
    ]
    subjects += [(m.end(), "other") for m in _THIRD_PERSON.finditer(before)]
    if subjects:
        return max(subjects)[1] == "other"
    after = clause[end : end + 40]
    named = re.match(r"\s*(of|for) (my |our |his |her |their |the |a )?", after)
    return bool(other.match(after.lstrip()) or (named and other.match(after[named.end() :])))


def concerns(neutral: str, folded: str, *, language: str = "en") -> list[Signal]:
    """The concern families that fire in a note.

    Parameters
    ----------
    neutral : str
        The neutralised English reading of the note (idioms and honoured denials
        already rewritten; see :func:`sonora.care.rules.neutralise`).
    folded : str
        The note as written, lower-cased with accents folded
        (:func:`sonora.care.rulebook.fold`), for the other languages.
    language : str, default "en"
        The detected language; foreign families run on every note whatever it
        is (a note may mix languages), English families on the neutral text.

    Returns
    -------
    list of Signal
        One per family that fired, named ``concern.*`` (``concern.clinical_*``
        and ``concern.foreign_clinical`` are clinical; the rest crisis), with the
        words that matched. Self-harm that is clearly only in the past is
        returned as ``concern.clinical_past_harm``.
    """
    tables = load_families()
    out: list[Signal] = []
    sentences = [s for s in _SENTENCES.split(neutral) if s.strip()] or [neutral]
    for fam in tables.families:
        if fam.lang:
            for m in fam.pattern.finditer(folded):
                if language == "en" and _SHARED_WITH_ENGLISH.match(m.group(0)):
                    continue  # "suicidal" in an English note is the English word
                words = m.group(0).split()
                before = re.findall(r"[a-z]+", folded[max(0, m.start() - 25) : m.start()])[-3:]
                if words and words[0] not in _NEGATORS and _NEGATORS & set(before):
                    continue  # "no quiero morir": a denial, in that language
                out.append(Signal(fam.name, fam.reason, m.group(0).strip()))
                break
            continue
        hit = _first_hit(fam, sentences, tables)
        if hit is None:
            continue
        if (
            fam.name == "concern.self_harm"
            and _PAST_ONLY.search(neutral)
            and not _NOW.search(neutral)
        ):
            out.append(Signal("concern.clinical_past_harm", "mentions past self-harm", hit))
            continue
        out.append(Signal(fam.name, fam.reason, hit))
    return out


_WATCHING = re.compile(
    r"\b(i|me)( am| was| have| just)? (watch|read|play|saw|seen|finish|love|like|listen|binge|"
    r"start|done with|obsessed with|hooked on|bored of|sick of)\w*\b"
)


def _story_sentence(sentence: str, media: re.Pattern[str]) -> bool:
    """A sentence about a story (a book, show, film, game...) and not about the listener.

    The listener may be there only as its reader or watcher ("reading a book where
    the main character overdoses"); any other first-person word keeps it theirs.
    """
    if not media.search(sentence):
        return False
    return not _FIRST_PERSON.search(_WATCHING.sub(" ", sentence))


def _first_hit(fam: Family, sentences: list[str], tables: _Tables) -> str | None:
    singles = list(sentences)
    if len(sentences) > 1:  # "tired. of everything. permanently.": the note as one sentence
        sentences = [*sentences, " ".join(x.strip() for x in sentences)]
    for k, sentence in enumerate(sentences):
        if _story_sentence(sentence, tables.media):
            continue  # a story, a show, a game: not the listener's life
        joined = k == len(singles)
        parts = clauses(sentence)
        # a clause about a story or a game, with the listener in it only as its reader or
        # player ("my character died again on the boss, I need to calm down"): the words
        # there are about the story, even when another clause of the sentence is theirs
        story = [c for c in parts if _story_sentence(c, tables.media)]
        mine = [c for c in parts if c not in story]
        for clause in [sentence, *mine]:
            for m in fam.pattern.finditer(clause):
                if joined and any(m.group(0) in s for s in singles):
                    # the note as one sentence is for words that run across sentences; words
                    # inside one sentence were read there ("the main character dies")
                    continue
                if (
                    clause is sentence
                    and story
                    and any(m.group(0) in c for c in story)
                    and not any(m.group(0) in c for c in mine)
                ):
                    continue
                if (
                    fam.name == "concern.self_harm"
                    and _ACCIDENT.search(sentence)
                    and not _DELIBERATE.search(sentence)
                ):
                    continue
                if (
                    fam.anchor == "self"
                    and not _FIRST_PERSON.search(m.group(0))  # "he would finish me": the listener
                    and _about_someone_else(clause, m.start(), m.end(), tables.other)
                ):
                    continue
                return m.group(0).strip()
    return None


#: The family of a medical emergency happening now (someone not breathing or not
#: responding): never set aside by the reader, emergency number first.
EMERGENCY = "concern.medical_emergency"


def is_emergency(signals: list[Signal]) -> bool:
    """Whether the crisis signals include a medical emergency happening now."""
    return any(sig.name == EMERGENCY for sig in signals)


#: The family of a last session framed as a farewell: kept crisis whatever the reader
#: says (the reader, trained on thanks to the app, reads it as everyday).
FAREWELL = "concern.farewell"
#: Families the trained reader never sets aside, and never sees among its inputs.
HELD = frozenset({EMERGENCY, FAREWELL})


def is_held(signals: list[Signal]) -> bool:
    """Whether the crisis signals include one the reader never sets aside (:data:`HELD`)."""
    return any(sig.name in HELD for sig in signals)


def is_clinical(sig: Signal) -> bool:
    """Whether a concern signal is at the clinical level."""
    return sig.name.startswith("concern.clinical") or sig.name == "concern.foreign_clinical"


_TAKEN = re.compile(r"^(drank|drink|drinking|swallow\w*|took|taking|ate|had|downed|downing)\b")
_PRESENT = re.compile(
    r"\b(now|right now|tonight|outside|coming|here|in (my|the) (room|house|flat)|keeps?|"
    r"again|dizzy|spinning|shaking|can not breathe)\b"
)


_FOREIGN = {f"concern.{x}" for x in ("es", "fr", "de", "pt", "it", "pl", "nl", "sv", "tr")}
# pills already swallowed, in the screened languages (folded)
_FOREIGN_TAKEN = re.compile(
    r"\b(za duzo|zjadl\w*|polknel\w*|lyknel\w*|tome|tomado|trague|avale|pris|genommen|"
    r"geschluckt|tomei|engoli|preso|ingoiat\w*|me bateu|me pega|me golpea|bateu)\b"
)


def danger_now(neutral: str, signals: list[Signal]) -> bool:
    """Whether the gate's crisis signals describe danger happening now.

    Parameters
    ----------
    neutral : str
        The neutralised note.
    signals : list of Signal
        The note's crisis signals.

    Returns
    -------
    bool
        ``True`` for something already swallowed (pills, bleach), someone
        hurting, threatening or following the listener now or again, or a medical
        emergency (someone not breathing or not responding, a throat closing).
    """
    for sig in signals:
        if sig.name == EMERGENCY:
            return True
        if sig.name == "concern.means" and _TAKEN.match(sig.span):
            return True
        if sig.name == "concern.hurt_by_someone" and _PRESENT.search(neutral):
            return True
        if sig.name in _FOREIGN and _FOREIGN_TAKEN.search(sig.span):
            return True
    return False


def in_story(neutral: str, span: str) -> bool:
    """Whether ``span`` occurs only in sentences about a story, a show or a game.

    Parameters
    ----------
    neutral : str
        The neutralised note.
    span : str
        Words a rule matched.

    Returns
    -------
    bool
        ``True`` when every sentence containing ``span`` names a book, show,
        film, game, character... and the listener is in it only as its reader or
        watcher ("reading a book where the main character overdoses" is a story;
        "this show makes me want to die" is not).
    """
    media = load_families().media
    found = [s for s in _SENTENCES.split(neutral) if span and span in s]
    if not found:
        return False
    return all(_story_sentence(s, media) for s in found)


_ROUTINE_MEDICINE = re.compile(
    r"\b(for (my|the|her|his) (thyroid|blood pressure|asthma|diabetes|hay fever|allergies|heart|"
    r"cholesterol|epilepsy|migraines?|period|back|headaches?|cold|flu|skin|acne|arthritis)|"
    r"as prescribed|every (day|morning|night) for)\b"
)


def explained(neutral: str) -> bool:
    """Whether the whole note has a plain everyday explanation the sentence model cannot see.

    An accident told as one, a note entirely about a story (a film where everyone
    dies), or routine medicine ("my tablets every day for my thyroid"), with no
    concern family firing: the model is then not allowed to raise the note on
    resemblance alone.

    Parameters
    ----------
    neutral : str
        The neutralised note.

    Returns
    -------
    bool
    """
    media = load_families().media
    sentences = [x for x in _SENTENCES.split(neutral) if x.strip()]
    story = bool(sentences) and all(_story_sentence(x, media) for x in sentences)
    return accident(neutral) or story or bool(_ROUTINE_MEDICINE.search(neutral))


def accident(neutral: str) -> bool:
    """Whether the note tells of an accident and nothing deliberate ("cut my finger chopping onions").

    Parameters
    ----------
    neutral : str
        The neutralised note.

    Returns
    -------
    bool
    """
    return bool(_ACCIDENT.search(neutral)) and not _DELIBERATE.search(neutral)
