"""The concern gate (sonora/care/concern.py): broad word families that escalate
unless a narrow explanation applies.

Every note here was written for this test, in phrasings that are not rows of the
labelled set, one or more per category the gate is meant to cover, so that a rule
patched for one labelled phrase cannot pass them by accident.
"""

from __future__ import annotations

import pytest

from sonora.care import concern, embedding, reading, rulebook
from sonora.care.evaluate import load_labelled
from sonora.care.rules import normalise
from sonora.care.triage import triage


@pytest.fixture(scope="module", autouse=True)
def model() -> None:
    """Load the sentence model once for the module."""
    embedding.model_info()


CRISIS = {
    "texting, no apostrophes": "honestly dont think ill be around much longer and thats ok",
    "wanting to stop existing": "thinking abt just not existing anymore tbh",
    "worthless life": "whats even the point of me carrying on like this",
    "better off without me": "my flatmates would have an easier time without me around",
    "a height": "keep going up to the top floor of the car park and looking over",
    "water": "might walk out into the lake tonight and keep going",
    "pills, quantity": "gonna swallow the whole strip of my nans tablets tonight",
    "pills, hoarded": "been quietly stockpiling my prescription for a while now",
    "poison swallowed": "i drank some of the weed killer from the shed",
    "burning": "i hold a lighter to my wrist until it blisters",
    "hitting": "i punch my thighs until they go purple",
    "starving": "not eaten in four days on purpose, i dont deserve food",
    "relapse": "five months clean from cutting and tonight i broke it",
    "strangled": "he put his hands round my throat last night and squeezed",
    "threatened with a weapon": "my brother came at me with a knife again",
    "followed": "someone has been waiting for me outside my flat every night",
    "coercive control": "he locks me in when he goes to work and hides my keys",
    "child abuse": "my stepdad comes into my room at night and says its our secret",
    "child at risk": "the toddler upstairs has bruises on her arms every week",
    "harm to a baby": "i cant stop picturing smothering the baby and it terrifies me",
    "voices": "the voice says i have to walk into traffic to fix everything",
    "instructions": "the radio keeps giving me instructions about the gas cooker",
    "goodbye letters": "left a note for each of my kids under their pillows",
    "giving away": "gave away my guitar and my records, wont be needing them",
    "affairs in order": "got everything sorted for the kids so its all in order now",
    "euphemism, sleep": "i would like to lie down and not get up again, ever",
    "date": "i picked the date. the 14th. its done",
    "method research": "been reading about methods all night",
    "intruder": "a man got in through the back and hes still in the kitchen",
    "asking how long": "how long does it take to bleed out, asking for me",
    "practical handover": "passwords are in the blue notebook. thanks for everything",
    "fresh wounds": "new cuts on my stomach tonight, deeper than before",
    "sentences in pieces": "so tired. of all of it. for good this time.",
    "these, all at once": "if i take every one of them at once will it be quick",
    "a bridge, abroad": "je suis sur le pont et je regarde l'eau",
    "so no one has to": "sorted my stuff into boxes so nobody has to deal with it after",
    "Spanish": "ya no aguanto, quiero morirme",
    "French": "je veux en finir ce soir",
    "German": "ich will einfach nicht mehr leben",
    "Portuguese": "quero me matar",
    "Italian": "voglio togliermi la vita",
    "Polish": "chce sie zabic",
    "Dutch": "ik wil dood",
    "Turkish": "olmek istiyorum",
}

EVERYDAY = {
    "idiom, homework": "this coursework is killing me lol",
    "idiom, device": "my laptop died right before the deadline",
    "idiom, dying to": "dying to see the new exhibition",
    "idiom, dead busy": "dead quiet at work today, nice",
    "idiom, legs": "arms are dead after climbing",
    "idiom, in trouble": "im so dead if my dad finds out i scratched the car",
    "idiom, kill for": "i would kill for a proper espresso right now",
    "idiom, could die": "so embarrassed i could die, called my teacher mum",
    "negation": "im not suicidal, just burnt out from exams",
    "a story": "the film ends with the main character taking pills, so sad",
    "a story, game": "my character died in the game again",
    "someone else's death, calm": "my great aunt passed away last month at 97, a good long life",
    "an accident": "burned my finger on the oven tray making cookies",
    "hair": "cut my hair short today and i love it",
    "goodbye to a place": "said goodbye to the old flat today, new chapter",
    "giving to charity": "gave some clothes to the charity shop",
    "authority, trivial": "my mum will kill me if i forget the milk again",
    "travel": "train stuck on the bridge for twenty minutes",
    "other language, idiom": "estoy muerta de cansancio hoy",
    "other language, denial": "no quiero morir, solo estoy agotada",
    "a story, film": "saw a film where the whole family dies in a fire, grim",
    "slang, contact": "my mate hit me up about football tonight",
    "a roof, working": "up on the roof clearing the gutters with my brother",
    "in front of people": "walking out in front of the whole school for assembly, nervous",
    "a trip": "if anything happens to me on the climb, the car keys are with jo",
    "routine medicine": "remembered my pills every morning for my blood pressure",
}


