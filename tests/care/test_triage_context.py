"""Triage: a listener's own clinician means clinical context; a note with no words says so.

The clinician rules (``[[clinician]]`` in ``data/triage_rules.toml``) are checked on
their own (:func:`sonora.care.rulebook.clinician_signals`) across phrasings, the six
screened languages and negative controls, and through :func:`sonora.care.triage.triage`
with the real sentence model and trained reader (no mocks): they raise an everyday
note to clinical and never touch a crisis call.
"""

from __future__ import annotations

import pytest
from carekit import CARE_DIR, cached_json

from sonora.care import reading, rulebook
from sonora.care.evaluate import load_labelled
from sonora.care.triage import triage

OWN_CLINICIAN = [
    "my psychiatrist said I should try relaxing before bed",
    "My therapist wants me to notice when my shoulders tense up",
    "our couples counsellor suggested we wind down together",
    "I see a psychologist every other Tuesday",
    "I have been seeing a counselor since spring",
    "had my medication review this morning",
    "I was diagnosed with ADHD in my thirties",
    "my GP said I should try relaxing before bed",
    "my doctor thinks stress is why I keep waking at four",
    "GP said generalised anxiety, waiting for the referral",
    "appointment with my CPN on friday",
    "I'm under the crisis team at the moment",
    "my therapy session ran late and I need to come down",
    "mi psiquiatra dice que intente relajarme antes de dormir",
    "ma psy m'a conseillé de me détendre le soir",
    "meine Therapeutin sagt, ich soll abends entspannen",
    "minha psicóloga disse para eu relaxar antes de dormir",
    "il mio psicologo mi ha detto di rilassarmi prima di dormire",
    "mój terapeuta mówi, że mam się relaksować przed snem",
]

NOT_OWN = [
    "my friend is a psychiatrist and she is coming for dinner",
    "I am a music therapist and need to unwind after work",
    "I work for CAMHS and need to switch off tonight",
    "my sister is training to be a counsellor",
    "watching Doctor Who with the kids, such a cosy evening",
    "my PhD supervisor said I should relax more",
    "my physio said to relax my shoulders",
    "my doctor said my knee is healing well",
    "the doctor said the stress fracture will mend by summer",
    "my mum's therapist is lovely",
    "I saw a therapist on tiktok say this",
    "my dad is a GP and says I should sleep more",
    "my psych exam is tomorrow",
    "I need some retail therapy",
    "mi amigo es psiquiatra",
    "mon ami est psychologue",
]


@pytest.mark.parametrize("text", OWN_CLINICIAN)
def test_own_clinician_is_found(text: str) -> None:
    found = reading.read_rules(text).clinician
    assert found, text
    assert all(s.name.startswith("clinician.") and s.span for s in found)


@pytest.mark.parametrize("text", NOT_OWN)
def test_someone_elses_clinician_a_job_or_a_title_is_not(text: str) -> None:
    assert reading.read_rules(text).clinician == [], text


def test_clinician_rules_fire_on_no_everyday_or_crisis_labelled_note() -> None:
    """On the labelled set the rules fire on clinical notes only (47 of them, 2026-12-06).

    Reading the rules on all 2,500-odd notes costs seconds of CPU, so which notes they
    fire on is kept on disk (:func:`carekit.cached_json`) under a hash of every file of
    the care package (the rules, their code and the labelled set): any change to those
    reads every note again.
    """
    notes = load_labelled()

    def clinician_fires() -> dict[str, bool]:
        return {n.text: bool(reading.read_rules(n.text).clinician) for n in notes}

    fires = cached_json("clinician-fires", [CARE_DIR], clinician_fires)
    assert isinstance(fires, dict)
    assert set(fires) == {n.text for n in notes}
    fired: dict[str, int] = {"crisis": 0, "clinical": 0, "everyday": 0}
    for note in notes:
        fired[note.level] += fires[note.text]
    assert fired["everyday"] == 0
    assert fired["crisis"] == 0
    assert fired["clinical"] >= 40


@pytest.mark.parametrize("text", [t for t in OWN_CLINICIAN if rulebook.fold(t) == t.lower()][:8])
def test_triage_reads_own_clinician_as_at_least_clinical(model: object, text: str) -> None:
    result = triage(text)
    assert result.level != "everyday", result.reasons
    if result.level == "clinical":
        assert result.resources[0]["kind"] == "doctor"
        assert "the clinician you mentioned" in result.message
        assert "music therapist" in result.message


def test_the_open_example_is_clinical_with_the_plain_note(model: object) -> None:
    result = triage("my psychiatrist said I should try relaxing before bed")
    assert result.level == "clinical", result.reasons
    assert any("own clinician" in r and "my psychiatrist" in r for r in result.reasons)
    assert "the clinician you mentioned, or a credentialed music therapist" in result.message
    assert "not a substitute" in result.message


def test_a_clinician_never_lowers_a_crisis(model: object) -> None:
    for text in (
        "my therapist doesn't know I have decided to end my life tonight",
        "my psychiatrist said to relax but I want to kill myself",
    ):
        result = triage(text)
        assert result.level == "crisis", result.reasons
        assert result.resources[0]["kind"] in ("crisis_line", "emergency")


def test_a_bad_fragment_name_is_an_error_naming_the_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = '[[clinician]]\nname = "clinician.bad"\npattern = "{{NO_SUCH}}"\n'

    class _Ref:
        def joinpath(self, *_: str) -> _Ref:
            return self

        def read_text(self, _encoding: str) -> str:
            return text

    monkeypatch.setattr(rulebook._ir, "files", lambda _pkg: _Ref())
    rulebook.load_rules.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"clinician\.bad"):
            rulebook.load_rules()
    finally:
        monkeypatch.undo()
        rulebook.load_rules.cache_clear()


