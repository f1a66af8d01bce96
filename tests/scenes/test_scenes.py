"""Tests for sonora.scenes: the built-in library, user scene files, validation.

The "scenes sound different" test measures the two-minute renders shared with
``test_engine`` (rendered once per session in ``conftest``).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from testkit import SR, SceneMetrics, lufs

from sonora.engine.registry import SOURCES, headphones_only
from sonora.engine.render import render_array
from sonora.errors import ParameterError, SceneNotFoundError
from sonora.scenes import (
    GOALS,
    builtin_names,
    list_scenes,
    load_scene,
    parse_scene,
    read_scene_file,
)
from sonora.scenes.build import build_mix

SCENES = builtin_names()


# -- the built-in library ------------------------------------------------------------------
def test_there_are_at_least_twelve_builtin_scenes() -> None:
    assert len(SCENES) >= 12
    assert SCENES == sorted(SCENES)
    assert [s.name for s in list_scenes()] == SCENES


@pytest.mark.parametrize("name", SCENES)
def test_builtin_scene_catalogue_entry(name: str) -> None:
    s = load_scene(name)
    assert s.name == name
    assert s.title.strip() and s.description.strip()
    assert len(s.description) >= 20  # a sentence, not a label
    assert s.families and all(isinstance(f, str) and f for f in s.families)
    # every family a scene claims is one of its layers' families
    assert set(s.families) <= {layer.family for layer in s.layers}
    assert s.goals and set(s.goals) <= set(GOALS)
    assert len(set(s.goals)) == len(s.goals)
    assert isinstance(s.headphones, bool)
    assert s.headphones == any(headphones_only(layer.source) for layer in s.layers)
    assert 1 <= len(s.layers) <= 12
    assert set(s.summary()) == {"name", "title", "description", "families", "goals", "headphones"}


def test_binaural_scenes_need_headphones_and_others_do_not() -> None:
    binaural = [s for s in list_scenes() if any(la.source == "binaural" for la in s.layers)]
    assert binaural, "the library has a binaural scene"
    assert all(s.headphones for s in binaural)
    others = [s for s in list_scenes() if s not in binaural]
    assert not any(s.headphones for s in others)


@pytest.mark.parametrize("name", SCENES)
def test_scene_dict_round_trip(name: str) -> None:
    scene = load_scene(name)
    d = scene.to_dict()
    assert parse_scene(d) == replace(scene, source_path="")
    assert parse_scene(json.loads(json.dumps(d))) == replace(scene, source_path="")


def test_builtin_scenes_sound_clearly_different(
    scene_metrics: Callable[[str], SceneMetrics],
) -> None:
    """Each pair differs audibly in timbre, in pitch content, or in how it moves.

    * timbre: RMS difference of the level-normalised one-third-octave spectra >= 3 dB;
    * pitch: the sets of steady tones (semitones) overlap by less than half;
    * movement: in some band that both scenes fill (within 50 dB of their loudest
      band), the level's second-to-second fluctuation differs by >= 2 dB (e.g. bowls
      that come and go versus a steady tone).
    """
    metrics = {name: scene_metrics(name) for name in SCENES}
    too_close = []
    for a, b in itertools.combinations(SCENES, 2):
        ma, mb = metrics[a], metrics[b]
        la = ma.bands_db - 10 * np.log10(np.sum(10 ** (ma.bands_db / 10)))
        lb = mb.bands_db - 10 * np.log10(np.sum(10 ** (mb.bands_db / 10)))
        timbre_db = float(np.sqrt(np.mean((la - lb) ** 2)))
        union = ma.pitches | mb.pitches
        jaccard = len(ma.pitches & mb.pitches) / len(union) if union else 1.0
        filled = (la > la.max() - 50) & (lb > lb.max() - 50)
        moves = np.abs(ma.band_fluctuation_db - mb.band_fluctuation_db)[filled]
        movement_db = float(np.max(moves)) if moves.size else 0.0
        if timbre_db < 3.0 and jaccard >= 0.5 and movement_db < 2.0:
            too_close.append((a, b, round(timbre_db, 2), jaccard, round(movement_db, 2)))
    assert not too_close


def test_noise_scenes_have_no_steady_tones_and_tonal_scenes_do(
    scene_metrics: Callable[[str], SceneMetrics],
) -> None:
    """Sanity check of the pitch instrument used above."""
    assert scene_metrics("pink-noise").pitches == frozenset()
    assert scene_metrics("brown-noise-sleep").pitches == frozenset()
    assert len(scene_metrics("deep-drone").pitches) >= 2
    # binaural tones: carrier 200 Hz -/+ 3 Hz, i.e. G3 (-14 semitones from A4)
    assert -14 in scene_metrics("binaural-calm").pitches


# -- a user's own scene file ------------------------------------------------------------------
USER_TOML = """
name = "my-evening"
title = "My evening"
description = "Soft pink noise with a low bowl now and then, in a small room."
goals = ["unwind", "sleep"]
fade_in_s = 1
fade_out_s = 2

