"""Loudness measurement (ITU-R BS.1770 via pyloudnorm) and the startle check.

All functions take float audio shaped ``(channels, frames)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy import signal

#: Default programme loudness, LUFS (EBU R128).
DEFAULT_TARGET_LUFS = -23.0
MIN_TARGET_LUFS = -30.0
MAX_TARGET_LUFS = -14.0
#: True-peak ceiling Sonora guarantees, dBTP.
MAX_TRUE_PEAK_DBTP = -1.0
#: Largest rise of 400 ms momentary loudness above the previous 10 s, LU.
STARTLE_LIMIT_LU = 6.0


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated (gated) loudness in LUFS per ITU-R BS.1770-4.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)``, any float dtype, at least 0.4 s long.
    sample_rate : int
        Sample rate in Hz.
    """
    meter = pyloudnorm.Meter(sample_rate)
    return float(meter.integrated_loudness(np.asarray(audio, dtype=np.float64).T))


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak in dBTP: the peak of the signal oversampled 4× (BS.1770 Annex 2).

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)`` float audio.
    """
    peak = 0.0
    for ch in np.atleast_2d(audio):
        up = signal.resample_poly(np.asarray(ch, dtype=np.float64), 4, 1)
        peak = max(peak, float(np.max(np.abs(up))), float(np.max(np.abs(ch))))
    return 20 * np.log10(max(peak, 1e-12))


def _k_weighted_power(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per-frame K-weighted power summed over channels (BS.1770 weights 1.0)."""
    meter = pyloudnorm.Meter(sample_rate)
    x = np.asarray(audio, dtype=np.float64)
    for _, filt in meter._filters.items():  # high-shelf then high-pass (K-weighting)
        x = signal.lfilter(filt.b, filt.a, x, axis=-1)
    return np.sum(x**2, axis=0)


def momentary_lufs(audio: np.ndarray, sample_rate: int, *, hop_s: float = 0.1) -> np.ndarray:
    """Momentary loudness (400 ms windows) every ``hop_s`` seconds, in LUFS.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_windows,)``; window ``i`` covers ``[i hop, i hop + 0.4 s)``.
    """
    p = _k_weighted_power(audio, sample_rate)
    win = round(0.4 * sample_rate)
    hop = round(hop_s * sample_rate)
    c = np.concatenate([[0.0], np.cumsum(p)])
    starts = np.arange(0, len(p) - win + 1, hop)
    ms = (c[starts + win] - c[starts]) / win
    return -0.691 + 10 * np.log10(np.maximum(ms, 1e-20))


@dataclass(frozen=True)
class StartleReport:
    """Result of :func:`startle_check`.

    Attributes
    ----------
    worst_rise_lu : float
        Largest rise of momentary loudness over the power mean of the previous 10 s.
    at_s : float
        Where that rise happens (end of the 400 ms window), seconds.
    ok : bool
        ``worst_rise_lu <= STARTLE_LIMIT_LU``.
    """

    worst_rise_lu: float
    at_s: float
    ok: bool


def startle_check(
    audio: np.ndarray, sample_rate: int, *, limit_lu: float = STARTLE_LIMIT_LU, hop_s: float = 0.1
) -> StartleReport:
    """Check the no-startle rule.

    Momentary loudness (400 ms) must never rise more than ``limit_lu`` above the power
    mean of the momentary loudness over the previous 10 s.  Windows whose previous 10 s
    are below the BS.1770 absolute gate (-70 LUFS), e.g. before the session starts,
    are not judged; the rule applies once 10 s of history exist.
    """
    m = momentary_lufs(audio, sample_rate, hop_s=hop_s)
    per_10s = round(10.0 / hop_s)
    if len(m) <= per_10s:
        return StartleReport(float("-inf"), 0.0, True)
    power = 10 ** (m / 10)
    c = np.concatenate([[0.0], np.cumsum(power)])
    idx = np.arange(per_10s, len(m))
    prev_mean = (c[idx] - c[idx - per_10s]) / per_10s
    prev_db = 10 * np.log10(np.maximum(prev_mean, 1e-20))
    rise = np.where(prev_db > -70.0, m[idx] - prev_db, -np.inf)
    k = int(np.argmax(rise))
    worst = float(rise[k])
    return StartleReport(worst, float(idx[k] * hop_s + 0.4), worst <= limit_lu)


