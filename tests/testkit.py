"""Measuring instruments and shared fixtures for the engine, scene, CLI and storage tests.

The instruments here are written independently of :mod:`sonora.engine.loudness` where
that is cheap (true peak, spectra, clicks), so a test does not grade the engine with the
engine's own ruler.  Integrated loudness uses :mod:`pyloudnorm` (ITU-R BS.1770-4)
directly.

Rendering a built-in scene for two minutes is the most expensive thing the suite does,
so :func:`scene_metrics` renders each scene once per session and keeps only the
measurements (not the audio).

Test modules import the instruments with ``from testkit import ...`` (``tests`` is on
pytest's ``pythonpath``); ``tests/conftest.py`` imports the fixtures and hooks from
here so pytest finds them.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import multiprocessing as mp
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from sonora.engine.base import QUANTUM

if TYPE_CHECKING:
    from sonora.core.database import Database

# pyloudnorm, scipy.signal, SQLAlchemy and the database are imported where they are used:
# pytest-xdist's controlling process loads this module (through conftest.py) but runs
# no test, and those imports cost it seconds of CPU.

SR = 48_000
#: Length of the per-scene render the loudness / peak / startle tests measure.
SCENE_SECONDS = 120.0


# -- seeded randomness ---------------------------------------------------------------
@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for test signals (same numbers on every run)."""
    return np.random.default_rng(20_240_607)


