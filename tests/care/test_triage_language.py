"""Triage on language people actually use: slang, self-harm forms, danger now,
other languages, and the web's bounded wait for the sentence model.

The notes here are written for these tests and are not rows of the labelled set.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sonora.care import embedding, rulebook
from sonora.care.triage import triage


@pytest.fixture(scope="module", autouse=True)
def model() -> None:
    """Load the sentence model once for the module."""
    embedding.model_info()


@pytest.mark.parametrize(
    "text",
    [
        "tbh might just kms after exams",
        "been thinking about unaliving myself lately",
        "the sewer slide thoughts won't leave me alone",
        "I think I'm ready to ctb, nothing left here",
        "everyone at school tells me to kys and I'm starting to agree",
        "i burn my wrist with a hot spoon when it gets too much",
        "I punch my legs until they bruise",
        "starving myself as a punishment again",
        "I banged my head against the wall until it bled",
    ],
)
def test_slang_and_self_harm_forms_are_crisis(text: str) -> None:
    result = triage(text)
    assert result.level == "crisis", result.reasons


@pytest.mark.parametrize(
    ("text", "danger"),
    [
        ("I took every pill in the house about twenty minutes ago", True),
        ("he's banging on the door saying he'll kill me, I'm hiding in the bathroom", True),
        ("I'm going to do it tonight, I have the rope ready", True),
        ("I want to die", False),
        ("everyone would be better off without me", False),
    ],
)
def test_danger_now_puts_the_emergency_number_first(text: str, danger: bool) -> None:
    result = triage(text, country="GB")
    assert result.level == "crisis", result.reasons
    assert result.danger_now is danger
    first = result.resources[0]["kind"]
    assert first == ("emergency" if danger else "crisis_line")
    assert any(r["kind"] == "crisis_line" for r in result.resources)
    if danger:
        assert result.message.startswith("If you are in danger now, call 999")
        assert result.to_dict()["danger_now"] is True


@pytest.mark.parametrize(
    "text",
    [
        "the last episode absolutely killed me",
        "I overdosed on cake at the wedding",
        "killing it at work this week",
        "I'm done with this week, roll on saturday",
        "I'm not suicidal, I'm just really tired",
        "sold my old books on ebay to make space",
        "burned loads of calories on my run",
    ],
)
def test_idioms_and_negations_stay_everyday(text: str) -> None:
    result = triage(text)
    assert result.level == "everyday", result.reasons
    assert result.resources == []
    assert not result.unread


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Ya no quiero vivir, estoy pensando en quitarme la vida", "es"),
        ("Je pense à me suicider ce soir", "fr"),
        ("Ich will mich umbringen, ich kann nicht mehr", "de"),
        ("Eu penso em me matar todos os dias", "pt"),
        ("Non ce la faccio più, voglio farla finita", "it"),
        ("Nie chcę już żyć, chcę się zabić", "pl"),
        ("Mi marido me amenaza con matarme", "es"),
    ],
)
def test_other_languages_crisis_phrases(text: str, lang: str) -> None:
    result = triage(text)
    assert result.level == "crisis", result.reasons
    assert result.language == lang
    assert result.unread
    assert any(r["kind"] == "crisis_line" for r in result.resources)


@pytest.mark.parametrize(
    "text",
    [
        "No quiero morir, solo estoy muy cansada hoy",
        "Aujourd'hui je suis calme, un peu fatiguée",
        "Heute war ein ruhiger Tag mit viel Regen",
    ],
)
def test_screened_language_without_crisis_still_shows_help(text: str) -> None:
    result = triage(text)
    assert result.level == "everyday", result.reasons
    assert result.unread
    assert result.resources and result.resources[0]["kind"] == "crisis_line"
    assert "can only look for signs of crisis" in result.message


@pytest.mark.parametrize(
    "text",
    ["Ik wil niet meer leven, het is te zwaar", "Artık yaşamak istemiyorum", "我不想活了"],
)
def test_unreadable_language_is_never_silently_everyday(text: str) -> None:
    result = triage(text)
    assert result.unread
    assert result.language not in ("en", *rulebook.SCREENED_LANGUAGES)
    assert any(r["kind"] == "crisis_line" for r in result.resources)
    assert any(r["kind"] == "emergency" for r in result.resources)
    assert "could not read this note" in result.message


def test_language_detector() -> None:
    assert rulebook.detect_language("kms") == "en"
    assert rulebook.detect_language("I'm so tired of this week") == "en"
    assert rulebook.detect_language("Estoy muy cansada y no quiero nada") == "es"
    assert rulebook.detect_language("Dzisiaj jestem bardzo zmęczony") == "pl"
    assert rulebook.detect_language("Привет, как дела?") == "other"


def test_rules_compile_and_name_themselves() -> None:
    rules = rulebook.load_rules()
    names = [r.name for r in (*rules.crisis, *rules.clinical, *rules.foreign)]
    assert len(names) == len(set(names))
    assert {r.lang for r in rules.foreign} == set(rulebook.SCREENED_LANGUAGES)
    assert all(r.reason for r in (*rules.crisis, *rules.clinical))


def test_bounded_wait_rules_decide_while_the_model_loads() -> None:
    """In a fresh process: while the model cannot finish loading (its lock is held), a
    crisis note is answered at once without waiting for it, and an everyday note says the
    rules alone decided; once loaded, the model takes part again."""
    code = textwrap.dedent(
        """
        from sonora.care import embedding
        from sonora.care.triage import triage
        with embedding._LOCK:  # the loading thread cannot finish while this is held
            r = triage("I want to kill myself", model_wait_s=60.0)
            assert r.level == "crisis" and not embedding.is_ready(), r
            r = triage("a quiet day with some rain", model_wait_s=0.0)
            assert r.level == "everyday"
            assert any("still starting" in x for x in r.reasons), r.reasons
        assert embedding.wait_ready(120.0)
        r = triage("a quiet day with some rain", model_wait_s=1.0)
        assert not any("still starting" in x for x in r.reasons), r.reasons
        print("ok")
        """
    )
    # A crisis note that waited for the model (60 s, the lock held) would overrun this.
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=45, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_model_wait_must_be_a_sane_number() -> None:
    from sonora.care.errors import CareError

    with pytest.raises(CareError, match="model_wait_s"):
        triage("hello", model_wait_s=-1)


def test_web_start_up_loads_the_model_in_the_background(tmp_path: object) -> None:
    """In a fresh process: the app's start-up alone starts loading the sentence model."""
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from fastapi.testclient import TestClient
        from sonora.care import embedding
        from sonora.settings import Settings
        from sonora.web.app import create_app
        tmp = Path({str(tmp_path)!r})
        s = Settings(data_dir=tmp, database_url=f"sqlite:///{{tmp / 'w.db'}}",
                     secret_key="k" * 40, triage_notes=True, calibrate_ahead=False)
        assert not embedding.is_ready()
        with TestClient(create_app(s)):
            assert embedding.start_background_load() is None  # start-up already began it
            assert embedding.wait_ready(120.0)
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")


