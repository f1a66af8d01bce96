"""Library decoding without PyAV (the default install): libsndfile and the ffmpeg program.

PyAV is the optional ``ffmpeg`` extra.  The test venv has it (``trackgen`` writes MP3,
Opus and M4A with it), so each test writes its track first and then blocks ``import av``
(``sys.modules["av"] = None``, what Python does for a missing module).  Which decoder
runs is chosen by ``PATH``: an empty folder on ``PATH`` hides the ``ffmpeg`` program
(installed on this machine from Debian) and leaves libsndfile alone.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import trackgen as tg

from sonora.library.analysis import AnalysisError, analyse_file, decode

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="the ffmpeg/ffprobe programs are not installed",
)


def _track(tmp_path: Path, fmt: str, bpm: float = 84.0) -> tuple[tg.TrackSpec, Path]:
    spec = tg.TrackSpec(
        bpm=bpm, tonic=7, mode="major", style="straight", fmt=fmt, duration_s=20.0,
        loudness_lufs=-21.0, seed=4, title=f"Song in {fmt}", artist="Tester",
    )  # fmt: skip
    return spec, tg.write_track(spec, tmp_path)


def _block_pyav(monkeypatch: pytest.MonkeyPatch, *, ffmpeg: bool, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    if not ffmpeg:
        empty = tmp_path / "no-programs"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        assert shutil.which("ffmpeg") is None


@pytest.mark.parametrize(
    ("fmt", "codec"),
    [("flac", "flac"), ("wav", "pcm_s16le"), ("ogg", "vorbis"), ("opus", "opus"), ("mp3", "mp3")],
)
def test_libsndfile_decodes_the_formats_it_reads(tmp_path, monkeypatch, fmt, codec):
    spec, path = _track(tmp_path, fmt)
    with_av = decode(path)
    _block_pyav(monkeypatch, ffmpeg=False, tmp_path=tmp_path)
    dec = decode(path)
    assert dec.codec == codec
    assert abs(dec.duration_s - 20.0) < 0.1
    assert abs(dec.loudness_lufs - with_av.loudness_lufs) < 0.2
    assert abs(dec.loudness_lufs - (-21.0)) < 0.8
    assert (dec.tags["title"], dec.tags["artist"]) == (f"Song in {fmt}", "Tester")
    assert dec.rate_hz == 22_050 and abs(len(dec.mono) - len(with_av.mono)) < 22_050 * 0.1
    analysis, _ = analyse_file(path)  # the estimates still hold on this decoder's audio
    assert abs(analysis.tempo_bpm / spec.bpm - 1) <= 0.04, analysis.tempo_bpm
    assert analysis.key == spec.key_name


@needs_ffmpeg
@pytest.mark.parametrize("fmt", ["m4a", "mp3"])
def test_the_ffmpeg_program_decodes_m4a_and_mp3(tmp_path, monkeypatch, fmt):
    spec, path = _track(tmp_path, fmt, bpm=118.0)
    with_av = decode(path)
    _block_pyav(monkeypatch, ffmpeg=True, tmp_path=tmp_path)
    dec = decode(path)
    assert dec.codec == {"m4a": "aac", "mp3": "mp3"}[fmt]
    assert abs(dec.duration_s - with_av.duration_s) < 0.05
    assert abs(dec.loudness_lufs - with_av.loudness_lufs) < 0.2
    assert (dec.tags["title"], dec.tags["artist"]) == (f"Song in {fmt}", "Tester")
    analysis, _ = analyse_file(path)
    assert abs(analysis.tempo_bpm / spec.bpm - 1) <= 0.04, analysis.tempo_bpm
    assert analysis.key == spec.key_name


def test_without_pyav_or_ffmpeg_an_m4a_says_what_to_install(tmp_path, monkeypatch):
    _, path = _track(tmp_path, "m4a")
    _block_pyav(monkeypatch, ffmpeg=False, tmp_path=tmp_path)
    with pytest.raises(AnalysisError) as err:
        decode(path)
    assert err.value.field == "path"
    message = str(err.value)
    assert path.name in message
    assert "apt install ffmpeg" in message and "pip install -e '.[ffmpeg]'" in message


@pytest.mark.parametrize("ffmpeg", [pytest.param(True, marks=needs_ffmpeg), False])
def test_a_file_that_is_not_audio_names_the_path(tmp_path, monkeypatch, ffmpeg):
    bad = tmp_path / "notes.m4a"
    bad.write_text("not music")
    _block_pyav(monkeypatch, ffmpeg=ffmpeg, tmp_path=tmp_path)
    with pytest.raises(AnalysisError) as err:
        decode(bad)
    assert err.value.field == "path"
    assert "notes.m4a" in str(err.value)