# ---------------------------------------------------------------------------
# notes with no words


@pytest.mark.parametrize(
    "text", ["aaaaaaa", "AAAAAAAAAAAAAAAA", "zzzzz zzzz", "...", "?!?!", "hhhhhhhhh"]
)
def test_a_note_with_no_words_says_so_and_shows_help(text: str) -> None:
    result = triage(text, country="US")
    assert result.level == "everyday"
    assert result.unread is True
    assert result.language == rulebook.UNKNOWN
    assert "could not read this note" in result.message
    assert result.resources and result.resources[0]["kind"] == "crisis_line"
    assert result.resources[0]["phone"] == "988"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aaaaaaa", False),
        ("...", False),
        ("k", True),
        ("ok", True),
        ("asdf", True),
        ("999", True),
        ("\U0001f62d\U0001f62d", True),
        ("aaaa i want to die", True),
        ("死", True),
    ],
)
def test_has_words(text: str, expected: bool) -> None:
    assert rulebook.has_words(text) is expected


def test_words_after_a_held_letter_are_still_read(model: object) -> None:
    assert triage("AAAAAAAAA i want to die").level == "crisis"


# ---------------------------------------------------------------------------
# hyperbole: a crisis call the reader made alone, explained by "dying of laughter"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("je suis mort de rire avec mes potes", "mort de rire"),
        ("tô morta de cansaço depois da aula", "morta de cansaco"),
        ("me muero de sueño, mañana examen", "me muero de sueno"),
        ("Bin heute fast gestorben vor Lachen", "gestorben vor lachen"),
        ("sto morendo di caldo", "morendo di caldo"),
        ("umieram z głodu", "umieram z glodu"),
        ("I nearly died of embarrassment", "died of embarrassment"),
        ("ich lach mich tot über den Hund", "lach mich tot"),
        ("ben doodmoe vandaag", "doodmoe"),
        ("açlıktan ölüyorum, yemek nerede", "acliktan oluyorum"),
        ("ce boulot va me tuer, vivement vendredi", "ce boulot va me tuer"),
        ("die Hitze bringt mich noch um", "die hitze bringt mich noch um"),
        ("este calor me está matando", "este calor me esta matando"),
        ("o trânsito está a matar-me", "o transito esta a matar-me"),
        ("questo caldo mi sta uccidendo", "questo caldo mi sta uccidendo"),
        ("ta robota mnie wykończy", "ta robota mnie wykonczy"),
    ],
)
def test_hyperboles_are_found_and_taken_out(text: str, found: str) -> None:
    spans, rest = rulebook.hyperboles(text)
    assert spans == [found]
    assert rulebook.fold(rest).find(found) == -1
    assert len(rest) < len(text)


@pytest.mark.parametrize(
    "text",
    [
        "quiero morir",
        "I am dying inside",
        "je vais mourir ce soir",
        "mort de mon père",
        # a person "killing me" is a threat, never a figure of work or weather
        "mon mari va me tuer",
        "mein Vater bringt mich um",
        "o meu namorado vai me matar",
    ],
)
def test_dying_itself_is_not_a_hyperbole(text: str) -> None:
    assert rulebook.hyperboles(text) == ([], text)


def test_no_labelled_crisis_or_clinical_note_has_a_hyperbole() -> None:
    """The lever can only touch everyday notes of the labelled set (36 of them, 2026-12-06)."""
    for note in load_labelled():
        if note.level != "everyday":
            assert rulebook.hyperboles(note.text)[0] == [], note.text


def test_a_hyperbole_does_not_hide_a_crisis_the_reader_still_sees(model: object) -> None:
    # the rules find no crisis cue in these; the reader does, with or without the figure
    for text in (
        "estoy muerta de cansancio y ya escribí las cartas, mañana me voy para siempre",
        "mort de fatigue. j'ai rangé mes affaires et laissé une lettre pour maman",
    ):
        result = triage(text)
        assert result.level == "crisis", result.reasons
        assert not any("figure of speech, not a crisis" in r for r in result.reasons)


def test_a_hyperbole_sets_aside_the_readers_alarm(model: object) -> None:
    # the shipped reader alone reads this Swedish note as crisis; without "dör av skratt"
    # (dying of laughter) it does not, so the figure of speech explains its alarm
    result = triage("dör av skratt")
    assert result.level != "crisis", result.reasons
    assert any("figure of speech, not a crisis" in r for r in result.reasons)
    assert result.unread and result.resources  # not read fully: help is still shown


@pytest.mark.parametrize(
    "text",
    [
        "ce taf va me tuer lol, trois réunions d'affilée",
        "die Hitze bringt mich um, das Büro hat keine Klima",
        "yorgunluktan ölüyorum",
    ],
)
def test_a_hyperbole_sets_aside_the_gates_alarm(model: object, text: str) -> None:
    # the concern gate reads "va me tuer", "bringt mich um", "ölüyorum" as crisis; the
    # figure of speech was the whole alarm, and the note without it reads as no crisis
    result = triage(text)
    assert result.level != "crisis", result.reasons
    assert any("figure of speech, not a crisis" in r for r in result.reasons)


def test_a_hyperbole_beside_a_threat_stays_crisis(model: object) -> None:
    # the gate still finds the threat once the figure of speech is taken out
    result = triage("ce boulot me tue, et ce soir mon mari a dit qu'il allait me tuer")
    assert result.level == "crisis", result.reasons