#: Written here for this test (not labelled rows), in languages whose common words
#: Sonora's lists do not hold, and texting-style English that must stay English.
UNLISTED_LANGUAGES = [
    "Sijisikii vizuri leo, naomba msaada tafadhali",  # Swahili
    "Hindi ko na kaya, pagod na pagod na ako sa lahat",  # Tagalog
    "Nagyon fáradt vagyok, nem bírom tovább ezt az egészet",  # Hungarian
    "Olen niin väsynyt enkä jaksa enää mitään",  # Finnish
    "toi khong muon song nua, met moi qua roi",  # Vietnamese without its marks
    "mujhe kuch achha nahi lag raha, bahut thak gaya hoon",  # Hindi in Latin letters
    "Nimechoka sana na maisha haya yote",  # Swahili
]
TEXTING_ENGLISH = [
    "cnt sleep agn, thinkin bout evrythin",
    "ngl tdy was rough but the rain sounds r nice",
    "feelin meh, gonna nap n watch sumthin",
]


@pytest.mark.parametrize("text", UNLISTED_LANGUAGES)
def test_a_language_sonora_does_not_know_is_said_so(text: str) -> None:
    # never English; most are "und" (a few borrow enough common words of a screened
    # language to be taken for it, which still shows the help and says so)
    assert rulebook.detect_language(text) != rulebook.ENGLISH
    result = triage(text)
    assert result.unread
    assert any(r["kind"] == "crisis_line" for r in result.resources)
    assert "could not read this note" in result.message or "only look for signs" in result.message


def test_most_unlisted_languages_are_unknown_not_misnamed() -> None:
    found = [rulebook.detect_language(t) for t in UNLISTED_LANGUAGES]
    assert found.count(rulebook.UNKNOWN) >= 5, found


@pytest.mark.parametrize("text", TEXTING_ENGLISH)
def test_texting_style_english_is_still_english(text: str) -> None:
    assert rulebook.detect_language(text) == rulebook.ENGLISH
