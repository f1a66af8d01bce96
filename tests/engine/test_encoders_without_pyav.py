"""Ogg Opus without PyAV (the default install): libsndfile's encoder, files and streams.

PyAV is the optional ``ffmpeg`` extra (its wheels bundle GPL FFmpeg).  The test venv has
it, so these tests block its import (``sys.modules["av"] = None``, what Python does for a
missing module) and encode for real through libsndfile; the output is read back with
python-soundfile and measured.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from testkit import SR, lufs

from sonora.engine.encoders import ChunkSink, Encoder, have_pyav, open_encoder


@pytest.fixture
def no_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import av`` fail as it does where PyAV is not installed."""
    monkeypatch.setitem(sys.modules, "av", None)
    assert not have_pyav()


def _programme(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = round(seconds * SR)
    t = np.arange(n) / SR
    left = 0.1 * np.sin(2 * np.pi * 440.0 * t) + 0.02 * rng.standard_normal(n)
    right = 0.08 * np.sin(2 * np.pi * 330.0 * t) + 0.03 * rng.standard_normal(n)
    return np.stack([left, right]).astype(np.float32)


def test_have_pyav_follows_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("av")
    assert have_pyav()
    monkeypatch.setitem(sys.modules, "av", None)
    assert not have_pyav()


def test_opus_file_without_pyav_decodes_back_the_same(
    no_pyav: None, tmp_path: Path, rng: np.random.Generator
) -> None:
    """A 60 s file in one ``write`` (split into small blocks inside): exact length,
    same loudness, a sensible bitrate and the tags as Vorbis comments."""
    x = _programme(60.0, rng)
    path = tmp_path / "calm.opus"
    with open_encoder(path, sample_rate=SR, tags={"title": "Calm", "artist": "Sonora"}) as enc:
        assert isinstance(enc._sf, sf.SoundFile)  # libsndfile, not PyAV, encodes
        enc.write(x)
    with sf.SoundFile(str(path)) as f:
        assert (f.format, f.subtype, f.samplerate) == ("OGG", "OPUS", SR)
        assert (f.title, f.artist) == ("Calm", "Sonora")
        got = f.read(dtype="float32", always_2d=True).T
    assert got.shape == x.shape  # exact to the frame
    assert abs(lufs(got, SR) - lufs(x, SR)) < 0.5
    kbps = path.stat().st_size * 8 / 60.0 / 1000
    assert 80 < kbps < 140, kbps


def test_opus_stream_without_pyav_decodes_back_the_same(
    no_pyav: None, rng: np.random.Generator
) -> None:
    """Through :class:`ChunkSink` (no seeking), 100 ms blocks, bytes drained as they come."""
    x = _programme(20.0, rng)
    sink = ChunkSink()
    enc = Encoder(sink, sample_rate=SR, format="opus", opus_complexity=5)
    data = bytearray()
    chunks_with_bytes = 0
    for i in range(0, x.shape[1], SR // 10):
        enc.write(x[:, i : i + SR // 10])
        new = sink.drain()
        chunks_with_bytes += bool(new)
        data += new
    enc.close()
    data += sink.drain()
    assert data[:4] == b"OggS"
    assert chunks_with_bytes > 10  # bytes reach the listener while encoding, not at the end
    got, rate = sf.read(io.BytesIO(bytes(data)), dtype="float32", always_2d=True)
    assert rate == SR
    assert got.T.shape == x.shape
    assert abs(lufs(got.T, SR) - lufs(x, SR)) < 0.5


def test_a_long_write_to_ogg_without_pyav_does_not_crash(tmp_path: Path) -> None:
    """61 s in one call through libsndfile's Ogg Opus (it crashed on such calls), in a
    child interpreter so that a crash fails this test instead of the session."""
    code = (
        "import sys\n"
        "sys.modules['av'] = None\n"
        "import numpy as np\n"
        "from sonora.engine.encoders import open_encoder\n"
        "x = (np.random.default_rng(0).standard_normal((2, 61 * 48000)) * 0.05)"
        ".astype(np.float32)\n"
        "with open_encoder(sys.argv[1], sample_rate=48000) as enc:\n"
        "    assert type(enc._sf).__name__ == 'SoundFile'\n"
        "    enc.write(x)\n"
    )
    path = tmp_path / "long.ogg"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sf.info(str(path)).frames == 61 * 48_000
