"""Tests for sonora.care.triage: levels, idioms, negation, resources, CLI, patterns.

These use the real bundled sentence-embedding model (no mocks). It is loaded
once for the whole module by the ``model`` fixture; predictions for the
labelled set are computed once by the ``predictions`` fixture.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import typer
from carekit import CARE_DIR, DiskCachedEncoder, cached_json
from typer.testing import CliRunner

import sonora.errors
from sonora.care import embedding, reading, rules
from sonora.care.errors import CareError
from sonora.care.evaluate import (
    BLIND_ROUNDS,
    FIRST_SIGHT,
    evaluate,
    is_hard_negative,
    load_labelled,
)
from sonora.care.resources import load_resources, supported_countries
from sonora.care.triage import MAX_TEXT_CHARS, TriageResult, pattern_signal, triage
from sonora.cli.care import triage_command

SONORA_ERRORS = Path(sonora.errors.__file__)
FORBIDDEN = re.compile(r"\b(therapy|treat\w*|cure\w*|heal\w*|clinically proven)\b", re.I)


@pytest.fixture(scope="module")
def disk_encoder(model: object) -> DiskCachedEncoder:
    """The bundled encoder, its vectors kept on disk between runs (:mod:`carekit`)."""
    return DiskCachedEncoder()


@pytest.fixture(scope="module")
def predictions(disk_encoder: DiskCachedEncoder) -> dict[str, str]:
    """Level predicted by the full triage for every labelled note.

    The notes' pieces are encoded in batches first (``reading.cached_embeddings``): the
    same encoder and pieces, a fraction of the cost of one note at a time; everything
    else (rules, prototypes, the trained reader, the decision) runs as in production.
    The vectors, and the levels, are kept on disk between runs (:mod:`carekit`): the
    levels under a hash of every file of the care package (code, rules, prototypes,
    the reader's weights) and of the sentence model, so any change to those runs the
    triage again.
    """
    texts = [n.text for n in load_labelled()]

    def levels() -> dict[str, str]:
        with contextlib.ExitStack() as stack:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(embedding, "encoder", lambda: disk_encoder)
                stack.enter_context(reading.cached_embeddings(texts))
            return {t: triage(t).level for t in texts}

    inputs = [CARE_DIR, SONORA_ERRORS, Path(disk_encoder.model.path)]
    found = cached_json("triage-levels", inputs, levels)
    assert isinstance(found, dict)
    assert set(found) == set(texts)
    return found


def test_batched_embeddings_match_one_note_at_a_time(model: object) -> None:
    texts = [n.text for n in load_labelled()[::97]]
    live = [reading.reader_inputs(t) for t in texts]
    with reading.cached_embeddings(texts) as n_pieces:
        assert n_pieces >= len(texts)
        cached = [reading.reader_inputs(t) for t in texts]
    for (tok_a, dense_a), (tok_b, dense_b) in zip(live, cached, strict=True):
        assert tok_a == tok_b
        assert np.abs(dense_a - dense_b).max() < 1e-5


# ---------------------------------------------------------------------------
# the labelled set


def test_labelled_set_is_big_varied_and_well_formed() -> None:
    notes = load_labelled()
    assert len(notes) >= 150
    assert {n.level for n in notes} == {"crisis", "clinical", "everyday"}
    assert {n.split for n in notes} == {
        "dev",
        "round1",
        "round2",
        "round3",
        "round4",
        "round5",
        "heldout",
        "round6",
        "round7",
        "round8",
        "round9",
        "round10",
        "round11",
        "round12",
        "round13",
        "roundC",
        "roundG",
        "roundH",
        "T1",
        "T2",
        "T3",
    }
    assert len(notes) >= 400
    assert sum(n.level == "crisis" for n in notes) >= 120
    assert sum(n.level == "clinical" for n in notes) >= 120
    assert sum(n.level == "everyday" for n in notes) >= 160
    assert sum(is_hard_negative(n) for n in notes) >= 40
    texts = [rules.normalise(n.text) for n in notes]
    assert len(texts) == len(set(texts)), "duplicate notes in the labelled set"
    # first-sight figures for every split but the tuning one, and for the sealed rounds
    # I and J and the rounds S, T, U, V, W and X that stay out of the labelled set
    assert set(FIRST_SIGHT) == {n.split for n in notes} - {"dev"} | {
        "roundI",
        "roundJ",
        "roundS",
        "roundT",
        "roundU",
        "roundV",
        "roundW",
        "roundX",
        "roundY",
        "roundZ",
    }


def test_prototypes_do_not_leak_into_labelled_set(disk_encoder: DiskCachedEncoder) -> None:
    protos = embedding.load_prototypes()
    proto_texts = [s for level in protos.values() for s in level]
    labelled = [n.text for n in load_labelled()]
    assert not {rules.normalise(t) for t in proto_texts} & {rules.normalise(t) for t in labelled}
    # no near-copies either (same sentence with trivial edits): cosine below 0.90
    p = disk_encoder.encode([rules.normalise(t) for t in proto_texts])
    q = disk_encoder.encode([rules.normalise(t) for t in labelled])
    sims = q @ p.T
    worst = np.unravel_index(int(np.argmax(sims)), sims.shape)
    assert sims.max() < 0.90, (labelled[worst[0]], proto_texts[worst[1]], float(sims.max()))


def test_whole_labelled_set_meets_targets(predictions: dict[str, str]) -> None:
    """Every labelled row, blind rounds and pools included, meets issue #10's targets.

    These rows trained the reader, so this shows the rules and the reader hold together
    on what they were taught; first-sight figures (sonora.care.evaluate.FIRST_SIGHT) and
    the leave-one-round-out estimate (tools/train_triage_classifier.py) are the honest
    figures for notes never seen.
    """
    notes = load_labelled()
    ev = evaluate(notes, predictions.__getitem__)
    assert ev.crisis_recall == 1.0, [m for m in ev.misses if m[1] == "crisis"]
    assert ev.clinical_recall >= 0.95, [m for m in ev.misses if m[1] == "clinical"]
    assert ev.everyday_as_crisis <= 0.01, [m for m in ev.misses if m[2] == "crisis"]
    assert ev.everyday_flagged <= 0.05, [m for m in ev.misses if m[1] == "everyday"]
    assert ev.failures() == []


@pytest.mark.parametrize("split", BLIND_ROUNDS)
def test_each_blind_round_meets_the_crisis_target(predictions: dict[str, str], split: str) -> None:
    notes = [n for n in load_labelled() if n.split == split]
    ev = evaluate(notes, predictions.__getitem__)
    assert ev.crisis_recall == 1.0, ev.misses
    assert ev.everyday_as_crisis <= 0.05, ev.misses


def test_heldout_rows_do_not_regress(predictions: dict[str, str]) -> None:
    """Floors on the held-out rows that catch regressions.

    The floor is what their first run measured (see sonora.care.evaluate); one
    general rule added after reading its one crisis miss brings crisis recall to 100%.
    """
    notes = [n for n in load_labelled() if n.split == "heldout"]
    ev = evaluate(notes, predictions.__getitem__)
    assert ev.crisis_recall >= FIRST_SIGHT["heldout"][0] - 1e-9, ev.misses
    assert ev.clinical_recall >= 0.90, ev.misses
    assert ev.everyday_as_crisis <= 0.02, ev.misses
    assert ev.everyday_flagged <= 0.10, ev.misses


# ---------------------------------------------------------------------------
# idioms, negation, paraphrase


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("this deadline is killing me", "everyday"),
        ("I could kill for a coffee", "everyday"),
        ("this commute is murder", "everyday"),
        ("dying to get some sleep", "everyday"),
        ("I nearly died laughing at that show", "everyday"),
        ("my phone is dead and so am I, long day", "everyday"),
        ("I'm killing myself trying to finish this report", "everyday"),
        ("I cut myself shaving and I'm grumpy", "everyday"),
        ("I don't want to wake up early tomorrow", "everyday"),
        ("I'm not suicidal, just tired", "everyday"),
        ("I'd never hurt myself, I just need a calm evening", "everyday"),
        ("no thoughts of harming myself, just stressed about work", "everyday"),
    ],
)
def test_idioms_and_denials_are_everyday(model: object, text: str, level: str) -> None:
    result = triage(text)
    assert result.level == level, result.reasons
    assert result.resources == []


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to wake up tomorrow",
        "everyone would be better off without me",
        "I've been giving my things away",
        "I want it all to stop for good",
        "I'm not suicidal but I wish I could sleep and never wake up",
        "I'm not sure I won't hurt myself tonight",
        "I'm not suicidal. Well, maybe I am, I don't know anymore",
        "I keep thinking about killing myself",
        "I've started cutting again",
        "He said he'd kill me if I leave",
    ],
)
def test_crisis_paraphrase_and_negated_forms(model: object, text: str) -> None:
    result = triage(text)
    assert result.level == "crisis", result.reasons
    assert result.reasons


@pytest.mark.parametrize(
    "text",
    [
        "I haven't slept properly for months",
        "I've been having panic attacks every week",
        "my psychiatrist said I should try relaxing before bed",
        "I'd like help for my son who has autism",
        "I used to self-harm as a teenager and still have the scars",
        "my grief just won't lift since my mum died two years ago",
    ],
)
def test_clinical_examples(model: object, text: str) -> None:
    result = triage(text)
    assert result.level == "clinical", result.reasons
    kinds = [r["kind"] for r in result.resources]
    assert kinds[0] == "doctor"
    assert "credential_body" in kinds


def test_crisis_wins_over_everything(model: object) -> None:
    text = "I have PTSD and I was diagnosed last year. I want to end my life."
    assert triage(text).level == "crisis"


def test_long_note_with_one_crisis_sentence(model: object) -> None:
    filler = "Work was busy and the commute was slow. " * 60
    result = triage(filler + "I keep thinking everyone would be better off without me.")
    assert result.level == "crisis"


def test_empty_note_is_everyday() -> None:
    assert triage("   ").level == "everyday"


# ---------------------------------------------------------------------------
# result shape and resources


@pytest.mark.parametrize("country", ["GB", "IE", "US", "CA", "AU", "NZ"])
def test_crisis_lists_country_line_first(model: object, country: str) -> None:
    result = triage("I want to kill myself", country=country)
    assert result.level == "crisis"
    first = result.resources[0]
    table = load_resources()["countries"][country]
    assert first["kind"] == "crisis_line"
    assert first["country"] == country
    assert first["name"] == table["crisis_lines"][0]["name"]
    kinds = [r["kind"] for r in result.resources]
    assert "emergency" in kinds
    assert kinds.index("emergency") > 0
    assert first["phone"] in result.message or first["text"] in result.message


def test_unknown_but_valid_country_gets_fallback(model: object) -> None:
    result = triage("I want to kill myself", country="fr")
    assert result.level == "crisis"
    assert result.resources[0]["country"] == "elsewhere"
    assert "findahelpline" in result.resources[0]["url"]


def test_uk_alias(model: object) -> None:
    assert triage("I want to die", country="UK").resources[0]["name"] == "Samaritans"


def test_to_dict_has_exactly_its_keys(model: object) -> None:
    for text in ("I want to die", "I have had insomnia for a year", "nice day"):
        d = triage(text).to_dict()
        assert list(d) == [
            "level",
            "reasons",
            "resources",
            "danger_now",
            "language",
            "unread",
            "tentative",
            "medical",
        ]
        assert d["level"] in {"crisis", "clinical", "everyday"}
        assert isinstance(d["reasons"], list)
        assert all(isinstance(r, str) for r in d["reasons"])
        json.dumps(d)


def test_messages_never_claim_to_treat(model: object) -> None:
    for country in [*supported_countries(), "FR"]:
        for text in ("I want to die", "I've had panic attacks for months"):
            msg = triage(text, country=country).message
            assert msg
            assert not FORBIDDEN.search(msg), msg
    msg = pattern_signal([1, 1, 1]).message
    assert "not a substitute" in msg
    assert not FORBIDDEN.search(msg)


# ---------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": 42}, "text"),
        ({"text": None}, "text"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "text"),
        ({"text": "hello", "country": "Britain"}, "country"),
        ({"text": "hello", "country": "G1"}, "country"),
        ({"text": "hello", "country": ""}, "country"),
        ({"text": "hello", "country": 44}, "country"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    text = kwargs.pop("text")
    with pytest.raises(CareError) as info:
        triage(text, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}:")
    assert isinstance(info.value, ValueError)


def test_country_error_lists_allowed_values() -> None:
    with pytest.raises(CareError, match="GB, IE, US, CA, AU, NZ"):
        triage("hello", country="Britain")


def test_max_length_is_accepted(model: object) -> None:
    # accepted and screened; the level is the reader's (at its low crisis threshold a
    # note of one repeated letter reads as crisis: a known false alarm, docs/care.md)
    result = triage("a" * MAX_TEXT_CHARS)
    assert result.level in ("crisis", "clinical", "everyday")
    assert result.reasons


# ---------------------------------------------------------------------------
# CLI


@pytest.fixture(scope="module")
def cli_app() -> typer.Typer:
    app = typer.Typer()
    app.command("triage")(triage_command)

    @app.callback()
    def _root() -> None:
        """Test app."""

    return app


def test_cli_json_output(model: object, cli_app: typer.Typer) -> None:
    runner = CliRunner()
    res = runner.invoke(cli_app, ["triage", "I don't want to wake up tomorrow", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert list(data)[:3] == ["level", "reasons", "resources"]
    assert data["level"] == "crisis"
    assert data["resources"][0]["phone"] == "116 123"

    res = runner.invoke(cli_app, ["triage", "long day, want rain", "--json", "--country", "US"])
    assert json.loads(res.output) == {
        "level": "everyday",
        "reasons": [],
        "resources": [],
        "danger_now": False,
        "language": "en",
        "unread": False,
        "tentative": False,
        "medical": False,
    }


def test_cli_readable_crisis_first(model: object, cli_app: typer.Typer) -> None:
    res = CliRunner().invoke(cli_app, ["triage", "I want to end it all", "--country", "AU"])
    assert res.exit_code == 0, res.output
    assert "Please reach out now" in res.output
    assert res.output.index("13 11 14") < res.output.index("Emergency")
    assert "000" in res.output


def test_cli_readable_clinical_and_everyday(model: object, cli_app: typer.Typer) -> None:
    runner = CliRunner()
    res = runner.invoke(
        cli_app, ["triage", "my panic attacks happen every week", "--country", "CA"]
    )
    assert res.exit_code == 0
    assert "MTA" in res.output
    res = runner.invoke(cli_app, ["triage", "bit tired, want waves"])
    assert res.exit_code == 0
    assert "calm sound" in res.output


def test_cli_bad_country(cli_app: typer.Typer) -> None:
    res = CliRunner().invoke(cli_app, ["triage", "hello", "--country", "Britain", "--json"])
    assert res.exit_code == 2
    assert "country" in res.output


# ---------------------------------------------------------------------------
# patterns across check-ins


@pytest.mark.parametrize(
    ("moods", "kwargs", "level"),
    [
        ([6, 2, 1, 2], {}, "clinical"),
        ([1, 1, 1, 1, 1], {}, "clinical"),
        ([2.0, 2.0, 2.0], {}, "clinical"),
        ([1, 1, 5], {}, "everyday"),
        ([5, 1, 1], {}, "everyday"),
        ([], {}, "everyday"),
        ([2.5, 2.5, 2.5], {}, "everyday"),
        ([3, 3, 3], {"low_mood_max": 3}, "clinical"),
        ([1, 1], {"min_run": 2}, "clinical"),
        ((0, 0, 0), {}, "clinical"),
    ],
)
def test_pattern_signal(moods: list[float], kwargs: dict[str, float], level: str) -> None:
    result = pattern_signal(moods, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, TriageResult)
    assert result.level == level
    if level == "clinical":
        assert "check-ins" in result.reasons[0]
        assert result.resources[0]["kind"] == "doctor"
    else:
        assert result.resources == []


def test_pattern_signal_never_crisis() -> None:
    assert pattern_signal([0] * 30).level == "clinical"


def test_pattern_signal_country_resources() -> None:
    result = pattern_signal([1, 1, 1], country="AU")
    assert any(r.get("credential", "").startswith("RMT") for r in result.resources)


@pytest.mark.parametrize(
    ("moods", "kwargs", "field"),
    [
        ([11], {}, "moods[0]"),
        ([5, -1], {}, "moods[1]"),
        ([5, float("nan")], {}, "moods[1]"),
        (["low"], {}, "moods[0]"),
        ([True], {}, "moods[0]"),
        ("123", {}, "moods"),
        (None, {}, "moods"),
        ([1], {"low_mood_max": 12}, "low_mood_max"),
        ([1], {"min_run": 0}, "min_run"),
        ([1], {"min_run": 2.5}, "min_run"),
        ([1], {"country": "France"}, "country"),
    ],
)
def test_pattern_signal_bad_input(moods: object, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(CareError) as info:
        pattern_signal(moods, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# ---------------------------------------------------------------------------
# offline


def test_model_loads_without_network() -> None:
    """Load the model in a fresh process where opening a socket is an error."""
    code = textwrap.dedent(
        """
        import os, socket

        def _no_network(*args, **kwargs):
            raise RuntimeError("network access attempted")

        socket.socket.connect = _no_network
        socket.create_connection = _no_network
        socket.getaddrinfo = _no_network
        from sonora.care import embedding
        from sonora.care.triage import triage
        assert triage("I want to kill myself").level == "crisis"
        assert triage("a calm evening with the rain on the window").level == "everyday"
        assert embedding.is_ready()  # the everyday note needed the sentence model
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")


# ---------------------------------------------------------------------------
# two general crisis rules added after the held-out round (not its rows)


@pytest.mark.parametrize(
    "text",
    [
        "I am sitting on the ledge outside my window",
        "I'm stood at the edge of the cliff",
        "been sitting up on the railings of the bridge for an hour",
        "I've made up my mind, I'm going to do it tonight",
        "I have decided to go through with it when everyone is out",
    ],
)
def test_at_an_edge_or_resolved_with_a_time_is_crisis(text: str) -> None:
    found, _ = rules.crisis_signals(rules.neutralise(rules.normalise(text))[0])
    assert {s.name for s in found} & {"crisis.at_edge", "crisis.resolved"}, found


@pytest.mark.parametrize(
    "text",
    [
        "Sitting on the roof terrace with friends, lovely evening",
        "I'm sat on the edge of my bed trying to wind down",
        "I've decided I'm going to do it: booking the pottery class tomorrow",
        "I decided to do the big shop after work",
        "Standing on the platform waiting for the late train again",
    ],
)
def test_everyday_heights_and_decisions_are_not_crisis(text: str) -> None:
    found, _ = rules.crisis_signals(rules.neutralise(rules.normalise(text))[0])
    assert not {s.name for s in found} & {"crisis.at_edge", "crisis.resolved"}, found


# a general finality rule added after the fresh held-out round (not its row)
@pytest.mark.parametrize(
    ("text", "is_crisis"),
    [
        ("Today will be my last day alive", True),
        ("Tonight is my last night and nobody will miss me", True),
        ("This is my last evening, goodbye", True),
        ("This is my last night in Paris", False),
        ("Today is my last day at work, exciting!", False),
        ("Tomorrow is my last day, so nervous about the leaving speech", False),
        ("This is my last week of exams", False),
        ("last night I slept badly", False),
    ],
)
def test_finality_about_oneself_is_crisis_and_leaving_a_job_is_not(
    text: str, is_crisis: bool
) -> None:
    found, _ = rules.crisis_signals(rules.neutralise(rules.normalise(text))[0])
    assert ("crisis.final" in {s.name for s in found}) is is_crisis, found
