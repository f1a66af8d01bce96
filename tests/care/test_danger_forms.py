"""Danger now in forms the rules used to leave to the trained reader: self-harm happening
as the listener writes, and someone threatening to kill them in another language.

The notes here are written for these tests (other tenses, orders and languages than
any labelled or round note) and are not rows of the labelled set.
"""

from __future__ import annotations

import pytest

from sonora.care import concern, reading, rulebook
from sonora.care.evaluate import load_labelled
from sonora.care.rules import normalise
from sonora.care.triage import triage


def _names(text: str) -> set[str]:
    return {s.name for s in reading.read_rules(text).crisis}


def _danger(text: str) -> bool:
    read = reading.read_rules(text)
    return bool(read.crisis) and (
        rulebook.danger_now(read.neutral, read.crisis)
        or concern.danger_now(read.neutral, read.crisis)
    )


IN_PROGRESS = [
    "cutting rn and i cant stop",
    "im carving into my thigh again and can't stop",
    "been cutting as we speak",
    "burning my wrist with a lighter right now",
    "i am hurting myself at the moment and i can't stop",
    "can't stop cutting myself right now",
    "just started cutting myself right now",
    "cutting again, could not stop",
]

NOT_IN_PROGRESS = [
    "I'm cutting right now so no dessert for me",  # a diet
    "cutting carbs right now",
    "cutting onions right now and can't stop crying",
    "scratching my arm right now, it itches",
    "my back is hurting right now",
    "burning calories right now at the gym",
    "cutting my hair right now, wish me luck",
    "I used to cut myself, not right now though",
]


@pytest.mark.parametrize("text", IN_PROGRESS)
def test_self_harm_in_progress_is_a_rule_and_danger_now(text: str) -> None:
    assert "crisis.harm_in_progress" in _names(text)
    assert _danger(text)


@pytest.mark.parametrize("text", NOT_IN_PROGRESS)
def test_everyday_cutting_burning_and_hurting_are_not_harm_in_progress(text: str) -> None:
    assert "crisis.harm_in_progress" not in _names(text)


THREATS = [
    "mon copain m'a dit qu'il allait me tuer",
    "il m'a menacée de mort hier soir",
    "mi novio dice que me matará si me voy",
    "mi ex me amenazó de muerte",
    "mein Freund sagt, er wird mich umbringen",
    "er hat gedroht, mich zu töten",
    "il mio compagno ha detto che mi ammazzerà",
    "mio padre vuole uccidermi",
    "o meu namorado disse que vai me matar",
    "mój chłopak grozi, że mnie zabije",
    "mijn vriend zegt dat hij me zal vermoorden",
    "min pojkvän säger att han ska döda mig",
    "kocam beni öldüreceğini söyledi",
    "iubitul meu a zis că o să mă omoare",
    "přítel říká, že mě zabije",
    "pacarku mengancam akan membunuhku",
]


@pytest.mark.parametrize("text", THREATS)
def test_a_threat_to_kill_in_another_language_is_crisis_rule_and_danger_now(text: str) -> None:
    names = _names(text)
    assert names, text  # a rule reads it as crisis, not the trained reader alone
    assert _danger(text)


@pytest.mark.parametrize(
    "text",
    [
        "die Hitze bringt mich noch um",
        "questo caldo mi sta uccidendo",
        "o trânsito está a matar-me",
        "ta robota mnie wykończy",
        "me muero de sueño",
        "hij vermoordt de muziek, haha",
    ],
)
def test_figures_of_work_and_weather_are_not_foreign_threats(text: str) -> None:
    folded = rulebook.fold(normalise(text))
    rule = next(r for r in rulebook.load_rules().danger if r.lang)
    assert not rule.pattern.search(folded), text


def test_the_new_forms_are_not_labelled_rows() -> None:
    labelled = {normalise(n.text) for n in load_labelled()}
    for text in [*IN_PROGRESS, *NOT_IN_PROGRESS, *THREATS]:
        assert normalise(text) not in labelled, text


@pytest.mark.usefixtures("model")
@pytest.mark.parametrize(
    "text", ["cutting rn and i cant stop", "mein Freund sagt, er wird mich umbringen"]
)
def test_triage_puts_the_emergency_number_first(text: str) -> None:
    result = triage(text, country="GB")
    assert result.level == "crisis" and result.danger_now, result.reasons
    assert result.resources[0]["kind"] == "emergency"


IN_PROGRESS_OTHER = [
    "me estoy cortando los brazos otra vez",
    "je suis en train de me scarifier",
    "ich schneide mich jetzt",
    "mi sto facendo del male",
    "tô me machucando de novo",
    "ranię się właśnie teraz",
    "ik zit mezelf te krassen",
]


@pytest.mark.parametrize("text", IN_PROGRESS_OTHER)
def test_self_harm_in_progress_in_another_language_is_a_rule_and_danger_now(text: str) -> None:
    assert _names(text), text
    assert _danger(text)


@pytest.mark.parametrize(
    "text",
    [
        "me estoy cortando el pelo",
        "mi sto tagliando le unghie",
        "estou me cortando o cabelo",
        "je me coupe les cheveux",
    ],
)
def test_cutting_hair_or_nails_is_not_self_harm_in_progress(text: str) -> None:
    folded = rulebook.fold(normalise(text))
    rule = next(r for r in rulebook.load_rules().danger if r.name.startswith("danger.harm_in"))
    assert not rule.pattern.search(folded), text


def test_the_other_language_forms_are_not_labelled_rows() -> None:
    labelled = {normalise(n.text) for n in load_labelled()}
    for text in IN_PROGRESS_OTHER:
        assert normalise(text) not in labelled, text
