"""Notes with nothing to read: keyboard mash, numbers, emoji alone, filler.

Check-in notes are often short, and a short note can carry no meaning at all:
"asdfghjkl", "1234567", "\U0001f44d", "hmm", "idk", "fine thanks", "nothing much
really". The trained reader (:mod:`sonora.care.classifier`) learnt from notes that
say something; on these it extrapolates (every emoji-only note is the same vector
to the sentence model, its unknown-word token), and at its recall-tuned threshold
that extrapolation read many of them as crisis. This module says, before the
reader runs, that a note has nothing in it to screen, so that triage can say so
instead of guessing a level.

Two kinds (see :func:`nothing_to_read`):

``"unread"``
    No word Sonora knows: only letters typed at random (a run of five or more
    letters from one row of the keyboard, or six or more without a vowel, that is
    a word of no language Sonora knows; on the top row, four neighbouring keys in
    order), numbers, emoji or other symbols, a letter
    held down, punctuation. Triage says it could not read the note and shows the
    crisis lines anyway, as it does for a note of punctuation alone.
``"filler"``
    Only words that acknowledge or hedge and say nothing about the listener
    ("hmm", "idk", "ok", "fine thanks", "whatever", "nothing much really"),
    possibly with numbers, emoji or mash. Everyday.
``"wish"``
    Only words naming what Sonora itself offers (see :func:`named_wish`): a goal of
    the check-in form ("sleep", "unwind", "ease anxiety"), a sound family or a word
    of a built-in scene's name ("rain", "bowls", "ocean at night"), a word for the
    calm it offers ("calm", "quiet", "rest"), with at most times of day ("tonight",
    "evening"), lengths of time, a few joining words and the filler words beside
    them. The listener is telling Sonora what they came for. Everyday.

What is never blank: a note in which the rules or the concern gate found anything
(triage asks only when they found nothing), a note with an emoji of harm (a knife,
pills, a syringe, blood, a coffin or headstone, a skull and crossbones, a gun, a
rope knot, a razor), a note with letters of a script other than Latin, and any
word that is not in the short lists below (so "not ok", "tired", "cant anymore",
"done", "bye" are read as usual). The filler lists are English; a short note in
another language is read by the reader as before. A wish is never a note with any
emoji or other symbol, nor one with only a time of day or joining words ("tonight"),
and words that are euphemisms in crisis speech ("peace", "forever", "away", "gone",
"end", "final", "long", "eternal") are deliberately not in its lists: "sleep
forever", "final rest" and "want to sleep" are read as usual.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from sonora.care import rulebook

__all__ = [
    "FILLER_PHRASES",
    "FILLER_WORDS",
    "HARM_EMOJI",
    "WISH_COMPANIONS",
    "WISH_PHRASES",
    "WISH_WORDS",
    "Blank",
    "clean",
    "has_harm_emoji",
    "named_wish",
    "nothing_to_read",
]

Blank = Literal["unread", "filler", "wish"]

#: Words that only acknowledge, hedge or fill (after folding: lower case, no
#: apostrophes, letter runs shortened to two: "hmmmm" -> "hmm", "okayyy" -> "okayy").
FILLER_WORDS: frozenset[str] = frozenset(
    """
    hm hmm mm mmm um umm uh uhh er erm ah ahh oh ohh eh ooh
    idk dunno meh ok okay okayy okey k kk fine good alright allright aight
    thanks thank thx ty cheers whatever lol yeah yep yes ya yea sure well really
    pretty quite kinda sorta so just same usual
    """.split()
)

#: Two-word fillers, matched as whole words before the single words.
FILLER_PHRASES: tuple[str, ...] = (
    "thank you",
    "nothing much",
    "nothing really",
    "nothing new",
    "nothing special",
    "not much",
    "not bad",
    "same old",
    "as usual",
    "as always",
    "all good",
    "so so",
    "no worries",
)

#: Emoji that can mean harm: a note with one of them is never blank.
HARM_EMOJI: frozenset[str] = frozenset(
    "\U0001f52a\U0001f48a\U0001f489\U0001fa78\u26b0\U0001faa6\u2620\U0001f52b\U0001faa2\U0001fa92"
    "\U0001f5e1\U0001f4a3\U0001f9e8"
)

#: Words naming what Sonora offers, any one of which makes a note a wish: the goals
#: of the check-in form (``sonora.plan.GOALS``, their labels on the form) and their
#: word forms; the sound families (``sonora.plan.FAMILIES``), their labels and what
#: their sounds are called; the nouns of the built-in scenes' names
#: (``sonora.scenes.builtin_names()``); words for the calm Sonora offers. A test
#: checks that every goal, family and scene name is covered. Never here: a word that
#: alone is a euphemism in crisis speech (peace, forever, away, gone, end, ...).
WISH_WORDS: frozenset[str] = frozenset(
    """
    sleep sleeping asleep nap unwind unwinding focus focusing
    rain rainfall raining water wind windy noise bowls bowl gong gongs chimes chime
    drone drones melody melodies breath breathe breathing binaural beats
    waves wave ocean stream streams forest garden pacer night
    calm calming calmer quiet quieter rest resting restful relax relaxing relaxed
    relaxation soft gentle soothing chill cosy cozy meditate meditation mindfulness
    music sound sounds soundscape ambient nature session
    """.split()
)

#: Words that may stand beside a :data:`WISH_WORDS` word but never make a wish
#: alone: times of day and lengths of time, joining words, the describing words of
#: scene names and family labels ("deep drone", "pink noise", "gong bath"), and the
#: places and outputs of the check-in form ("in bed", "headphones"). "night" is a
#: wish word, not a time: two built-in scenes are named for it. No article: a wish
#: is telegraphic ("ocean at night"), while "the water tonight" reads like a sentence
#: and goes to the reader.
WISH_COMPANIONS: frozenset[str] = frozenset(
    """
    morning afternoon evening nights tonight bedtime nighttime midday lunchtime today
    time min mins minute minutes hour hours
    some and or with at for of in before after then more bit little please
    deep brown pink white warm singing bath bed headphones speaker
    """.split()
)

#: Phrases of the check-in form and everyday speech, matched as whole words first;
#: their words count only inside them ("fall" alone, "anxiety" alone are read as usual).
WISH_PHRASES: tuple[str, ...] = (
    "ease anxious feelings",
    "ease anxiety",
    "fall asleep",
    "wind down",
    "all night",
)

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_VOWELS = frozenset("aeiouy")
_PHRASES = re.compile(r"\b(" + "|".join(re.escape(p) for p in FILLER_PHRASES) + r")\b")
_LETTERS = re.compile(r"[^\W\d_]+")
_LATIN_WORD = re.compile(r"[a-z]+")
_DIGITS = re.compile(r"\d+")
_HELD = re.compile(r"^(.)\1+$")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_NON_WORD = re.compile(r"[\W_]+")
_WISH_PHRASES = re.compile(r"\b(" + "|".join(re.escape(p) for p in WISH_PHRASES) + r")\b")
#: Unicode categories a wish may be written in: letters, numbers, punctuation, spaces.
_PLAIN = frozenset("LNPZ")


def _known(word: str) -> bool:
    """Whether a word is one of English or of a language in the rule file's word lists."""
    if word in rulebook.english_words():
        return True
    return any(word in vocab for vocab in rulebook.load_rules().languages.values())


