"""Analysis of generated tracks in every format: tempo, key, loudness, voice, shape, tags.

The tracks come from ``trackgen`` (known tempo, key, loudness); ``benchmarks/library.py``
measures accuracy over 200 of them, these tests pin single cases that must hold.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import trackgen as tg

from sonora.errors import ParameterError
from sonora.library.analysis import AnalysisError, analyse_audio, analyse_file, decode


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("fmt", "bpm", "style", "tonic", "mode"),
    [
        ("flac", 62.0, "straight", 9, "minor"),  # slow with hi-hat eighths: must not double
        ("mp3", 142.0, "swing", 2, "major"),  # fast: must not halve
        ("opus", 55.0, "sparse", 4, "minor"),
        ("m4a", 84.0, "rubato", 7, "major"),
        ("ogg", 118.0, "straight", 0, "major"),
        ("wav", 71.0, "sparse", 5, "minor"),
    ],
)
def test_tempo_key_loudness_and_tags_in_every_format(tmp_path, fmt, bpm, style, tonic, mode):
    spec = tg.TrackSpec(
        bpm=bpm, tonic=tonic, mode=mode, style=style, fmt=fmt, duration_s=20.0,
        loudness_lufs=-21.0, seed=3, title=f"Song in {fmt}", artist="Tester", genre="Folk",
    )  # fmt: skip
    path = tg.write_track(spec, tmp_path)
    before = _sha(path)
    analysis, dec = analyse_file(path)
    assert abs(analysis.tempo_bpm / bpm - 1) <= 0.04, analysis.tempo_bpm
    assert analysis.key == spec.key_name
    assert abs(analysis.loudness_lufs - (-21.0)) < 0.8  # lossy codecs move it a little
    assert abs(analysis.duration_s - 20.0) < 0.2
    assert dec.tags["title"] == f"Song in {fmt}"
    assert dec.tags["artist"] == "Tester"
    assert _sha(path) == before  # read-only


def test_voice_estimate_separates_a_sung_line(tmp_path):
    plain = tg.TrackSpec(bpm=80, style="sparse", duration_s=20.0, seed=5)
    sung = tg.TrackSpec(bpm=80, style="sparse", duration_s=20.0, seed=5, voice=True)
    a = analyse_audio(tg.synthesise(plain).mean(axis=0), plain.sample_rate)
    b = analyse_audio(tg.synthesise(sung).mean(axis=0), sung.sample_rate)
    assert a.voice < 0.5 < b.voice


def test_settling_and_building_tracks_are_told_apart():
    settle = tg.TrackSpec(bpm=70, arc="settle", duration_s=24.0, seed=2)
    build = tg.TrackSpec(bpm=70, arc="build", duration_s=24.0, seed=2)
    a = analyse_audio(tg.synthesise(settle).mean(axis=0), 44_100)
    b = analyse_audio(tg.synthesise(build).mean(axis=0), 44_100)
    assert (a.shape, b.shape) == ("settles", "builds")
    assert a.shape_change_db < -3 < 3 < b.shape_change_db
    assert a.energy_curve[0] > a.energy_curve[-3]


def test_energy_orders_a_quiet_sparse_track_below_a_loud_busy_one():
    quiet = tg.TrackSpec(bpm=60, style="sparse", loudness_lufs=-30, duration_s=15.0, seed=1)
    loud = tg.TrackSpec(bpm=130, style="straight", loudness_lufs=-12, duration_s=15.0, seed=1)
    a = analyse_audio(tg.synthesise(quiet).mean(axis=0), 44_100)
    b = analyse_audio(tg.synthesise(loud).mean(axis=0), 44_100)
    assert a.energy < b.energy - 0.2


def test_short_audio_is_refused_naming_the_field():
    with pytest.raises(ParameterError) as err:
        analyse_audio(np.zeros(22_050 * 2, np.float32), 22_050)
    assert err.value.field == "audio"
    assert "5 s" in str(err.value)


def test_silence_has_no_tempo_and_no_confidence():
    a = analyse_audio(np.zeros(22_050 * 8, np.float32), 22_050)
    assert a.tempo_bpm == 0.0
    assert a.tempo_confidence == 0.0


def test_a_file_that_is_not_audio_names_the_path(tmp_path):
    bad = tmp_path / "notes.mp3"
    bad.write_text("not music")
    with pytest.raises(AnalysisError) as err:
        decode(bad)
    assert err.value.field == "path"
    assert "notes.mp3" in str(err.value)


def test_generated_audio_has_the_loudness_it_claims():
    from sonora.engine.loudness import integrated_lufs

    spec = tg.TrackSpec(bpm=90, loudness_lufs=-24.0, duration_s=10.0)
    x = tg.synthesise(spec)
    assert x.dtype == np.float32 and x.shape == (2, 441_000)
    assert abs(integrated_lufs(x, 44_100) + 24.0) < 0.1