@pytest.mark.parametrize("category", sorted(CRISIS))
def test_fresh_crisis_phrasings_are_crisis(category: str) -> None:
    text = CRISIS[category]
    result = triage(text, country="GB")
    assert result.level == "crisis", (category, text, result.reasons)
    assert result.resources[0]["kind"] in ("crisis_line", "emergency")


#: The reader's thresholds put crisis recall first (chosen for >= 95 % at first sight by
#: leave-one-round-out; see docs/care.md), and that costs false alarms on everyday notes
#: that use crisis words: measured FRESH_EVERYDAY_AS_CRISIS of these 26 with the shipped
#: weights (2026-12-06: in trouble, authority, travel, slang, a roof, a trip). A ceiling,
#: so that more false alarms fail; the rate is the open cost.
FRESH_EVERYDAY_AS_CRISIS = 6


def test_fresh_everyday_phrasings_are_rarely_crisis() -> None:
    called = {c: triage(t, country="GB") for c, t in EVERYDAY.items()}
    crisis = {c: r.reasons for c, r in called.items() if r.level == "crisis"}
    assert len(crisis) <= FRESH_EVERYDAY_AS_CRISIS, crisis
    # a figure of speech the rules set aside, or an honoured denial, is never crisis
    for c in ("idiom, homework", "idiom, kill for", "negation", "idiom, dying to"):
        assert called[c].level != "crisis", (c, called[c].reasons)


def test_test_notes_are_not_labelled_rows() -> None:
    labelled = {normalise(n.text) for n in load_labelled()}
    for text in [*CRISIS.values(), *EVERYDAY.values()]:
        assert normalise(text) not in labelled, text


@pytest.mark.parametrize(
    "text",
    [
        "i drank some of the weed killer from the shed",
        "he is outside my door right now and says he will hurt me",
        "tome todas las pastillas hace una hora",
    ],
)
def test_danger_now_puts_the_emergency_number_first(text: str) -> None:
    result = triage(text, country="US")
    assert result.level == "crisis" and result.danger_now, result.reasons
    assert result.resources[0]["kind"] == "emergency"
    assert result.message.startswith("If you are in danger now, call 911")


def test_the_gate_names_what_it_matched() -> None:
    result = triage("the radio keeps giving me instructions", country="GB")
    assert any("instructions" in r and "voices" in r for r in result.reasons), result.reasons


def test_someone_elses_death_is_not_the_listeners() -> None:
    sigs = concern.concerns("my grandad died in june", "my grandad died in june")
    assert not [s for s in sigs if s.name == "concern.death"]
    sigs = concern.concerns(
        "my grandad died in june and i want to die too", "my grandad died in june"
    )
    assert [s for s in sigs if s.name == "concern.death"]


def test_a_possession_is_not_a_subject() -> None:
    # "my dads gun": the gun is the concern, the dad is not who the note is about
    sigs = concern.concerns("my dads gun is in the loft and i think about it", "")
    assert [s for s in sigs if s.name == "concern.means"]


def test_a_story_explains_words_only_about_the_story() -> None:
    assert concern.in_story("reading a novel where the hero overdoses", "overdoses")
    assert not concern.in_story("this show makes me want to overdose", "overdose")


def test_foreign_words_shared_with_english_are_read_as_english() -> None:
    folded = rulebook.fold("I'm not suicidal, just tired")
    sigs = concern.concerns("i am okay, just tired", folded, language="en")
    assert not [s for s in sigs if not concern.is_clinical(s)]


def test_bad_family_fields_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    real = tomllib.loads

    def broken(text: str) -> dict:
        data = real(text)
        data["family"][0]["anchor"] = "nobody"
        return data

    concern.load_families.cache_clear()
    monkeypatch.setattr(tomllib, "loads", broken)
    try:
        with pytest.raises(ValueError, match=r"concern.death.anchor: expected 'self' or 'none'"):
            concern.load_families()
    finally:
        monkeypatch.setattr(tomllib, "loads", real)
        concern.load_families.cache_clear()


