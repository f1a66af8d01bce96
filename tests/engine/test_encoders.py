"""Tests for sonora.engine.encoders and render_to_file: formats, atomic writes, errors.

Files are read back with python-soundfile (libsndfile), the same library a listener's
player would use, and compared with what was written.
"""

from __future__ import annotations

import inspect
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal
from testkit import SR, lufs

from sonora.engine.encoders import FORMATS, Encoder, format_for, open_encoder
from sonora.engine.render import render_array, render_to_file
from sonora.errors import ParameterError
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix

LOSSLESS = (".wav", ".flac")
LOSSY = (".opus", ".ogg", ".mp3")
#: 24-bit quantisation step (plus libsndfile's 0x7FFFFF/0x800000 scaling asymmetry).
LSB24 = 2.0**-23


def programme(seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo test programme at about -20 dBFS: a tone on the left, soft noise on the right."""
    n = round(seconds * sr)
    t = np.arange(n) / sr
    left = 0.1 * np.sin(2 * np.pi * 440.0 * t) + 0.02 * rng.standard_normal(n)
    sos = signal.butter(2, 3000, fs=sr, output="sos")
    right = signal.sosfilt(sos, rng.standard_normal(n)) * 0.15
    return np.stack([left, right]).astype(np.float32)


def aligned_correlation(ref: np.ndarray, got: np.ndarray, max_lag: int = 4000) -> float:
    """Best normalised correlation of two mono signals over lags up to ``max_lag``."""
    n = min(len(ref), len(got)) - max_lag
    a = ref[:n] - ref[:n].mean()
    best = 0.0
    c = signal.correlate(got[: n + max_lag], a, mode="valid")
    lag = int(np.argmax(np.abs(c)))
    b = got[lag : lag + n]
    best = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b) + 1e-30))
    return best


@pytest.mark.parametrize("ext", LOSSLESS)
def test_lossless_round_trip_is_exact_to_24_bits(
    ext: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    x = programme(3.0, SR, rng)
    x[:, 100] = [1.0, -1.0]  # full scale survives
    path = tmp_path / f"p{ext}"
    with open_encoder(path, sample_rate=SR) as enc:
        for i in range(0, x.shape[1], 10_007):  # odd-sized blocks
            enc.write(x[:, i : i + 10_007])
    info = sf.info(str(path))
    assert info.samplerate == SR and info.channels == 2
    assert info.subtype == "PCM_24"
    got, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == SR and got.shape == (x.shape[1], 2)
    np.testing.assert_allclose(got.T, x, rtol=0, atol=2 * LSB24)


def test_flac_samples_are_what_libsndfile_makes_of_the_float(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    # The encoder rounds to 24-bit integers itself (cheaper); every sample must be the
    # one libsndfile writes from the clipped float: ties, full scale, overs, tiny values.
    ties = (np.arange(-50_000, 50_000) + 0.5) / 2.0**23
    edges = [1.0, -1.0, 1.5, -1.5, 1 - 2.0**-24, -(1 - 2.0**-24), 1e-9, -1e-9, 0.0, -0.0]
    x = np.concatenate(
        [
            np.stack([ties, ties[::-1]]),
            rng.uniform(-1.2, 1.2, (2, 100_000)),
            0.05 * rng.standard_normal((2, 100_000)),
            np.array([edges, edges[::-1]]),
        ],
        axis=1,
    ).astype(np.float32)
    ours = tmp_path / "ours.flac"
    with open_encoder(ours, sample_rate=SR) as enc:
        enc.write(x)
    ref = tmp_path / "ref.flac"
    with sf.SoundFile(ref, "w", SR, 2, "PCM_24", format="FLAC") as f:
        f.write(np.clip(x, -1.0, 1.0).T.copy())
    got = sf.read(ours, dtype="int32")[0]
    want = sf.read(ref, dtype="int32")[0]
    assert got.shape == want.shape == (x.shape[1], 2)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("ext", LOSSY)
def test_lossy_round_trip_sounds_the_same(
    ext: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    x = programme(4.0, SR, rng)
    path = tmp_path / f"p{ext}"
    with open_encoder(path, sample_rate=SR) as enc:
        enc.write(x)
    got, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == SR  # 48 kHz is native to Opus and allowed for MP3
    assert got.shape[1] == 2
    # duration within the codec's padding (priming / frame rounding: < 0.1 s)
    assert abs(got.shape[0] - x.shape[1]) < 0.1 * SR
    for ch in range(2):
        assert aligned_correlation(x[ch].astype(np.float64), got[:, ch]) > 0.9
    assert lufs(got.T, rate) == pytest.approx(lufs(x, SR), abs=1.0)
    # the tone is where it was
    f, p = signal.welch(got[:, 0], fs=rate, nperseg=8192)
    assert f[np.argmax(p)] == pytest.approx(440.0, abs=6.0)


@pytest.mark.parametrize(
    ("rate", "ext", "file_rate"),
    [
        (44_100, ".opus", 48_000),
        (22_050, ".ogg", 48_000),
        (44_100, ".mp3", 44_100),
        (96_000, ".mp3", 48_000),
        (96_000, ".flac", 96_000),
    ],
)
def test_codec_sample_rates(
    rate: int, ext: str, file_rate: int, tmp_path: Path, rng: np.random.Generator
) -> None:
    x = programme(2.0, rate, rng)
    path = tmp_path / f"p{ext}"
    with open_encoder(path, sample_rate=rate) as enc:
        for i in range(0, x.shape[1], 4096):
            enc.write(x[:, i : i + 4096])
    got, got_rate = sf.read(path, dtype="float64", always_2d=True)
    assert got_rate == file_rate
    assert abs(got.shape[0] / got_rate - 2.0) < 0.1  # same duration, resampled if needed
    f, p = signal.welch(got[:, 0], fs=got_rate, nperseg=8192)
    assert f[np.argmax(p)] == pytest.approx(440.0, abs=6.0)


def test_non_48k_scene_render_to_opus_is_resampled(tmp_path: Path) -> None:
    mix = build_mix(load_scene("rain"), duration_s=5.0, seed=0, sample_rate=44_100)
    path = render_to_file(mix, tmp_path / "rain.opus")
    info = sf.info(str(path))
    assert info.samplerate == 48_000
    assert info.duration == pytest.approx(5.0, abs=0.1)
    got, _ = sf.read(path, dtype="float64", always_2d=True)
    assert lufs(got.T, 48_000) == pytest.approx(-23.0, abs=1.0)


def test_a_long_single_write_to_ogg_does_not_crash(tmp_path: Path) -> None:
    """61 s in one ``write`` call (libsndfile's Ogg encoder has crashed on such calls).

    ``.ogg`` and ``.opus`` are the same encoder (checked below), so one file covers
    both.  Run in a child interpreter so that a crash is reported as a failure, not as
    a dead test session.
    """
    assert FORMATS[".ogg"][:2] == FORMATS[".opus"][:2] == ("OGG", "OPUS")
    code = (
        "import numpy as np, sys\n"
        "from sonora.engine.encoders import open_encoder\n"
        "x = (np.random.default_rng(0).standard_normal((2, 61 * 48000)) * 0.05)"
        ".astype(np.float32)\n"
        "with open_encoder(sys.argv[1], sample_rate=48000) as enc:\n"
        "    enc.write(x)\n"
    )
    path = tmp_path / "long.ogg"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sf.info(str(path)).duration == pytest.approx(61.0, abs=0.1)


def test_encoder_writes_to_a_binary_stream(rng: np.random.Generator) -> None:
    x = programme(1.0, SR, rng)
    buf = io.BytesIO()
    enc = Encoder(buf, sample_rate=SR, format="flac")
    enc.write(x)
    enc.close()
    got, rate = sf.read(io.BytesIO(buf.getvalue()), dtype="float64", always_2d=True)
    assert rate == SR
    np.testing.assert_allclose(got.T, x, rtol=0, atol=2 * LSB24)
    with pytest.raises(ParameterError) as exc:
        Encoder(io.BytesIO(), sample_rate=SR)
    assert exc.value.field == "format"


def test_write_checks_the_block_shape(tmp_path: Path) -> None:
    with (
        pytest.raises(ParameterError) as exc,
        open_encoder(tmp_path / "x.wav", sample_rate=SR) as enc,
    ):
        enc.write(np.zeros((3, 100), dtype=np.float32))
    assert exc.value.field == "block"
    assert list(tmp_path.iterdir()) == []  # the with-block raised: nothing kept


def test_function_and_class_defaults_agree() -> None:
    fn = inspect.signature(open_encoder).parameters
    cls = inspect.signature(Encoder.__init__).parameters
    for name, p in fn.items():
        assert name in cls
        assert p.default == cls[name].default, name


def test_format_for_every_extension() -> None:
    for ext in FORMATS:
        fmt, sub = format_for(f"Session.Name{ext.upper()}")
        assert (fmt, sub) == FORMATS[ext][:2]
    assert set(FORMATS) == {".wav", ".flac", ".opus", ".ogg", ".mp3"}


# -- atomic writes and errors ----------------------------------------------------------------
def test_aborted_render_leaves_nothing_behind(tmp_path: Path) -> None:
    mix = build_mix(load_scene("pink-noise"), duration_s=20.0, seed=0)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the listener pressed Ctrl+C

    with pytest.raises(KeyboardInterrupt):
        render_to_file(mix, tmp_path / "session.flac", progress=progress)
    assert list(tmp_path.iterdir()) == []
    assert calls == sorted(calls) and 0 < calls[-1] < mix.total_frames


def test_aborted_render_keeps_an_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "session.wav"
    target.write_bytes(b"yesterday's session")
    mix = build_mix(load_scene("pink-noise"), duration_s=10.0, seed=0)

    def progress(done: int, total: int) -> None:
        if done > total // 3:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        render_to_file(mix, target, progress=progress)
    assert target.read_bytes() == b"yesterday's session"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.wav"]


def test_finished_render_replaces_the_file_and_matches_the_samples(tmp_path: Path) -> None:
    target = tmp_path / "session.flac"
    target.write_bytes(b"old")
    scene = load_scene("rain")
    reported = []
    render_to_file(
        build_mix(scene, duration_s=3.0, seed=4),
        target,
        progress=lambda done, total: reported.append((done, total)),
    )
    assert reported[-1] == (3 * SR, 3 * SR)
    got, _ = sf.read(target, dtype="float64", always_2d=True)
    expected = render_array(build_mix(scene, duration_s=3.0, seed=4))
    np.testing.assert_allclose(got.T, expected, rtol=0, atol=2 * LSB24)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.flac"]


@pytest.mark.parametrize(
    "where",
    ["missing-folder", "unwritable-folder", "unsupported-extension", "no-extension"],
)
def test_bad_output_paths_name_output(where: str, tmp_path: Path) -> None:
    paths = {
        "missing-folder": tmp_path / "nope" / "x.flac",
        "unwritable-folder": Path("/proc/sonora-test.flac"),
        "unsupported-extension": tmp_path / "x.aiff",
        "no-extension": tmp_path / "x",
    }
    path = paths[where]
    mix = build_mix(load_scene("rain"), duration_s=1.0, seed=0, target_lufs=None)
    with pytest.raises(ParameterError) as exc:
        render_to_file(mix, path)
    assert exc.value.field == "output"
    if where == "unsupported-extension":
        assert ".flac" in exc.value.message and ".aiff" in exc.value.message
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder(tmp_path: Path) -> None:
    """A folder nobody can write in: read-only for a normal user; for root (who may
    write in any read-only folder) a folder of the kernel's /proc, where no file can
    be created whatever the permissions say."""
    if os.geteuid() == 0:
        folder = Path("/proc")
        before = set(folder.iterdir())
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        before = set()
    try:
        with pytest.raises(ParameterError) as exc:
            Encoder(folder / "x.flac", sample_rate=SR)
        assert exc.value.field == "output"
        assert "x.flac" not in {p.name for p in folder.iterdir()}
        if os.geteuid() != 0:
            assert list(folder.iterdir()) == []
        else:
            assert not any(p.name.startswith(".x.flac") for p in set(folder.iterdir()) - before)
    finally:
        if os.geteuid() != 0:
            folder.chmod(0o700)


def test_finished_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Not the 0600 of the temporary file they are renamed from."""
    import stat

    from sonora.engine.encoders import _UMASK

    path = tmp_path / "tone.flac"
    with open_encoder(path, sample_rate=SR) as enc:
        enc.write(np.zeros((2, 4800), dtype=np.float32))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_UMASK


@pytest.mark.parametrize(("ext", "low_kbps", "high_kbps"), [(".opus", 80, 140), (".mp3", 80, 160)])
def test_lossy_files_default_to_a_sensible_bitrate(
    ext: str, low_kbps: float, high_kbps: float, tmp_path: Path, rng: np.random.Generator
) -> None:
    """A render to .opus/.mp3 without a compression setting is ~110 kbit/s, not 510."""
    x = (rng.standard_normal((2, 10 * SR)) * 0.05).astype(np.float32)
    path = tmp_path / f"noise{ext}"
    with open_encoder(path, sample_rate=SR) as enc:
        for i in range(0, x.shape[1], 4096):
            enc.write(x[:, i : i + 4096])
    kbps = path.stat().st_size * 8 / 10.0 / 1000
    assert low_kbps < kbps < high_kbps


@pytest.mark.parametrize("complexity", [0, 5, 10])
def test_opus_complexity_keeps_the_bitrate_and_the_sound(
    complexity: int, tmp_path: Path, rng: np.random.Generator
) -> None:
    """Streams use a lower libopus complexity (less CPU); the file stays a ~110 kbit/s
    Ogg Opus whose tone is where it was."""
    x = programme(4.0, SR, rng)
    path = tmp_path / f"c{complexity}.opus"
    with open_encoder(path, sample_rate=SR, opus_complexity=complexity) as enc:
        for i in range(0, x.shape[1], 4096):
            enc.write(x[:, i : i + 4096])
    got, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == 48_000 and abs(got.shape[0] / rate - 4.0) < 0.1
    assert 60 < path.stat().st_size * 8 / 4.0 / 1000 < 160
    f, p = signal.welch(got[:, 0], fs=rate, nperseg=8192)
    assert f[np.argmax(p)] == pytest.approx(440.0, abs=6.0)
    assert lufs(got.T, rate) == pytest.approx(lufs(x, SR), abs=1.0)