[reverb]
room_size = 0.6
damping = 0.5
wet_level = 0.4

[[layers]]
source = "pink_noise"
gain_db = 0
params = { cutoff_hz = 3000.0 }

[[layers]]
source = "singing_bowl"
label = "bowl"
gain_db = -4
pan = -0.3
reverb_send = 0.3
params = { pitch_hz = 150.0, bowls = 1, interval_s = 3.0, rub = 0.0, decay_s = 10.0 }
automation = { brightness = [[0, 0.8], [6, 0.2, "linear"]] }
"""


def _user_dict() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(USER_TOML)


def test_user_toml_and_yaml_scene_files_load_and_render(tmp_path: Path) -> None:
    toml_path = tmp_path / "my-evening.toml"
    toml_path.write_text(USER_TOML, encoding="utf-8")
    yaml_path = tmp_path / "my-evening.yaml"
    yaml_path.write_text(yaml.safe_dump(_user_dict()), encoding="utf-8")
    json_path = tmp_path / "my-evening.json"
    json_path.write_text(json.dumps(_user_dict()), encoding="utf-8")

    from_toml = load_scene(str(toml_path))
    from_yaml = load_scene(yaml_path)
    from_json = load_scene(json_path)
    assert from_toml.source_path == str(toml_path)
    assert replace(from_toml, source_path="") == replace(from_yaml, source_path="")
    assert replace(from_toml, source_path="") == replace(from_json, source_path="")
    assert from_toml.families == ("bowls", "noise")  # inferred from the layers
    assert from_toml.headphones is False
    assert from_toml.layers[1].label == "bowl"
    assert from_toml.layers[1].automation["brightness"].values == (0.8, 0.2)

    audio = render_array(build_mix(from_yaml, duration_s=6.0, seed=1))
    assert audio.shape == (2, 6 * SR)
    assert np.all(np.isfinite(audio))
    assert lufs(audio, SR) == pytest.approx(-23.0, abs=1.0)


def test_user_scene_file_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(USER_TOML.replace("pitch_hz = 150.0", "pitch_hz = 1500.0"), encoding="utf-8")
    with pytest.raises(ParameterError) as exc:
        load_scene(bad)
    assert exc.value.field == "layers[1].params.pitch_hz"
    assert "[60, 700]" in exc.value.message

    broken = tmp_path / "broken.toml"
    broken.write_text("name = 'x\n[[layers]", encoding="utf-8")
    with pytest.raises(ParameterError) as exc:
        read_scene_file(broken)
    assert exc.value.field == "scene"

    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ParameterError) as exc:
        load_scene(broken_yaml)
    assert exc.value.field == "scene"


def test_unknown_scene_name_lists_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(SceneNotFoundError) as exc:
        load_scene("thunderstorm")
    assert "rain" in str(exc.value) and "scene" in str(exc.value)
    with pytest.raises(SceneNotFoundError):
        load_scene(tmp_path / "missing.toml")


# -- validation: every error names the field ---------------------------------------------------
def _base() -> dict[str, Any]:
    return copy.deepcopy(_user_dict())


def _with(**changes: Any) -> dict[str, Any]:
    d = _base()
    d.update(changes)
    return d


def _layer0(**changes: Any) -> dict[str, Any]:
    d = _base()
    d["layers"][0].update(changes)
    return d


def _bowl(**changes: Any) -> dict[str, Any]:
    d = _base()
    d["layers"][1].update(changes)
    return d


BAD_SCENES: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown source": (_layer0(source="harp"), "layers[0].source", "pink_noise"),
    "unknown param": (_layer0(params={"colour": 1.0}), "layers[0].params.colour", "cutoff_hz"),
    "param out of range": (
        _layer0(params={"cutoff_hz": 10.0}),
        "layers[0].params.cutoff_hz",
        "[40, 48000]",
    ),
    "param NaN": (_layer0(params={"cutoff_hz": float("nan")}), "layers[0].params.cutoff_hz", ""),
    "param not a number": (_layer0(params={"cutoff_hz": "3k"}), "layers[0].params.cutoff_hz", ""),
    "bad automation shape": (
        _bowl(automation={"brightness": [[0, 0.8], [6, 0.2, "smooth"]]}),
        "layers[1].automation.brightness[1].shape",
        "linear",
    ),
    "automation point malformed": (
        _bowl(automation={"brightness": [[0, 0.8], [6]]}),
        "layers[1].automation.brightness[1]",
        "",
    ),
    "non-increasing automation times": (
        _bowl(automation={"brightness": [[0, 0.8], [6, 0.2], [3, 0.5]]}),
        "layers[1].automation.brightness[2].time_s",
        "increase",
    ),
    "exp ramp crossing zero": (
        _layer0(gain_db=[[0, -6.0], [10, 3.0, "exp"]]),
        "layers[0].gain_db[1].shape",
        "same sign",
    ),
    "automation out of range": (
        _bowl(automation={"brightness": [[0, 0.8], [6, 1.5]]}),
        "layers[1].automation.brightness",
        "[0, 1]",
    ),
    "automation of unknown param": (
        _bowl(automation={"colour": [[0, 0.8], [6, 0.5]]}),
        "layers[1].automation.colour",
        "brightness",
    ),
    "gain out of range": (_layer0(gain_db=20.0), "layers[0].gain_db", "[-60, 12]"),
    "gain curve out of range": (
        _layer0(gain_db=[[0, 0.0], [60, -90.0]]),
        "layers[0].gain_db",
        "[-60, 12]",
    ),
    "pan out of range": (_layer0(pan=2.0), "layers[0].pan", "[-1, 1]"),
    "reverb send NaN": (_layer0(reverb_send=float("nan")), "layers[0].reverb_send", ""),
    "unknown layer key": (_layer0(volume=3), "layers[0].volume", "gain_db"),
    "too many layers": (
        _with(layers=[{"source": "pink_noise"}] * 13),
        "layers",
        "12",
    ),
    "no layers": (_with(layers=[]), "layers", ""),
    "unknown top-level key": (_with(tempo=60), "tempo", "layers"),
    "missing name": (
        {k: v for k, v in _base().items() if k != "name"},
        "name",
        "",
    ),
    "unknown goal": (_with(goals=["sleep", "cure"]), "goals[1]", "ease_anxiety"),
    "reverb unknown key": (_with(reverb={"size": 0.5}), "reverb.size", "room_size"),
    "reverb out of range": (_with(reverb={"room_size": 1.5}), "reverb.room_size", "[0, 1]"),
    "fade out of range": (_with(fade_in_s=-1), "fade_in_s", ""),
    "headphones not a bool": (_with(headphones="yes"), "headphones", ""),
    "binaural without headphones": (
        _with(headphones=False, layers=[{"source": "binaural"}]),
        "headphones",
        "binaural",
    ),
    "filter cutoff out of range": (
        _layer0(filter={"kind": "lowpass", "cutoff_hz": 5.0}),
        "layers[0].filter.cutoff_hz",
        "",
    ),
    "filter kind unknown": (
        _layer0(filter={"kind": "comb", "cutoff_hz": 500.0}),
        "layers[0].filter.kind",
        "lowpass",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCENES))
def test_parse_scene_errors_name_the_field(case: str) -> None:
    data, field, hint = BAD_SCENES[case]
    with pytest.raises(ParameterError) as exc:
        parse_scene(data)
    assert exc.value.field == field
    assert str(exc.value).startswith(field)
    assert hint in exc.value.message


def test_base_of_the_bad_scenes_is_valid() -> None:
    """The error cases above each break exactly one thing in a valid scene."""
    assert parse_scene(_base()).name == "my-evening"


def test_binaural_scene_with_headphones_parses_and_defaults_to_headphones() -> None:
    s = parse_scene({"name": "b", "description": "beats", "layers": [{"source": "binaural"}]})
    assert s.headphones is True
    assert s.families == ("binaural",)


def test_every_registered_source_can_be_used_in_a_scene() -> None:
    for source in SOURCES:
        s = parse_scene({"name": "one", "description": source, "layers": [{"source": source}]})
        assert s.layers[0].source == source