@pytest.mark.parametrize(
    "text",
    [
        "my dad collapsed in the kitchen and he is not breathing",
        "my friend took something at the party and she's not responding",
        "throat is closing up after the peanuts, my face is swelling",
        "her lips are turning blue and she won't wake up",
        # the listener's own body: signs of a heart attack or a stroke
        "crushing pain in my chest and it's going down my left arm",
        "my chest is exploding and I'm sweating",
        "sudden headache, the worst headache of my life",
        "my face is drooping and my words are slurred",
        "I can't lift my right arm and my speech is coming out strange",
        "lost the sight in one eye just now",
        # someone who collapsed and does not respond, a baby floppy or hard to wake
        # (NHS: when to call 999), in words none of these tests used before
        "my nan had a fall in the garden and she isn't responding",
        "husband just collapsed on the floor and won't wake up",
        "grandpa fainted at dinner and is not moving",
        "newborn is all floppy and not feeding",
        "the baby won't wake up properly, even when I pick her up",
    ],
)
def test_a_medical_emergency_is_crisis_with_the_emergency_number_first(
    model: object, text: str
) -> None:
    result = triage(text)
    assert result.level == "crisis", result.reasons
    assert result.danger_now, result.reasons
    # an ambulance, not a listener: the message says so, the emergency number first
    assert result.medical and result.to_dict()["medical"] is True
    assert result.message.startswith("This sounds like a medical emergency: call 999 now")
    assert "really hard" not in result.message
    assert result.resources[0]["kind"] == "emergency"


def test_a_medical_emergency_has_its_own_heading_on_the_page_and_in_the_terminal(
    model: object,
) -> None:
    import typer
    from jinja2 import Environment, FileSystemLoader
    from typer.testing import CliRunner

    from sonora.cli.care import triage_command
    from sonora.web.rendering import WEB_DIR

    env = Environment(loader=FileSystemLoader(str(WEB_DIR / "templates")), autoescape=True)
    tpl = env.get_template("_care.html")
    base = {"level": "crisis", "message": "m", "resources": [], "unread": False}
    assert "Call for help now" in tpl.render(care={**base, "medical": True})
    assert "Call for help now" not in tpl.render(care={**base, "medical": False})
    app = typer.Typer()
    app.command("triage")(triage_command)

    @app.callback()
    def _root() -> None:
        """Test app."""

    res = CliRunner().invoke(app, ["triage", "my dad is not breathing", "--country", "US"])
    assert res.exit_code == 0 and "Call for help now" in res.output, res.output
    assert res.output.index("911") < res.output.index("988")
    # a suicidal crisis keeps its own words
    plain = triage("i want to die", country="GB")
    assert not plain.medical and "really hard" in plain.message


@pytest.mark.parametrize(
    "text",
    [
        "my laptop is not responding again, third time today",
        "paramedic here, long night of calls, all handed over fine",
        "I was barely breathing after that hill on the bike, legs like jelly",
        "chest day at the gym, absolutely crushed it",
        "my chest feels tight before every meeting",
        "worst day of my life at work, so glad it's over",
        "headache from the screen all afternoon",
        "my words come out wrong when I'm nervous",
        "she fell over laughing and is not answering my texts",
        "my phone fell down the stairs and isn't responding",
        "grandad had a fall last year and now walks with a stick",
        "dad fell asleep on the sofa, not talking to him tonight",
        "baby won't wake up from his nap, finally some quiet",
        "baby is so floppy when sleepy, cutest thing",
        "toddler has a limp since football",
    ],
)
def test_everyday_words_of_breathing_or_responding_are_not_an_emergency(text: str) -> None:
    names = [s.name for s in reading.read_rules(text).crisis]
    assert "concern.medical_emergency" not in names


def test_a_story_sentence_stays_a_story_when_another_sentence_is_about_the_listener() -> None:
    # the note read as one sentence catches words that run across sentences; words inside
    # one sentence about a book were read there, and the reader's "I" elsewhere does not
    # make them the listener's
    text = "finished the book and the main character dies in the last chapter. I am a wreck"
    assert [s.name for s in reading.read_rules(text).crisis] == []
    # across sentences it still counts: "tired. of everything. permanently."
    names = [s.name for s in reading.read_rules("tired. of everything. permanently.").crisis]
    assert names, names