def _mash(word: str) -> bool:
    """Whether a folded Latin word looks typed at random (see the module docstring)."""
    if _HELD.match(word):
        return True
    # the top row has most vowels, so real words fit it ("typewriter"): there, only
    # four keys in a row ("qwer", "poiu") count
    row = next((r for r in _ROWS if set(word) <= set(r)), None)
    one_row = len(word) >= 5 and row is not None
    if row == _ROWS[0]:
        one_row = one_row and any(
            row[i : i + 4] in word or row[i : i + 4][::-1] in word for i in range(7)
        )
    no_vowel = len(word) >= 6 and not (set(word) & _VOWELS)
    return (one_row or no_vowel) and not _known(word)


def clean(text: str) -> str:
    """The folding of :func:`sonora.care.classifier.clean`, without numpy.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Lower-case letters (any script, accents removed) and digits separated by
        single spaces; apostrophes dropped, runs of a letter shortened to two.
    """
    t = rulebook.fold(text).replace("'", "").replace("\u2019", "")
    return _NON_WORD.sub(" ", _REPEATS.sub(r"\1\1", t)).strip()


def has_harm_emoji(text: str) -> bool:
    """Whether a note has an emoji of harm (:data:`HARM_EMOJI`).

    The sentence model reads every emoji as the same unknown token and the word
    features drop them, so the reader cannot see these; triage keeps a short note
    with one of them crisis (see :func:`sonora.care.reading.is_short`).

    Parameters
    ----------
    text : str

    Returns
    -------
    bool
    """
    return any(c in HARM_EMOJI for c in text)