def gated_integrated_from_blocks(block_lufs: np.ndarray) -> float:
    """BS.1770 gating applied to per-block (400 ms) loudness values, in LUFS.

    Used to *predict* a session's integrated loudness from a loudness-over-time
    estimate without rendering it.
    """
    z = 10 ** ((np.asarray(block_lufs, dtype=np.float64) + 0.691) / 10)
    keep = block_lufs > -70.0
    if not np.any(keep):
        return float("-inf")
    rel = -0.691 + 10 * np.log10(np.mean(z[keep])) - 10.0
    keep &= block_lufs > rel
    return float(-0.691 + 10 * np.log10(np.mean(z[keep])))


class LoudnessMeter:
    """Streaming BS.1770 integrated loudness and true peak, in constant memory.

    Feed blocks with :meth:`add`; read :attr:`integrated_lufs` and
    :attr:`true_peak_dbtp` at any time.  It keeps one float per 100 ms (a session of
    12 hours needs 3.5 MB), so calibrating or checking a long render never holds the
    audio itself.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    channels : int
        Channel count (all weighted 1.0, as BS.1770 does for left and right).
    true_peak : bool
        Also track the true peak (4x oversampling; the costlier half of the work).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = (0.1 * rng.standard_normal((2, 48_000 * 5))).astype(np.float32)
    >>> m = LoudnessMeter(48_000)
    >>> for i in range(0, x.shape[1], 7_000):
    ...     m.add(x[:, i : i + 7_000])
    >>> abs(m.integrated_lufs - integrated_lufs(x, 48_000)) < 0.05
    True
    """

    def __init__(self, sample_rate: int, channels: int = 2, *, true_peak: bool = True) -> None:
        from sonora.engine.dsp import SosFilter
        from sonora.engine.effects import k_weighting_sos

        self.sample_rate = sample_rate
        self._k = SosFilter(k_weighting_sos(sample_rate), channels=channels)
        self._step = round(0.1 * sample_rate)
        self._partial = 0.0
        self._partial_n = 0
        self._sums: list[float] = []
        self._peak = 0.0
        self._tail = np.zeros((channels, 0), dtype=np.float64)
        self._true_peak = true_peak

    def add(self, block: np.ndarray) -> None:
        """Measure one ``(channels, frames)`` block."""
        x = np.asarray(block, dtype=np.float64)
        if x.shape[1] == 0:
            return
        p = np.sum(self._k.process(x) ** 2, axis=0)
        i = 0
        n = len(p)
        while i < n:
            take = min(self._step - self._partial_n, n - i)
            self._partial += float(np.sum(p[i : i + take]))
            self._partial_n += take
            i += take
            if self._partial_n == self._step:
                self._sums.append(self._partial)
                self._partial, self._partial_n = 0.0, 0
        if not self._true_peak:
            return
        # True peak: 4x oversampling with 16 frames of overlap from the last block.
        buf = np.concatenate([self._tail, x], axis=1)
        for ch in buf:
            up = signal.resample_poly(ch, 4, 1)
            self._peak = max(self._peak, float(np.max(np.abs(up))), float(np.max(np.abs(ch))))
        self._tail = buf[:, -16:]

    @property
    def integrated_lufs(self) -> float:
        """Gated integrated loudness so far, LUFS (-inf for silence or < 0.4 s)."""
        s = np.asarray(self._sums)
        if len(s) < 4:
            return float("-inf")
        z = (s[:-3] + s[1:-2] + s[2:-1] + s[3:]) / (4 * self._step)  # 400 ms, 75 % overlap
        lufs = -0.691 + 10 * np.log10(np.maximum(z, 1e-30))
        keep = lufs > -70.0
        if not np.any(keep):
            return float("-inf")
        rel = -0.691 + 10 * np.log10(np.mean(z[keep])) - 10.0
        keep &= lufs > rel
        return float(-0.691 + 10 * np.log10(np.mean(z[keep])))

    @property
    def true_peak_dbtp(self) -> float:
        """Largest true peak so far, dBTP."""
        return 20 * np.log10(max(self._peak, 1e-12))


def measure_file(path: str, *, block_frames: int = 65_536) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of an audio file, streamed."""
    import soundfile as sf

    with sf.SoundFile(path) as f:
        meter = LoudnessMeter(f.samplerate, f.channels)
        for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            meter.add(block.T)
    return meter.integrated_lufs, meter.true_peak_dbtp