def test_a_medical_emergency_is_not_an_input_of_the_reader() -> None:
    # the reader was trained without the family, so it does not see it; triage keeps the
    # note crisis whatever the reader says (test above)
    read = reading.read_rules("my dad collapsed in the kitchen and he is not breathing")
    assert concern.is_emergency(read.crisis)
    assert not any(t == "crisis" or t.startswith("crisis:") for t in read.tokens())


@pytest.mark.parametrize(
    "text",
    [
        "last playlist. thanks for all the rain sounds over the years x",
        "thank you for everything over the years. this is my last session",
        "one last listen. thank u for always being there",
        "final session tonight, thanks for all these years",
    ],
)
def test_a_last_session_said_as_a_farewell_is_crisis_whatever_the_reader_says(
    model: object, text: str
) -> None:
    # the reader, trained on thanks to the app, reads these as everyday (p < 0.01 for the
    # first, from sealed round W); a farewell is held as a medical emergency is
    result = triage(text)
    assert result.level == "crisis", result.reasons
    assert not result.medical
    read = reading.read_rules(text)
    assert concern.is_held(read.crisis) and not concern.is_emergency(read.crisis)
    assert not any(t == "crisis" or t.startswith("crisis:") for t in read.tokens())


@pytest.mark.parametrize(
    "text",
    [
        "final session of the programme, thanks for everything!",
        "last session before my holiday, thanks for always being there",
        "last session of the year, thank you for all the nights you helped",
        "thanks for the update! last session was great",
        "my last session was lovely, thank you",
        "last session for now, see you next week, thanks for everything",
    ],
)
def test_thanks_beside_a_last_session_that_is_not_a_farewell_is_not_held(text: str) -> None:
    names = [s.name for s in reading.read_rules(text).crisis]
    assert concern.FAREWELL not in names, names


@pytest.mark.parametrize(
    "text",
    [
        # a seizure someone is not coming round from, or that goes on (NHS: call 999)
        "my brother had a fit er a seizure and he still won't come round",
        "my wife is convulsing and it has gone on for over 5 minutes",
        # someone else who cannot breathe or breathes strangely
        "my flatmate is gasping for air and can't talk",
        "grandpa is breathing really strangely and his lips look grey",
        # a child who swallowed something poisonous (poison control, not a nap)
        "my 3yo swallowed one of those button batteries from the remote",
        "the baby got into the laundry capsules and has blue stuff in her mouth",
        "my son drank some of the drain cleaner",
        "toddler ate a handful of my iron tablets",
        # someone else not breathing or unconscious, in other languages
        "mi hermano no respira, está en el suelo",
        "ma grand-mère a perdu connaissance dans la cuisine",
        "mio padre non respira più",
        "minha mãe está inconsciente no chão",
        "mijn opa is bewusteloos",
        "mój tata nie oddycha",
        "min pappa andas inte",
        "babam nefes almıyor",
        "ayah saya tidak sadarkan diri",
        "мой брат без сознания",
        "祖母が意識がない",
        "爷爷昏迷不醒",
        "أبي فاقد الوعي",
        "엄마가 의식이 없어요",
    ],
)
def test_a_seizure_a_breathing_stranger_a_poisoned_child_and_other_languages_are_emergencies(
    model: object, text: str
) -> None:
    result = triage(text)
    assert result.level == "crisis", result.reasons
    assert result.medical, result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "my husband is not responding to my texts, typical",
        "she can't breathe when she laughs that hard",
        "my son can't breathe through his nose with this cold",
        "my daughter had a seizure years ago and is doing brilliantly now",
        "my kid almost swallowed a battery but I grabbed it",
        "toddler chewed my tablet charger again",
        "my son ate all the sweets in the cupboard",
        "je ne respire plus quand je cours",
        "no respiro bien cuando corro",
    ],
)
def test_breathing_seizure_and_swallowing_words_in_everyday_notes_are_not_emergencies(
    text: str,
) -> None:
    names = [s.name for s in reading.read_rules(text).crisis]
    assert "concern.medical_emergency" not in names


def test_a_foreign_pattern_is_folded_as_the_note_is() -> None:
    # Japanese written with dakuten, Korean syllables: the note is folded (NFKD, marks
    # stripped), and so is the pattern, so the words still meet
    for text in ("父は反応がない", "할머니가 의식을 잃었어요"):
        names = [s.name for s in reading.read_rules(text).crisis]
        assert "concern.medical_emergency" in names, text