def named_wish(text: str) -> tuple[str, ...]:
    """The things a note names that Sonora offers, when that is all it says.

    Parameters
    ----------
    text : str
        The note as written. Triage asks only when the rules and the concern gate
        found nothing in it.

    Returns
    -------
    tuple of str
        The :data:`WISH_PHRASES` and :data:`WISH_WORDS` of the note, in order (folded,
        lower case), when every word of it is one of those, a
        :data:`WISH_COMPANIONS` word, a filler word or phrase or a number, at least one
        is a wish word or phrase, and it has no emoji or other symbol; else ``()``.

    Examples
    --------
    >>> named_wish("Sleep"), named_wish("rain and bowls tonight"), named_wish("tonight")
    (('sleep',), ('rain', 'bowls'), ())
    >>> named_wish("sleep forever"), named_wish("want to sleep"), named_wish("sleep \U0001f634")
    ((), (), ())
    """
    if any(
        unicodedata.category(c)[0] not in _PLAIN and not c.isspace() for c in text
    ):  # an emoji or symbol can say what the words do not
        return ()
    if any(not ("a" <= c <= "z") for c in rulebook.fold("".join(_LETTERS.findall(text)))):
        return ()  # another script: the reader reads it
    found: list[str] = []
    rest = _PHRASES.sub(" ", clean(text))
    for piece in _WISH_PHRASES.split(rest):
        if piece in WISH_PHRASES:
            found.append(piece)
            continue
        for word in piece.split():
            if word in WISH_WORDS:
                found.append(word)
            elif not (word in WISH_COMPANIONS or word in FILLER_WORDS or _DIGITS.fullmatch(word)):
                return ()
    return tuple(found)


def nothing_to_read(text: str) -> Blank | None:
    """Whether a note has nothing in it to screen, and of which kind.

    Parameters
    ----------
    text : str
        The note as written. Triage asks only when the rules found nothing in it.

    Returns
    -------
    {"unread", "filler", "wish"} or None
        ``"unread"``: no word Sonora knows (mash, numbers, emoji, symbols);
        ``"filler"``: only filler words, perhaps with those; ``"wish"``: only words
        naming what Sonora offers (:func:`named_wish`); ``None``: anything else,
        which is read as usual.

    Examples
    --------
    >>> nothing_to_read("asdfghjkl"), nothing_to_read("1234567"), nothing_to_read("hmm")
    ('unread', 'unread', 'filler')
    >>> nothing_to_read("fine thanks"), nothing_to_read("not ok"), nothing_to_read("tired")
    ('filler', None, None)
    >>> nothing_to_read("quiet evening"), nothing_to_read("final rest")
    ('wish', None)
    """
    if has_harm_emoji(text):
        return None
    if named_wish(text):
        return "wish"
    letters = "".join(_LETTERS.findall(text))
    if any(not ("a" <= c <= "z") for c in rulebook.fold(letters)):
        return None  # another script (or a letter fold keeps): the reader reads it
    t = _PHRASES.sub(" ", clean(text))
    filler = t != clean(text)
    for word in t.split():
        if word in FILLER_WORDS:
            filler = True
        elif not (_DIGITS.fullmatch(word) or (_LATIN_WORD.fullmatch(word) and _mash(word))):
            return None
    if filler:
        return "filler"
    return "unread"
