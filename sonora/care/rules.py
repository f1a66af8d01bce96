"""Hand-written rules for triage: normalisation, idioms, denials and signals.

The rules are the first of the two layers in :mod:`sonora.care.triage` (the
second is a sentence-embedding similarity check). They are deliberately
readable: each pattern has a name and a plain-language reason, and the tests
in ``tests/test_triage.py`` pin down the tricky cases.

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
import unicodedata
from dataclasses import dataclass

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
# normalisation

_CONTRACTIONS: list[tuple[str, str]] = [
    (r"\bcan'?t\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bwon'?t\b", "will not"),
    (r"\bshan'?t\b", "shall not"),
    (r"\bain'?t\b", "am not"),
    (
        r"\b(do|does|did|is|are|was|were|have|has|had|would|could|should|must|need)n'?t\b",
        r"\1 not",
    ),
    (r"\bi'?m\b", "i am"),
    (r"\bi'?ve\b", "i have"),
    (r"\bi'd\b", "i would"),
    (r"\bi'll\b", "i will"),
    (
        r"\b(it|that|there|what|he|she|who|everything|nothing|life)'s (been|got|gone|had)\b",
        r"\1 has \2",
    ),
    (r"\b(it|that|there|what|he|she|who|everything|nothing|life)'s\b", r"\1 is"),
    (r"\b(you|we|they)'re\b", r"\1 are"),
    (r"\b(you|we|they|would|could|should|might|must)'ve\b", r"\1 have"),
    (r"\b(you|we|they|he|she|it|everyone|everybody|people)'d\b", r"\1 would"),
    (r"\b(you|we|they|he|she|it|that)'ll\b", r"\1 will"),
    (r"\bwanna\b", "want to"),
    (r"\bgonna\b", "going to"),
    (r"\bgotta\b", "got to"),
    (r"\bkinda\b", "kind of"),
    (r"\bmyself\b", "myself"),
    (r"\bmy self\b", "myself"),
    (r"\bu\b", "you"),
]
_CONTRACTIONS_RE = [(re.compile(p), r) for p, r in _CONTRACTIONS]


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


_CLAUSE_SPLIT = re.compile(r"(?:[.!?;:\n]+|,|\s-\s|\bbut\b|\balthough\b|\bthough\b)")


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

# (name, pattern, neutral replacement). Replacements keep the sense of the
# sentence for the embedding model ("wearing me out") while removing the
# violent or deathly word that is not meant literally.
_IDIOMS: list[tuple[str, str, str]] = [
    ("killing_me", r"\b(killing|murdering) me\b", "wearing me out"),
    (
        "killed_me",
        r"\b(workout|class|run|day|week|shift|commute|meeting|walk|hike|session|that|this)"
        r" (really |totally |absolutely |literally )?(killed|kills|murdered) me\b",
        r"\1 wore me out",
    ),
    ("kill_for", r"\b(could|would|will) (literally |honestly )?(kill|murder) for\b", "would love"),
    (
        "kill_object",
        r"\b(kill|kills|killed|killing) (it|time|the lights|the engine|the mood|the vibe|"
        r"two birds|my buzz|the buzz)\b",
        "manage it",
    ),
    ("killer", r"\bkiller\b", "tough"),
    ("murder", r"\b(is|was|are|were) (absolute |pure |sheer |total )?murder\b", r"\1 hard"),
    ("murder_on", r"\bmurder on\b", "hard on"),
    (
        "kill_person",
        r"\b(going to|will|would|could) (kill|murder|strangle) (him|her|them|you|my [a-z]+)"
        r"(?= (if|when|for|because|lol|haha))",
        "be cross with someone",
    ),
    (
        "would_murder_me",
        r"\b(would|will|is going to) (kill|murder) me (if|for|when)\b",
        r"would be cross \3",
    ),
    ("dying_to", r"\bdying (to|for)\b", r"longing \1"),
    (
        "died_of",
        r"\b(nearly |almost |could have |practically |literally )?(died|dying|die|dead) "
        r"(of|from|with|in) (laughter|laughing|embarrassment|shame|boredom|curiosity|fright|"
        r"the heat|this heat|heat|the cold|cold|hunger|thirst|jealousy|envy|cuteness)\b",
        r"felt so much \4",
    ),
    ("died_laughing", r"\b(nearly |almost )?died laughing\b", "laughed a lot"),
    (
        "to_death",
        r"\b(bored|scared|worried|tired|frightened|freezing|starving|stressed)"
        r" (half )?to death\b",
        r"very \1",
    ),
    ("sick_to_death", r"\bsick (and tired |to death )of\b", "fed up with"),
    ("to_die_for", r"\bto die for\b", "wonderful"),
    ("dead_on_feet", r"\bdead on my feet\b", "exhausted"),
    ("dead_adj", r"\bdead (tired|beat|boring|serious|quiet|set|easy|keen)\b", r"very \1"),
    (
        "dead_device",
        r"\b(phone|battery|laptop|car|plant|plants|headphones|earbuds|tablet|wifi|internet|"
        r"router|kindle|torch|remote|charger|tv)( is| was| has| had| just)? (dead|died|dying)\b",
        r"\1 stopped working",
    ),
    ("dead_end", r"\bdead[- ]end\b", "stuck"),
    ("over_dead_body", r"\bover my dead body\b", "no way"),
    ("deaths_door", r"\bdeath'?s door\b", "very ill"),
    ("died_down", r"\bdied (down|out|away)\b", r"calmed \1"),
    (
        "swallow_me",
        r"\b(want|wanted|wish|wished)( for)? the (ground|earth|floor) to (open up and )?"
        r"swallow me( up| whole)?\b",
        "felt very embarrassed",
    ),
    (
        "sleep_forever_idiom",
        r"\bcould (sleep|nap) (forever|for a week|for days|for a year|for a month|for ever)\b",
        "am very tired",
    ),
    ("sleep_for_week", r"\bsleep for (a week|a month|a year|days)\b", "sleep a lot"),
    ("shoot_me", r"\b(just )?shoot me now\b", "how tedious"),
    (
        "kill_me_now",
        r"\bkill me now\b(?=.*\b(meeting|another|again|email|call|monday)\b)",
        "how tedious",
    ),
    (
        "casual_ocd",
        r"\b(so|a bit|bit|little bit|kind of|totally|such a|very) (ocd|adhd)\b",
        "particular",
    ),
    ("end_of_tether", r"\bend of my (tether|rope)\b(?= with)", "fed up"),
    (
        "panic_idiom",
        r"\b(mini|little|slight|nearly had a|almost had a|bit of a) panic( attack)?\b",
        "fright",
    ),
    ("killing_it", r"\b(smashing|crushing|nailing) it\b", "doing well"),
    (
        "killed_myself_laughing",
        r"\b(nearly |almost )?kill(ed|ing)? myself laughing\b",
        "laughed a lot",
    ),
    (
        "killing_myself_work",
        r"\bkilling myself (trying to|to (finish|get|meet|make|keep|hit|please|impress)|over "
        r"(this|that|a|an|the|my) (exam|deadline|project|job|work|essay|report|assignment|"
        r"presentation|thesis|dissertation))\b",
        "working very hard",
    ),
    (
        "suicide_loss",
        r"\b(died|death|lost [a-z]+( [a-z]+)?) (by|to|from) suicide\b",
        "a bereavement",
    ),
    ("suicide_topic", r"\bsuicide (prevention|awareness|squad|doors?|watch)\b", r"\1"),
    ("retail_therapy", r"\bretail therapy\b", "shopping"),
    ("my_therapy", r"\b(is|was|are) (my|pure|such|like) therapy\b", r"\1 helpful"),
    (
        "accident",
        r"\b(accidentally |by accident )?(cut|burnt|burned|hurt|scratched|scalded|injured|hit|"
        r"bumped|banged) myself"
        r"(?= ((while|when) (i was |i am )?(cooking|shaving|chopping|gardening|playing|running|"
        r"lifting|i fell|falling|slicing|climbing|cycling|training|moving|working|exercising)|on "
        r"(the|a) (stairs|step|door|corner|table|ice|bike|trampoline|pavement|oven|kettle|hob)|at "
        r"(the gym|work|football|netball|rugby)|in the (gym|kitchen|garden)|cooking|shaving|"
        r"chopping|gardening|playing|running|lifting|falling|slicing|by accident))",
        "had a small accident",
    ),
    (
        "accidentally",
        r"\baccidentally (cut|burnt|burned|hurt|scratched|scalded) myself\b",
        "had a small accident",
    ),
]
_IDIOMS_RE = [(n, re.compile(p), r) for n, p, r in _IDIOMS]

_RETRACT = re.compile(
    r"^.{0,40}?\b(maybe i am|perhaps i am|actually i am|or maybe|or am i|who knows|i lied|i am "
    r"lying|or i was|i might be|maybe not|i think i am|i do not know (if|whether) i am|not sure "
    r"(if|whether|that) i am|(i do not know|not sure)( anymore| any more)?(?=\s*([.,!?;]|$)))"
)
_DOUBT = re.compile(
    r"\b(not sure|unsure|do not know|not certain|can not promise|can not say|hope|doubt|"
    r"worried|afraid|scared|frightened|wonder|whether|if i)\b"
)

_HARM_ACTS = (
    r"(kill(ing)? myself|end(ing)? (my (own )?life|it all|everything|things)|hurt(ing)? myself|"
    r"harm(ing)? myself|take my (own )?life|taking my (own )?life|commit(ting)? suicide|"
    r"self harm(ing)?|cut(ting)? myself|act on (it|them|those thoughts)|"
    r"do anything (stupid|silly|drastic|to (hurt|harm) myself))"
)
_DENIALS: list[tuple[str, str]] = [
    (
        "not_suicidal",
        r"\b((i am|i have|am|feel|feeling|been|being|was) )?(not|never|no longer|nowhere near)"
        r"( been)?( at all| remotely| actually| really| even| in any way)?"
        r"( feeling)?( [a-z]+ (or|and|nor))? suicidal( or anything| or in danger| or in crisis)?"
        r"\b",
    ),
    (
        "would_never",
        r"\b((i|i am|i would|i will|i could|am|would|will|could) )?(not|never)( ever)?"
        r" (going to |planning to |plan to |want to |trying to |thinking (of|about) |"
        r"about to |intending to |intend to |do |actually )?" + _HARM_ACTS + r"\b",
    ),
    (
        "no_thoughts",
        r"\bno (suicidal |self harm |dark )?(thoughts|ideation|urges|plans?|intent(ions?)?)"
        r"( (of|about|to|around) ([a-z]+ ){0,2}?(suicide|myself|my life|self harm|dying|"
        r"ending it|ending things))?\b(?! (but|yet|until))",
    ),
    ("not_want_die", r"\b(do not|never|not) (want|wish|plan|going) to die\b"),
    ("not_in_crisis", r"\b(not|never) (in (a )?crisis|in danger|at risk)\b"),
    ("safe", r"\bi am (safe|okay|ok|fine)( though| really| honestly)?$"),
    (
        "no_diagnosis",
        r"\b(not|never|no|do not have|have not got|have no)( been| got| any| a| an| formal)?"
        r" (diagnos[a-z]+|mental (health|illness) (issues|problems|condition|history)|"
        r"condition)\b",
    ),
    (
        "not_depressed",
        r"\b(not|never|no longer|nowhere near|hardly)( really| feeling| that| at all| clinically)?"
        r" (depressed|hopeless|numb)\b",
    ),
]
_DENIALS_RE = [(n, re.compile(p)) for n, p in _DENIALS]


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

# Trailing words allowed between a phrase and the end of its clause.
_END = (
    r"(?:\s+(?:anymore|any more|any longer|tomorrow|again|at all|like this|now|really|"
    r"honestly|to be honest|ever|tonight|in the morning|if i am honest|or exist|either|"
    r"anyway))*\s*$"
)
_LIVE = (
    r"(live|living|be alive|being alive|exist|existing|be here|being here|wake up|waking up|"
    r"go on|going on|carry on|carrying on|keep going|be around|stay alive|be in this world|"
    r"do life)"
)

_CRISIS: list[tuple[str, str, str]] = [
    ("crisis.suicide", r"\bsuicid[a-z]*", "mentions suicide or feeling suicidal"),
    (
        "crisis.kill_self",
        r"\b(kill|killing|killed|off|offing|top|topping) myself\b",
        "mentions killing themselves",
    ),
    (
        "crisis.end_life",
        r"\b(end|ending|ended|take|taking|took) (my|my own) life\b|\bend(ing)? (it all|"
        r"everything)\b|\bend(ing)? things\b(?! with)|\bend(ing)? it\b(?= (for good|forever|"
        r"tonight|soon|today|now))",
        "mentions ending their life",
    ),
    (
        "crisis.not_alive",
        r"\b(do not|not|no longer|never) (want|wish|feel like|see the point|see any point)"
        r" (in |of )?(to )?" + _LIVE + _END,
        "says they do not want to be alive",
    ),
    (
        "crisis.unsure_alive",
        r"\b(not sure|unsure|do not know|not certain) (if |that |whether )?i (want|wish|can)"
        r" (to )?" + _LIVE + r"\b",
        "is unsure they want to be alive",
    ),
    (
        "crisis.wish_dead",
        r"\b(wish|wishing|want|wanted|hoping|hope|pray|praying)( that)? (i (was|were|had|could|"
        r"would|am) (dead|gone|be gone|never been born|not born|never born|never existed|just "
        r"die|die|not wake up|not be here)|to (be dead|die|just die|not exist|stop existing|"
        r"not be alive|stop being alive|never wake up|not wake up)|i (do not|would not|will not)"
        r" wake up|it would (all )?(end|be over)|something would (kill|happen to) me)\b",
        "wishes they were dead",
    ),
    (
        "crisis.rather_dead",
        r"\b(rather|better) (be )?dead\b|\bbetter off (dead|in (the|my) (ground|grave)|six feet "
        r"under|in a box)\b|\b(rather|better) (be )?(in the ground|in my grave|six feet under)\b",
        "says they would rather be dead",
    ),
    (
        "crisis.never_wake",
        r"\b(go to sleep|fall asleep|sleep|drift off) and (just |simply )?(never|not) (have to |"
        r"need to |ever )?"
        r"wake up\b|\bnever wake up\b"
        r"|\bsleep forever\b",
        "wishes not to wake up",
    ),
    (
        "crisis.better_off",
        r"\bbetter off (dead|without me|if i (was|were|am) (gone|dead|not here|not around))\b"
        r"|\bbetter (off )?without me\b|\bbetter if i (was|were) (gone|dead|not here|not around|"
        r"never born)\b|\b(doing|do|did) (everyone|everybody|them|people|my family|the world|my "
        r"kids|him|her) a (favour|favor)\b.{0,40}\b(not being here|not being around|if i (was|were)"
        r" gone|by (dying|going|disappearing)|gone)\b|\b(easier|happier|lighter) for (everyone|"
        r"everybody|them|my family|my kids) if i (was|were|am) (gone|dead|not here|not around)\b",
        "feels others would be better off without them",
    ),
    (
        "crisis.burden",
        r"\b(i am|i feel like|feel like|i feel|i have become)( just| such| only| nothing but)? a"
        r" burden( to| on) (everyone|everybody|my family|the people|them|people|all of them|"
        r"the world|my kids|my children)\b",
        "feels they are a burden to everyone",
    ),
    (
        "crisis.burden_stop",
        r"\b(stop|stopped|stopping) being a burden\b|\b(kids|children|family|son|daughter|they|"
        r"everyone|everybody|he|she) would be (fine|better|happier|okay|ok|better off) (without me|"
        r"with (their|his|her|my) (dad|father|mum|mom|mother|family|grandparents|nan|gran)|if i "
        r"(was|were) gone|when i am gone|once i am gone)\b",
        "feels others would be better off without them",
    ),
    (
        "crisis.goodbye",
        r"\b(wrote|writing|written|write|left|leave|leaving)( a| my)? (goodbye|suicide|farewell)"
        r" (note|letter|message|video)s?\b|\bsaying (my )?goodbyes\b|\bsay(ing)? my goodbyes\b"
        r"|\bsaid my goodbyes\b|\balready (said|say|saying) (my )?goodbyes?\b|\bsaid goodbye to "
        r"(everyone|everybody|my (family|kids|children|dog|cat|pets?|friends|parents))\b(?!.*\b("
        r"party|leaving|moving|holiday|trip|airport|station|farewell|school|work)\b)|\bthis is (m"
        r"y|the) (last|final) (note|message|check ?in|entry|"
        r"goodbye)\b|\b(last time|never again) (you|anyone|anybody) (will|is going to) hear from me"
        r"\b|\b(wrote|written|writing|write|left|leave|leaving) (the |some )?(notes|"
        r"letters|a note|a letter|messages|videos) (for|to) (my family|everyone|everybody|my kids"
        r"|my"
        r" children|my parents|my partner|my wife|my husband|my mum|my mom|my dad|my friends|the "
        r"people i love|when i am gone)\b",
        "mentions saying goodbye",
    ),
    (
        "crisis.giving_away",
        r"\b(giving|gave|give|given|give) (away )?(all )?(of )?(my|all my) (things|stuff|belongin"
        r"gs|"
        r"possessions|treasures|valuables) away\b|\bgiving away (all )?(of )?(my|all my) (things|"
        r"stuff|belongings|possessions|treasures|valuables)\b|\bsorting out my (affairs|will)\b"
        r"|\bputting my affairs in order\b|\bmy will\b.{0,40}\b(just in case|when i am gone|after "
        r"i am gone|for when|in case anything)\b|\b(gave|given|giving|give|sold|selling) (away )?"
        r"(all )?"
        r"(my|all my) .{0,40}\b(will not|do not|would not|no longer|never) need (them|it|any of"
        r" (it|this|them)|those|these)\b",
        "mentions giving possessions away",
    ),
    (
        "crisis.method",
        r"\boverdos[a-z]*\b|\b(hang|hanging) myself\b|\b(jump|jumping|throw myself) (off|from)"
        r" (a |the |that |this )?(bridge|building|roof|cliff|balcony|tower|car park|multi storey)"
        r"|\b(jump|jumping|step|stepping|walk|walking|throw myself) (out )?in front of (a |the )?"
        r"(train|bus|car|lorry|truck|traffic)|\bslit(ting)? my (wrists?|throat)\b|\b(stockpil|"
        r"sav|hoard|collect|stash)[a-z]* (up )?(my |the |some |enough )?(pills|tablets|meds|"
        r"medication|paracetamol|painkillers)\b|\b(stash|stockpile|hoard|supply|collection|"
        r"pile|box|bag) of (pills|tablets|meds|paracetamol|painkillers|sleeping pills)\b"
        r"(?=.*\b(hid|hidden|hiding|saved|saving|ready|drawer|secret|just in case)\b)|\btake "
        r"(everything|all the pills|all my pills|all the tablets|all my tablets|the lot|all of "
        r"them|the whole lot)( that is)? (in|from) (the|my) (medicine|bathroom) (cabinet|cupboard)"
        r"|\b(keep|kept|been|am|sit|sat|sitting) (looking at|staring at|holding|touching) (the |my "
        r"|a )?(knives?|blades?|razors?|rope|noose|pills|tablets|gun|tracks|bridge|ledge)\b"
        r"|\b(bought|got|have|found|keep|tied|made|making|tying|tie) (a |the |my )?(rope|noose)\b"
        r"|\b(sat|sitting|sit|lay|lying|was|been|stood|standing)\b[a-z ]{0,25}\bwith (a|the|my) "
        r"(razor|razor blade|blade|knife|rope|noose|pills|bottle of pills)\b"
        r"|\b(want|going|planning|plan|tempted) to (crash|wreck) (my|the) (car|bike)\b|\b(how|way"
        r"s|easiest way|best way|quickest way) to (die|kill myself|end "
        r"my life|end it)\b|\blethal dose\b|\bhow many (pills|tablets|paracetamol|painkillers)"
        r"|\b(drive|driving|crash|crashing|steer|steering) (my car |the car )?(into|off) (a |the )?"
        r"(wall|tree|bridge|lorry|truck|oncoming|river|cliff|motorway)|\bwalk(ing)? into the "
        r"(sea|river|lake)\b|\bmake it look like an accident\b"
        r"|\b(research|researching|researched|look up|looking up|looked up|googl[a-z]*|search"
        r"[a-z]*|reading about|read up on) (the |different )?((quickest|easiest|best|fastest|most "
        r"painless|least painful|painless|surest) )?(ways?|methods?|how) (to|of) (do it|go|die|"
        r"end it|kill|going)\b|\b(quickest|easiest|fastest|most painless|least painful|painless|"
        r"surest) way (to|of) (do it|go|die|end it|going)\b"
        r"|\b(step|stepping|jump|jumping|throw myself|throwing myself|fall|falling|let myself fall"
        r"|lean|leaning) (off|over|in front|out)\b.*\b(platform|ledge|edge|tracks|roof|cliff|"
        r"bridge|balcony|window|train)\b|\b(platform|ledge|edge|tracks|roof|cliff|bridge|balcony|"
        r"window)\b.*\b(step|stepping|jump|jumping|throw myself|fall|falling|let myself fall)"
        r"( off| over| in front| out)?\b"
        r"|\b(crash|crashing|drive|driving|steer|steering|swerve|swerving)( my| the)? (car|bike"
        r"|van)?.{0,30}\b(on purpose|deliberately|into (a|the|oncoming))\b"
        r"|\b(have|made|got|making|worked out) a plan\b.{0,40}\b(do it|go through with it|end it|"
        r"carry it out)\b",
        "mentions a method or plan to end their life",
    ),
    (
        "crisis.took_pills",
        r"\b(took|taken|have taken|swallowed|downed) (a lot of|too many|all (of )?my|loads of|"
        r"a bunch of|a handful of|the whole (box|bottle|packet) of|a whole (box|bottle|packet) of|"
        r"\d+) (pills|tablets|paracetamol|meds|sleeping (pills|tablets)|painkillers|of my [a-z ]+"
        r"(pills|tablets))\b",
        "may have taken an overdose",
    ),
    (
        "crisis.self_harm",
        r"\bself harm[a-z]*|\b(cut|cutting|burn|burning|burnt|hurt|hurting|harm|harming|hit|"
        r"hitting|scratch|scratching|punch|punching) myself\b|\b(cut|cutting|burn|"
        r"burning|slash|slashing) my (arms?|wrists?|legs?|skin|thighs?)\b|\burges? to (cut|hurt|"
        r"harm|burn)\b|\b(scratch|scratching|scratched|pick|picking|picked|bite|biting|bit|hit|"
        r"hitting|punch|punching|punched)[a-z ]{0,25}\buntil (they|it|i|my [a-z]+) (bleed|bleeds|"
        r"bled|bruise|bruised|bruises)\b|\b(cutting|burning|harming) (again|more|deeper)\b|\bcuts"
        r"? (are )?"
        r"(getting )?deeper\b|\b(been|started|keep|kept|stop|stopped) cutting\b(?! (down|back|"
        r"out|up|off|corners|costs|carbs|sugar|ties|class|classes|the|my hair|hair|grass|wood|"
        r"fabric|onions|vegetables|things))",
        "mentions hurting themselves",
    ),
    (
        "crisis.disappear_forever",
        r"\b(disappear|vanish|go away)[a-z]* (forever|for good|permanently|and never come back)\b"
        r"|\b(want|wish|wanted|need)( to)?( just)? (stop existing|not exist|cease to exist|"
        r"not be here anymore)\b|\b(go|drive|walk|leave|head) (somewhere|off|away)[a-z ]{0,20} and"
        r" (not|never) (come|coming) back\b",
        "wants to disappear for good",
    ),
    (
        "crisis.stop_for_good",
        r"\b(want|wish|need|would like)( for)? (it all|everything|all of (it|this)|all this|"
        r"life|my life) to (stop|end|be over)\b|\bhope[a-z]* (the|my|this) (cancer|illness|diseas"
        r"e|tumou?r|infection) (wins|gets me|takes"
        r" me|kills me)\b|\b(want|wish|need|would like)( for)? (it|this|the"
        r" pain|things|the hurt) to (stop|end|be over) (for good|forever|permanently)\b",
        "wants everything to stop for good",
    ),
    (
        "crisis.no_reason",
        r"\b(no|not any|not a single) (reason|point|purpose) (in |to |for |of )?(me )?(living|live|"
        r"life|being alive|go on|going on|carrying on|carry on|keep going|being here|existing|"
        r"staying alive|stay alive|wake up|waking up)\b|\b(life|living|my life) (is not|is no "
        r"longer|does not feel|does not seem) worth (it|living)\b|\bnot worth living\b|\bwhat is"
        r" the point (of|in) (living|being alive|life|going on|me|carrying on|staying alive)\b",
        "sees no reason to live",
    ),
    (
        "crisis.tired_of_life",
        r"\b(tired|sick|weary|exhausted|done) (of|by|with) (life|living|being alive|existing|"
        r"being here)\b",
        "is tired of being alive",
    ),
    (
        "crisis.death_relief",
        r"\b(death|dying|being dead|funeral|not being here|not being alive|not waking up|not "
        r"existing)\b.{0,30}\b(relief|peaceful|peace|a release|freedom|a rest)\b",
        "finds the thought of death a relief",
    ),
    (
        "crisis.no_future",
        r"\b(no|can not see a|can not see any|do not see a|do not see any|can not imagine a|can not"
        r" picture a) future (for me|for myself|at all|ahead|left)?"
        + _END
        + r"|\b(can not|do not) see (myself|me) (getting through|surviving|making it through|being"
        r" (here|around|alive) (for|at|by|next|in))\b"
        + r"|\bnothing (left )?to live for\b|\bno one (left )?to live for\b|\b(had|have had) "
        r"enough of (life|living|being alive|everything|it all)\b",
        "cannot see a future",
    ),
    (
        "crisis.join_dead",
        r"\b(want|wish|long|need|going) to (join|be with) (my )?[a-z]+ (in heaven|on the other si"
        r"de|"
        r"again)\b(?=.*\b(died|passed|gone|heaven|dead|lost)\b)|\b(join|be with) (him|her|them) "
        r"(in heaven|on the other side)\b",
        "wants to join someone who has died",
    ),
    (
        "crisis.not_care_die",
        r"\b(do not|would not|no longer) care (if|whether) i (live|die|wake up|am alive|survive|"
        r"make it)\b|\bdeserve to die\b|\bhope (i|a) [a-z ]{0,20}(hit by|run over by) (a|the) "
        r"(bus|car|train|lorry|truck)\b|\b(going|want) to end it\b" + _END,
        "does not care whether they live",
    ),
    (
        "crisis.want_out",
        r"\bi (just )?want out" + _END + r"|\bi want out of (life|this life|this world|"
        r"everything|existence)\b",
        "wants out of life",
    ),
    (
        "crisis.let_go",
        r"\b(would be|it is|it would be|so) (so )?(easy|easier|tempting) to (just )?(let go|give "
        r"up|"
        r"slip away|fade away|not wake up)" + _END,
        "finds it tempting to let go of life",
    ),
    (
        "crisis.no_way_out",
        r"\bno (way|escape) out"
        + _END
        + r"|\b(death|dying|suicide|ending it) (is|seems|feels like)"
        r" (the|my) only (way out|option|answer|escape|choice)\b|\b(only|one) way out (is|would be)"
        r" (to die|death|dying|ending it)\b|\b(going to|want to|about to|ready to) jump"
        + _END
        + r"|\b(ready|prepared) to (die|go|end it)"
        + _END
        + r"|\b(do not|not|never) deserve to "
        r"(live|be alive|exist|be here)\b|\b(nobody|no one|noone) (would|will) (care|notice|miss "
        r"me) if i (died|was dead|were dead|was gone|were gone|disappeared|killed myself|did it)\b",
        "sees death as the only way out",
    ),
    (
        "crisis.cant_go_on",
        r"\b(can not|could not) (go on|carry on|keep going|keep living|live like this|stay alive|"
        r"survive this)" + _END,
        "says they cannot go on",
    ),
    (
        "crisis.not_make_it",
        r"\b(not|never) (going to )?(make it|survive) (through )?(the night|tonight|the week|"
        r"until morning|till morning)\b|\b(will not|may not|might not) be (here|around|alive)"
        r" (much longer|for long|anymore|any more|by (the )?morning)\b|\bit will all be over"
        r" soon\b|\b(do not think|doubt|not sure|do not know if) i will (be here|be around|be "
        r"alive|still be here|still be around|make it|see) (for|by|at|next|much|to see|the end|"
        r"another|christmas|my birthday|tomorrow|the weekend)",
        "does not expect to survive",
    ),
    (
        "crisis.harm_others",
        r"\b(thoughts?|urges?|afraid|scared|worried|frightened) (of|to|that i (will|might|would|"
        r"could)) (hurt|harm|kill|hurting|harming|killing) (my (baby|child|children|kids?|son|"
        r"daughter|partner|wife|husband)|someone|somebody|people|others)\b",
        "worries they may hurt someone",
    ),
    (
        "crisis.unsafe",
        r"\b(not|do not feel|never feel) safe (at home|with (him|her|them|my (partner|husband|wife|"
        r"boyfriend|girlfriend|dad|mum|mom|father|mother|stepdad|stepmum)|myself))\b|\b(he|she|"
        r"my (partner|husband|wife|boyfriend|girlfriend|dad|father|mum|mom|mother|stepdad|ex)) "
        r"(hits|hit|beats|beat|chokes|choked|strangles|strangled|threatens|threatened|hurts|kicks"
        r"|kicked|punches|punched) me\b|\b(in danger|not safe) (right now|now|tonight|here)\b"
        r"|\bi do not (feel safe|trust myself)" + _END + r"|\b(can not|do not think i can|not "
        r"sure i can|unable to) keep myself safe\b",
        "may not be safe",
    ),
    (
        # somewhere high, at an edge, right now: "standing on the roof of my building",
        # "sat on the ledge"; a terrace, garden or bar on a roof is not an edge
        "crisis.at_edge",
        r"\b(i am|i have been|been|now|am) (standing|stood|sitting|sat|perched|balancing|up)"
        r"( up)? (on|at) (the )?(edge of (the |a |my )?|top of (the |a |my )?)?(the |a |my )?"
        r"(roof|rooftop|ledge|parapet|railings?|cliff|cliff edge|bridge)\b"
        r"(?! (terrace|garden|bar|party|deck|top bar|with friends))",
        "says they are at a height or an edge right now",
    ),
    (
        # a decision to "do it", with a time set and nothing said of what "it" is:
        # "I've decided I'm going to do it after the kids are asleep"
        "crisis.resolved",
        r"\b(decided|made up my mind|made my mind up|settled on it)\b.{0,30}\b(going to|will|to|"
        r"gonna) (do it|go through with it|end it)( all)?\b( (tonight|today|tomorrow|this week"
        r"end|this week|soon|after|when|once|before|while)\b)",
        "says they have decided to go through with something, and when",
    ),
    (
        # finality about oneself: "this is my last night, I've decided", "today will be
        # my last day alive"; not "my last night in Paris" or "my last day at work"
        "crisis.final",
        r"\b(this|today|tonight|tomorrow) (is|will be|is going to be) my (very )?last (night|day|"
        r"evening|week|morning)(( (alive|on earth|ever|of my life))|[,.;!]? (and )?(i have "
        r"decided|i have made up my mind|i am ready|i am done|goodbye|nobody will|no one will))",
        "speaks of this being their last night or day",
    ),
]
_CRISIS_RE = [(n, re.compile(p), r) for n, p, r in _CRISIS]

# Checked on normalised text *before* idioms are rewritten: a threat from a
# partner must not be mistaken for "my boss would kill me if I was late".
_THREAT_RE = re.compile(
    r"\b(he|she|they|my (partner|husband|wife|boyfriend|girlfriend|ex|dad|father|stepdad|mum|"
    r"mom|mother|stepmum|stepmom|son|brother))( has| had)? (said|says|threatened|threatens|told "
    r"me|swore|keeps saying|screamed|shouted)( that)?( next time| one day| if i [a-z ]{0,25}?)?"
    r"( he| she| they)?( will| would| is going to"
    r"| are going to| was going to)? (kill|hurt|strangle|choke|beat|finish|end) me\b"
    r"|\b(said|says|threatened|threatens|told me|swore|keeps saying)( that)?( next time| one day|"
    r" if i [a-z ]{0,25}?)? (he|she|they) (will|would|is going to|are going to|was going to) "
    r"(kill|hurt|strangle|choke|beat|finish|end) me\b"
)


_JOKE_RE = re.compile(r"\b(lol|lmao|haha+|jk|joking|kidding)\b|\U0001F602|\U0001F923")
_TRIVIAL_IF_RE = re.compile(
    r"^ (if|when) i (am late|am ever late|am late again|forget|miss|eat|break|lose|spoil|borrow|"
    r"touch|use|scratch|tell (anyone|mum|mom|dad)|do not (call|text|ring|come|turn up|tidy|clean|"
    r"finish)|spill|wake)"
)


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


_PAST = re.compile(
    r"\b(used to|years ago|in the past|as a (teen|teenager|kid|child|student)|when i was "
    r"(younger|a teen[a-z]*|at school|at uni|\d+)|scars?|(\d+|two|three|four|five|many|several)"
    r" (years|months) (clean|free|without))\b"
)
_CURRENT = re.compile(
    r"\b(again|urges?|back|relapse[a-z]*|started|tonight|now|today|yesterday|last night|this "
    r"week|lately|recently|coming back|want to)\b"
)


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

_CONDITIONS = (
    r"ptsd|c-?ptsd|post[- ]traumatic|bipolar|schizo[a-z]*|psychosis|psychotic|anorexi[a-z]*|"
    r"bulimi[a-z]*|binge[- ]eat[a-z]*|eating disorder|ocd|obsessive compulsive|dementia|"
    r"alzheimer[a-z']*|parkinson[a-z']*|autis[a-z]*|asd|adhd|fibromyalgia|chronic (pain|"
    r"fatigue|insomnia|illness|migraines?)|clinical(ly)? depress[a-z]*|major depress[a-z]*|"
    r"(post ?natal|post ?partum|perinatal) (depression|anxiety|psychosis)|panic disorder|"
    r"agoraphobi[a-z]*|generali[sz]ed anxiety|anxiety disorder|borderline|bpd|eupd|personality "
    r"disorder|tinnitus|multiple sclerosis|(i have|i have got|my|with) ms|motor neurone|(a|his|he"
    r"r|my|the) stroke|brain "
    r"injury|cancer|chemo[a-z]*|"
    r"radiotherapy|palliative|terminal(ly)? ill|hospice|dissociat[a-z]*|hearing voices|hear "
    r"voices|voices in my head|(hear|hearing|see|seeing) things that (are|is) not there|hallucina"
    r"t[a-z]*|seizures?|epilep[a-z]*|long covid|me/cfs|cfs|learning disabilit"
    r"[a-z]*|cerebral palsy|down syndrome|dyspraxia|tourette[a-z']*|sectioned|psych(iatric)? "
    r"ward|inpatient|hospitali[sz]ed|miscarriage|stillbirth|addict[a-z]*|alcoholi[a-z]*|"
    r"withdrawal symptoms|in withdrawal|detox|arthritis|endometriosis|crohn[a-z']*|lupus|ibs|"
    r"sleep apnoea|sleep apnea|narcolepsy|restless legs|intrusive thoughts|obsessive thoughts|"
    r"health anxiety|social anxiety|seasonal affective|(nervous )?breakdown|burn ?out for|"
    r"relapse[a-z]*|in recovery|anxiety attacks?|panic attacks?|depression"
)
_PROFESSIONALS = (
    r"psychiatrist|psychologist|therapist|counsell?or|psychotherapist|cpn|care co-?ordinator|"
    r"crisis team|mental health team|cmht|camhs|neurologist|oncologist|social worker|"
    r"music therapist|psychiatric nurse"
)
_MEDS = (
    r"antidepressants?|anti-depressants?|ssris?|sertraline|fluoxetine|prozac|citalopram|"
    r"escitalopram|mirtazapine|venlafaxine|duloxetine|amitriptyline|zopiclone|zolpidem|sleeping "
    r"(pills|tablets)|lithium|quetiapine|olanzapine|aripiprazole|diazepam|lorazepam|valium|"
    r"xanax|propranolol|pregabalin|gabapentin|methadone|beta blockers?|my (meds|medication|"
    r"prescription)|on (meds|medication)|prescribed"
)

_STRONG = (
    r"depress(ed|ion|ive)|hopeless[a-z]*|numb|(feel|feeling|felt) empty|empty inside|(can not|cou"
    r"ld not|unable to|struggl[a-z]* to"
    r"|barely|have not been able to) (get out of bed|function|cope|stop crying|leave the house|"
    r"eat|work|look after)|(i|been|keep|kept|start|started|stop|burst out|end up|ended up) "
    r"crying|cry (every|all|myself)|in tears|nightmares?|flashbacks?|panic[a-z]*|"
    r"low mood|(really|so|very) low|not eating|barely eat[a-z]*|no appetite|lost (a lot of )?"
    r"weight|grief|griev[a-z]*|bereave[a-z]*|mourning|anxiety attacks?|shaking|"
    r"worthless|reliv[a-z]*|jumpy|(hands?|body) (shake|shakes|shaking)|heart (races|racing|"
    r"pounds|pounding)|jump at (every|any|loud|sudden)|on edge|hypervigilan[a-z]*|drinking (alcoh"
    r"ol|wine|beer|"
    r"spirits|vodka|too much|heavily|every night|to [a-z ]*(cope|sleep|forget|numb))|drink "
    r"to (cope|sleep|forget)"
)
_MILD = (
    r"(can not|could not|unable to|struggl[a-z]* to|barely|have not been able to|never) (sleep|"
    r"switch off|relax|concentrate|focus|settle|rest|stay asleep|get to sleep|fall asleep)|"
    r"insomnia|not sleeping|sleepless|sleep(ing)? (badly|poorly|problems?|issues?)|awake (until|"
    r"till|at|from) \d+ ?(am|pm)?|wak(e|ing) (up )?at \d+ ?(am|pm)?|slept properly|anxious|anxiet"
    r"y|worr[a-z]*|"
    r"tired|exhausted|exhaustion|fatigue|no energy|pain|aches?|aching|migraines?|dread[a-z]*|"
    r"headaches?|lonely|loneliness|isolated|(feel|feeling|felt|been|so|really|quite|very|"
    r"pretty) (down|low|sad|lonely|flat)|irritable|overwhelmed|restless|burn(ed|t)? out|burnout"
)
_NUM = (
    r"(\d+|several|many|a few|few|couple of|a couple of|two|three|four|five|six|seven|eight|"
    r"nine|ten|eleven|twelve|eighteen)"
)
_FOR = (
    r"(for|over|in|during|throughout|almost|nearly|about|more than|the (last|past)|these (last|"
    r"past)|this past|these)"
)
_LONG = (
    r"\b" + _FOR + r"( the)?( (last|past))?( " + _NUM + r")? (months|years)\b"
    r"|\b(months|years) (now|on end|and (months|years))\b"
    r"|\b(for|over|in|about|nearly|almost) (a|one) year\b|\ba year now\b"
    r"|\b(has|have) been (a|one|over a|nearly a|almost a) year\b"
    r"|\b(for|in) (ages|a long time|so long|what feels like forever)\b|\bhalf a year\b"
    r"|\bsince (last )?(january|february|march|april|may|june|july|august|september|october|"
    r"november|december|christmas|new year|the summer|the spring|the winter|the autumn|summer|"
    r"spring|winter|autumn|last year|the pandemic|covid|lockdown|the baby was born|the birth|i"
    r" was a (kid|child|teen[a-z]*)|childhood|forever)\b|\bever since\b"
    r"|\bfor as long as i can remember\b|\ball my life\b"
)
_MID = (
    r"\b" + _FOR + r"( the)?( (last|past))?( " + _NUM + r")? weeks\b"
    r"|\b(for|over) (a|one) month\b|\ba month now\b"
    r"|\bevery (single )?(day|night|morning|evening)\b|\bdaily\b|\bweekly\b|\bnightly\b"
    r"|\bmost (days|nights|mornings)\b|\ball the time\b|\bconstant(ly)?\b|\bnon-?stop\b"
    r"|\b(several|many|a few|few|couple of|two|three) times a (week|day)\b|\b(will not|does not"
    r"|has not|have not|did not|not) (lift|go away|ease|get (any )?better|get (any )?easier|"
    r"improve|shift|leave me)\b|\bkeeps? (happening|coming back|getting worse)\b|\bgetting "
    r"worse\b|\bmore (and more )?(frequent|often)\b|\bnothing (helps|works)\b"
)

_CLINICAL: list[tuple[str, str, str]] = [
    (
        "clinical.condition",
        r"\b(" + _CONDITIONS + r")\b",
        "mentions a health condition that a clinician or music therapist can help with",
    ),
    ("clinical.diagnosis", r"\b(diagnos[a-z]+)\b", "mentions a diagnosis"),
    (
        "clinical.professional",
        r"\b(my|a|the|our|her|his) (" + _PROFESSIONALS + r")\b|\b(gp|doctor|dr|nurse|consultant)"
        r" (said|says|told|thinks|suggested|prescribed|referred|put me on|wants me|diagnosed|"
        r"signed me off|recommended|changed|upped|increased|reduced)\b|\bsigned off (work|sick)\b"
        r"|\bmusic therap[a-z]*\b|\btherapy\b|\bcounsell?ing\b",
        "mentions care from a health professional",
    ),
    ("clinical.medication", r"\b(" + _MEDS + r")\b", "mentions medication"),
    (
        "clinical.needs_help",
        r"\b(need|want|looking for|get|getting|find|finding|seek|seeking|would like)( some)?"
        r" (professional|proper|medical|specialist|mental health|real) (help|support|advice)\b"
        r"|\b(need|should|ought) to (see|talk to|speak to) (someone|somebody|a professional|a "
        r"doctor|my gp|a gp|someone professional)\b",
        "asks for more help than sound can give",
    ),
    (
        "clinical.child",
        r"\b(my|our) (son|daughter|child|kid|boy|girl|toddler|teen|teenager|grandson|"
        r"granddaughter|baby)\b.*\b(autis[a-z]*|adhd|diagnos[a-z]*|special (educational )?needs|"
        r"disabilit[a-z]*|non-?verbal|meltdowns?|developmental[a-z]*|delay(ed)?|cerebral palsy|"
        r"down syndrome|dyspraxia|sensory (issues|processing|needs))\b",
        "asks about support for a child's needs",
    ),
    (
        "clinical.caring",
        r"\b(caring for|care for|looking after|carer for|carer to|nursing)\b.*\b(dementia|"
        r"alzheimer[a-z']*|parkinson[a-z']*|cancer|stroke|terminal[a-z]*|dying|disabilit[a-z]*|"
        r"motor neurone|ill|illness)\b",
        "is caring for someone who is ill",
    ),
    (
        "clinical.trauma",
        r"\b(my trauma|trauma (from|of|after|since)|traumatic (birth|event|experience|memories)|"
        r"(was|got|been|being) (assaulted|raped|abused|attacked|mugged|stalked)|sexual (assault|"
        r"abuse)|abus(e|ed|ive|er)[a-z]*|flashbacks?|nightmares? (about|of) (the|what|him|her|it|"
        r"my)|reliv"
        r"[a-z]* (it|what|the)|what happened (in|to|at|during) (the|my) (war|army|attack|"
        r"accident|crash|assault)|(can not stop thinking about|keep thinking about|haunted by|"
        r"still thinking about|keep going over|still shaking from) (the |that |my |what happened "
        r"(in|"
        r"at|during) the )?(attack|assault|accident|crash|abuse|rape|war|fire|shooting|incident|"
        r"robbery|break-in|birth))\b",
        "mentions trauma",
    ),
    (
        "clinical.eating",
        r"\b(make|making|made) myself (sick|throw up)\b|\bthrow(ing)? up after (eating|meals|food)"
        r"|\bpurg(e|ing)\b|\bcount(ing)? every calorie\b|\bstarv(e|ing) myself\b|\bbinge[a-z]*\b"
        r"|\bafraid (of|to) eat\b|\bskip(ping)? meals (to|so)\b",
        "mentions eating difficulties",
    ),
    (
        "clinical.self_suspected",
        r"\bi think i (am|might be|may be|could be) (depressed|bipolar|autistic|anorexic|bulimic|"
        r"an alcoholic|addicted)\b|\bi think i (have|might have|may have|could have) (depression|"
        r"anxiety|an? [a-z ]{0,20}disorder|adhd|ptsd|ocd|insomnia|dementia|autism)\b",
        "wonders whether they have a health condition",
    ),
    (
        "clinical.function",
        r"\b(can not|could not|unable to|have not been able to) (work|function|leave the house|"
        r"look after (myself|my kids|my children))\b|\b(ruining|taking over|wrecking|destroying)"
        r" my life\b|\baffecting (everything|my (work|job|relationship|marriage|studies|life|"
        r"health))\b|\bmy mental health (is|has been|keeps|is getting) (bad|terrible|awful|getting "
        r"worse|poor|so bad|really bad|declining|worse)\b|\bstruggling with my mental health\b",
        "is finding everyday life very hard",
    ),
]
_CLINICAL_RE = [(n, re.compile(p), r) for n, p, r in _CLINICAL]
_STRONG_RE = re.compile(r"\b(" + _STRONG + r")\b")
_MILD_RE = re.compile(r"\b(" + _MILD + r")\b")
_LONG_RE = re.compile(_LONG)
_MID_RE = re.compile(_MID)


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