# -- databases -------------------------------------------------------------------------
#: The PostgreSQL the ``postgres`` tests use (a fresh schema per test, dropped after).
PG_URL = os.environ.get(
    "SONORA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@functools.cache
def _pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (``None`` when it answers); asked once per run."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc}"
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """``(url, schema)`` of an empty database of each kind (SQLite file, PostgreSQL schema).

    The storage tests are real or they fail: without a PostgreSQL server the
    ``postgresql`` cases fail rather than skip (``make test-fast`` deselects them).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}", None
        return
    with pg_schema() as schema:
        yield PG_URL, schema


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A new, empty PostgreSQL schema at :data:`PG_URL` (its name), dropped after.

    Fails (never skips) when PostgreSQL does not answer; ``make test-fast`` deselects
    every test that asks for one (marker ``postgres``).
    """
    reason = _pg_unreachable()
    if reason is not None:
        pytest.fail(reason)
    import sqlalchemy as sa

    schema = f"sonora_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@functools.cache
def _migrated_template() -> Path:
    """A SQLite file migrated to head, made once per test process (removed at exit)."""
    from sonora.core.database import Database

    folder = Path(tempfile.mkdtemp(prefix="sonora-migrated-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "migrated.db"
    Database.open(f"sqlite:///{path}").close()
    # One self-contained file to copy: out of WAL mode (each connection sets WAL again).
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return path


def migrated_sqlite(path: Path) -> str:
    """The URL of a SQLite database at ``path``, migrated to head when it is new.

    A copy of one database migrated once per test process: every test still gets a
    database of its own, without running the migrations again (~0.2 s each, more under
    load).  The migrations themselves are tested on empty databases
    (``tests/store/test_store.py``), and opening the copy still checks its revision.
    """
    if not path.exists():  # an existing file is the same database again, left as it is
        path.parent.mkdir(parents=True, exist_ok=True)  # as make_engine does for a new one
        shutil.copyfile(_migrated_template(), path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(db_url: tuple[str, str | None]) -> Iterator[Database]:
    """A migrated :class:`sonora.core.database.Database` on each kind of database (the
    SQLite one a copy of :func:`migrated_sqlite`'s template)."""
    url, schema = db_url
    if schema is None:
        url = migrated_sqlite(Path(url.removeprefix("sqlite:///")))
    from sonora.core.database import Database

    s = Database.open(url, schema=schema)
    yield s
    s.close()


# -- instruments -----------------------------------------------------------------------
_OS = 4


# 193 taps: flat (±0.001 dB) to 21 kHz at 48 kHz, so content near Nyquist is not missed.
@functools.cache
def _true_peak_filter() -> tuple[np.ndarray, float, int]:
    """The interpolator's taps, its largest polyphase L1 gain (the most any branch can
    apply to a bounded input) and the input frames that feed one interpolated value."""
    from scipy import signal

    fir = signal.firwin(48 * _OS + 1, 1.0 / _OS, window=("kaiser", 8.0)) * _OS
    l1 = max(float(np.sum(np.abs(fir[p::_OS]))) for p in range(_OS))
    return fir, l1, len(fir) // _OS + 2


def true_peak_dbtp(audio: np.ndarray, *, floor_dbtp: float | None = None) -> float:
    """True peak (dBTP) measured by 4x oversampling, per ITU-R BS.1770-4 Annex 2.

    Only stretches whose samples could possibly matter after interpolation (bounded by
    the interpolator's largest L1 gain) are oversampled, which keeps a two-minute
    render cheap to measure without approximating anything.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)`` float audio.
    floor_dbtp : float, optional
        Below this level exact values are not needed: stretches that cannot reach it
        are not oversampled and contribute their (rigorous) upper bound instead.  The
        result is then always >= the true peak, and equal to it when the true peak is
        >= ``floor_dbtp``: enough to show that a ceiling is respected.
    """
    from scipy import signal

    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    if x.size == 0:
        return -240.0
    tp_fir, tp_l1, tp_span = _true_peak_filter()
    sample_peak = float(np.max(np.abs(x)))
    floor = 0.0 if floor_dbtp is None else 10 ** (floor_dbtp / 20)
    care = max(sample_peak, floor)
    result = sample_peak
    block, pad = 1024, tp_span
    delay = (len(tp_fir) - 1) // 2
    for ch in x:
        n = ch.shape[0]
        nb = -(-n // block)
        mags = np.zeros(nb * block)
        mags[:n] = np.abs(ch)
        bmax = mags.reshape(nb, block).max(axis=1)
        bound = tp_l1 * np.maximum(bmax, np.maximum(np.r_[0.0, bmax[:-1]], np.r_[bmax[1:], 0.0]))
        need = bound > care
        if np.any(~need):
            result = max(result, float(np.max(bound[~need])))
        # oversample each run of consecutive blocks that needs it in one call
        edges = np.flatnonzero(np.diff(np.r_[0, need.astype(np.int8), 0]))
        for first, last in zip(edges[::2], edges[1::2], strict=True):
            lo, hi = first * block, min(n, last * block)
            s0, s1 = max(0, lo - pad), min(n, hi + pad)
            up = signal.upfirdn(tp_fir, ch[s0:s1], up=_OS)
            a, z = _OS * (lo - s0) + delay, _OS * (hi - s0) + delay
            result = max(result, float(np.max(np.abs(up[a : min(z, len(up))]))))
    return float(20 * np.log10(max(result, 1e-12)))


def lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) by pyloudnorm's BS.1770-4 meter."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    return float(meter.integrated_loudness(np.asarray(audio, dtype=np.float64).T))


def window_lufs(audio: np.ndarray, sample_rate: int, start_s: float, length_s: float) -> float:
    """Ungated BS.1770 loudness of one stretch of audio (K-weighted mean power)."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate)
    y = np.asarray(audio, dtype=np.float64)
    for stage in meter._filters.values():
        y = stage.apply_filter(y)
    a = round(start_s * sample_rate)
    b = a + round(length_s * sample_rate)
    p = float(np.sum(np.mean(y[:, a:b] ** 2, axis=1)))
    return -0.691 + 10 * np.log10(max(p, 1e-30))


def centroid_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Spectral centroid of the mono sum, Hz."""
    from scipy import signal

    mono = np.asarray(audio, dtype=np.float64).mean(axis=0)
    f, p = signal.welch(mono, fs=sample_rate, nperseg=4096)
    return float(np.sum(f * p) / np.sum(p))


def sine(freq_hz: float, seconds: float, *, sr: int = SR, amp: float = 1.0, phase: float = 0.0):
    """A stereo float32 sine ``(2, frames)``."""
    t = np.arange(round(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)
    return np.stack([x, x])


#: Centre frequencies of the one-third-octave bands used to compare spectra.
THIRD_OCTAVES_HZ = 1000.0 * 2.0 ** (np.arange(-15, 13) / 3)  # 31.5 Hz .. 16 kHz


def band_levels_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Long-term average spectrum in one-third-octave bands (dB, mono sum)."""
    from scipy import signal

    mono = np.asarray(audio, dtype=np.float64).mean(axis=0)
    f, p = signal.welch(mono, fs=sample_rate, nperseg=8192)
    out = []
    for fc in THIRD_OCTAVES_HZ:
        sel = (f >= fc * 2 ** (-1 / 6)) & (f < fc * 2 ** (1 / 6))
        out.append(10 * np.log10(np.sum(p[sel]) + 1e-20))
    return np.asarray(out)


def band_fluctuation_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """How much each one-third-octave band's level moves: std (dB) of its 1-s levels."""
    from scipy import signal

    mono = np.asarray(audio, dtype=np.float64).mean(axis=0)
    hop = sample_rate // 10
    f, _, spec = signal.spectrogram(mono, fs=sample_rate, nperseg=8192, noverlap=8192 - hop)
    out = []
    for fc in THIRD_OCTAVES_HZ:
        sel = (f >= fc * 2 ** (-1 / 6)) & (f < fc * 2 ** (1 / 6))
        p = spec[sel].sum(axis=0)
        n = p.size // 10
        per_s = p[: n * 10].reshape(n, 10).mean(axis=1)
        out.append(float(np.std(10 * np.log10(per_s + 1e-20))))
    return np.asarray(out)


def pitches(audio: np.ndarray, sample_rate: int) -> frozenset[int]:
    """Steady tones one can hear: narrow spectral peaks, as semitones from A4.

    Peaks of the long-term spectrum (1.5 Hz resolution) between 50 Hz and 6 kHz that
    stand >= 12 dB above their surroundings, are at most ~12 Hz wide, and lie within
    40 dB of the loudest spectral line.  Noise (rain, wind, surf) has none.
    """
    from scipy import signal

    mono = np.asarray(audio, dtype=np.float64).mean(axis=0)
    f, p = signal.welch(mono, fs=sample_rate, nperseg=32_768)
    db = 10 * np.log10(p + 1e-30)
    sel = (f >= 50) & (f <= 6000)
    idx, _ = signal.find_peaks(db, prominence=12, width=(None, 8))
    return frozenset(
        round(12 * np.log2(f[i] / 440.0)) for i in idx if sel[i] and db[i] > db[sel].max() - 40
    )


@dataclass(frozen=True)
class ClickStats:
    """How first differences at block boundaries compare with those elsewhere.

    For each boundary (frames ``k * period + offset``), ``|Δx|`` across it is divided
    by the largest ``|Δx|`` within 32 frames either side (plus 1e-9 full scale).  The
    same is done at control positions a fraction of a period away, which no block
    structure touches.  Without an artefact the boundary is just another sample: its
    figures match the controls'.  A discontinuity makes it stand out.

    Attributes
    ----------
    worst_ratio, control_worst_ratio : float
        Largest ratio at the boundaries / at the control positions.
    local_max_share, control_local_max_share : float
        Share of positions whose ``|Δx|`` beats all 64 neighbours (chance: ~1/65).
    n : int
        Number of boundaries examined.
    """

    worst_ratio: float
    control_worst_ratio: float
    local_max_share: float
    control_local_max_share: float
    n: int


def _ratios(d: np.ndarray, offset: int, period: int, w: int = 32) -> np.ndarray:
    i = np.arange(offset + period - 1, len(d) - w - 1, period)  # d[b-1] spans b-1 -> b
    win = np.lib.stride_tricks.sliding_window_view(d, 2 * w + 1)[i - w]
    around = np.concatenate([win[:, :w], win[:, w + 1 :]], axis=1).max(axis=1)
    return d[i] / (around + 1e-9)


def click_stats(audio: np.ndarray, *, period: int = QUANTUM, offset: int = 0) -> ClickStats:
    """Look for discontinuities at frames ``k * period + offset`` (see :class:`ClickStats`)."""
    d = np.max(np.abs(np.diff(np.asarray(audio, dtype=np.float64), axis=1)), axis=0)
    at = _ratios(d, offset % period, period)
    controls = np.concatenate(
        [_ratios(d, (offset + period * k // 4) % period, period) for k in (1, 2, 3)]
    )
    return ClickStats(
        float(at.max()),
        float(controls.max()),
        float(np.mean(at > 1.0)),
        float(np.mean(controls > 1.0)),
        int(at.size),
    )


# -- built-in scenes, rendered once per session ----------------------------------------
@dataclass(frozen=True)
class SceneMetrics:
    """Measurements of a two-minute render of a built-in scene (seed 0, 48 kHz)."""

    name: str
    channels: int
    frames: int
    finite: bool
    lufs: float
    true_peak_dbtp: float
    startle_worst_lu: float
    startle_ok: bool
    dc: tuple[float, ...]
    clicks: ClickStats
    bands_db: np.ndarray
    channel_correlation: float
    band_fluctuation_db: np.ndarray
    pitches: frozenset[int]


@functools.cache
def _scene_metrics(name: str) -> SceneMetrics:
    from sonora.engine.loudness import startle_check
    from sonora.engine.render import render_array
    from sonora.scenes import load_scene
    from sonora.scenes.build import build_mix

    mix = build_mix(load_scene(name), duration_s=SCENE_SECONDS, seed=0, sample_rate=SR)
    audio = render_array(mix)
    finite = bool(np.all(np.isfinite(audio)))
    report = startle_check(audio, SR)
    steady = audio[:, 20 * SR : 100 * SR]  # clear of the fades
    x0, x1 = steady.astype(np.float64)
    corr = float(np.dot(x0, x1) / np.sqrt(np.dot(x0, x0) * np.dot(x1, x1) + 1e-30))
    return SceneMetrics(
        name=name,
        channels=audio.shape[0],
        frames=audio.shape[1],
        finite=finite,
        lufs=lufs(audio, SR),
        true_peak_dbtp=true_peak_dbtp(audio, floor_dbtp=-3.0),
        startle_worst_lu=report.worst_rise_lu,
        startle_ok=report.ok,
        dc=tuple(float(v) for v in np.mean(audio.astype(np.float64), axis=1)),
        # the mix compensates its latency: output frame k*QUANTUM is a quantum start
        clicks=click_stats(audio, period=QUANTUM, offset=0),
        bands_db=band_levels_db(steady, SR),
        channel_correlation=corr,
        band_fluctuation_db=band_fluctuation_db(steady, SR),
        pitches=pitches(steady, SR),
    )


def _measure_scene_payload(name: str) -> dict[str, object]:
    """:func:`_scene_metrics` as plain data, for the worker processes to send back."""
    return dataclasses.asdict(_scene_metrics(name))


# Workers find the function by module name; ``conftest`` may name another file by then.


def _from_payload(payload: dict[str, object]) -> SceneMetrics:
    data = dict(payload)
    data["clicks"] = ClickStats(**data["clicks"])  # type: ignore[arg-type]
    return SceneMetrics(**data)  # type: ignore[arg-type]


_scene_pool: ProcessPoolExecutor | None = None
_scene_futures: dict[str, Future[dict[str, object]]] = {}


def _scenes_wanted(items: list[pytest.Item]) -> set[str]:
    """Built-in scenes whose two-minute render the selected tests will ask for."""
    from sonora.scenes import builtin_names

    names: set[str] = set()
    for item in items:
        if "scene_metrics" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "name" in callspec.params:
            names.add(callspec.params["name"])
        else:
            names.update(builtin_names())
    return names


def _start_scene_renders(items: list[pytest.Item]) -> None:
    """Render the wanted scenes in two worker processes while other tests run."""
    global _scene_pool
    names = _scenes_wanted(items)
    if not names:
        return
    # fork: the workers inherit the imported modules (and this file) at no cost; the
    # test process has started no threads yet at the end of collection.
    _scene_pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork"))
    for name in sorted(names):
        _scene_futures[name] = _scene_pool.submit(_measure_scene_payload, name)


@pytest.fixture(scope="session")
def scene_metrics() -> Callable[[str], SceneMetrics]:
    """``scene_metrics(name)``: measurements of the scene's 2-minute render (cached).

    Renders are started in the background when collection ends; a scene that cannot be
    built or rendered fails the test that asks for it, with the worker's traceback.
    """

    def get(name: str) -> SceneMetrics:
        future = _scene_futures.get(name)
        return _from_payload(future.result()) if future is not None else _scene_metrics(name)

    return get


# -- the memory probe is slow: start it as soon as collection shows it is wanted -------
MEMORY_PROBE = r"""
import ctypes, json, os, resource, sys, tempfile, threading, time
from sonora.engine.render import render_to_file
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

minutes, scene, folder = float(sys.argv[1]), sys.argv[2], sys.argv[3]
mix = build_mix(load_scene(scene), duration_s=minutes * 60, seed=0)
try:  # hand freed heap back to the OS so the render phase is measured on its own
    ctypes.CDLL("libc.so.6").malloc_trim(0)
except OSError:
    pass
after_build = rss_mb()
peak = [after_build]
done = threading.Event()
def sample():
    while not done.wait(0.005):
        peak[0] = max(peak[0], rss_mb())
t = threading.Thread(target=sample, daemon=True)
t.start()
path = render_to_file(mix, os.path.join(folder, f"{scene}-{minutes:g}min.flac"))
done.set()
t.join()
print(json.dumps({
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "after_build_mb": after_build,
    "render_peak_mb": max(peak[0], rss_mb()),
    "frames": mix.total_frames,
    "bytes": os.path.getsize(path),
}))
os.unlink(path)
"""
MEMORY_SCENE = "brown-noise-sleep"
MEMORY_MINUTES = (1.0, 60.0)


class _MemoryProbes:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs = {
            minutes: subprocess.Popen(
                [sys.executable, "-c", MEMORY_PROBE, str(minutes), MEMORY_SCENE, str(folder)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
            )
            for minutes in MEMORY_MINUTES
        }

    def result(self, minutes: float) -> dict[str, float]:
        out, errtext = self.procs[minutes].communicate(timeout=600)
        assert self.procs[minutes].returncode == 0, errtext[-3000:]
        return json.loads(out.strip().splitlines()[-1])

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


_probes: _MemoryProbes | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the slow background work the selected tests need (scene renders, probes)."""
    global _probes
    if session.config.option.collectonly:
        return
    _start_scene_renders(session.items)
    if any(item.nodeid.split("::")[0].endswith("test_memory.py") for item in session.items):
        folder = Path(session.config._tmp_path_factory.mktemp("memory"))  # type: ignore[attr-defined]
        _probes = _MemoryProbes(folder)


@pytest.fixture(scope="session")
def memory_probes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_MemoryProbes]:
    """Background renders of :data:`MEMORY_SCENE` for each of :data:`MEMORY_MINUTES`."""
    global _probes
    if _probes is None:  # e.g. run with a plugin that collects differently
        _probes = _MemoryProbes(tmp_path_factory.mktemp("memory"))
    yield _probes
    _probes.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Never leave a probe running (e.g. after ``-x`` stopped the run early)."""
    if _probes is not None:
        _probes.close()
    if _scene_pool is not None:
        # finished runs have nothing left; after -x or Ctrl+C, stop renders in flight
        workers = list(getattr(_scene_pool, "_processes", {}).values())
        _scene_pool.shutdown(wait=False, cancel_futures=True)
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
