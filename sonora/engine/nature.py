"""Nature sound sources: rain, ocean waves, wind and a forest stream.

Every source here is stereo, deterministic from its seed, block-size invariant and
cheap enough to run thousands of times faster than real time.

How they are made
-----------------
Per-sample recursive filtering of fresh noise is too slow for Sonora's speed budget
(a single biquad on stereo audio costs more than the whole budget of a source), so
the steady parts of each sound are *read* rather than filtered:

* At first use, each source builds a small **bank** of stereo tables per sample
  rate (cached and shared by every instance): the same white noise shaped by a few
  zero-phase spectra ("classes"), e.g. band-passes at centres 2/3 octave apart for
  wind or low-passes at rising cutoffs for waves.  Noise tables are periodic,
  2.7 s long at 48 kHz; the stream's pre-rendered babble tables are 10 s long.
* Every quantum (:data:`~sonora.engine.base.QUANTUM` frames) a :class:`_Layer` reads
  a window at a random offset (with a random polarity), mixes adjacent classes with
  linear weights — because every class of a bank filters the *same* noise at the
  same offset, that is exactly noise through the interpolated filter, so a band
  centre or a cutoff moves continuously; the mixture is rescaled to unit power —
  applies per-channel gains and crossfades from the previous window over a quarter
  quantum (21 ms at 48 kHz) with power-complementary sine/cosine fades.  Gains,
  cutoffs and centres therefore move from quantum to quantum without clicks or
  zipper noise, and because windows start at random offsets nothing loops audibly.
* Transients that must follow a parameter live (rain drops) are rendered as events:
  precomputed drop grains added at Poisson-distributed times, with the tails of
  events that straddle a quantum boundary carried to the next quantum.  A dense
  babble (the stream) is pre-rendered into tables, because it has too many events
  per second to place one by one.
* Parameters set by automation glide to their new value (time constant 0.25 s),
  so even a jump between two blocks becomes a smooth change.

The tables use a fixed internal seed and are shared; the source's ``seed`` drives
everything that is played: window offsets, wave and gust schedules, every drop.

No-startle
----------
Sonora's scenes must never let the 400 ms momentary loudness rise more than 6 LU
above the mean of the previous 10 s.  The sources here keep their own dynamics well
inside that (worst cases measured at 2-5 LU): wave crests and gusts are bounded in
dB, and rain drops pass through an energy governor that caps the drop energy of any
~0.4 s window at 2.5x its long-term mean, so an unlucky Poisson cluster of drops
cannot startle, and through a peak guard that stops coinciding drops from piling up
into a spike.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import ClassVar, NamedTuple

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng

__all__ = ["OceanWaves", "Rain", "Stream", "Wind"]

#: Seed of the shared noise tables (the source's own seed picks what is played).
_BANK_SEED = 0x534F4E52  # "SONR"

#: Crossfade between consecutive table windows, in frames (a quarter quantum: 21 ms
#: at 48 kHz).
_XFADE = QUANTUM // 4
#: Frames read from a table per quantum (the quantum plus the fade-out tail).
_SPAN = QUANTUM + _XFADE
_fade_phase = (np.arange(_XFADE) + 0.5) / _XFADE * (0.5 * np.pi)
_FADE_IN = np.sin(_fade_phase).astype(np.float32)
_FADE_OUT = np.cos(_fade_phase).astype(np.float32)

_TWO_PI = 2.0 * math.pi
_SQRT2 = math.sqrt(2.0)


# -- spectral helpers -----------------------------------------------------------------
def _lowpass_pow(f: np.ndarray, cutoff_hz: float, order: int) -> np.ndarray:
    """Power response of a Butterworth-like low-pass (``order`` poles)."""
    return 1.0 / (1.0 + (f / cutoff_hz) ** (2 * order))


def _highpass_pow(f: np.ndarray, cutoff_hz: float, order: int) -> np.ndarray:
    """Power response of a Butterworth-like high-pass (``order`` poles)."""
    r = (np.maximum(f, 1e-3) / cutoff_hz) ** (2 * order)
    return r / (1.0 + r)


def _table_frames(sample_rate: int) -> int:
    """Period of a noise table in frames: a power of two of about 2.7 s."""
    return 1 << round(math.log2(2.73 * sample_rate))


class _Bank(NamedTuple):
    """Stereo tables read by :class:`_Layer`, and how their classes correlate.

    Attributes
    ----------
    tables : numpy.ndarray
        float32 ``(classes, 2, period + _SPAN)``, unit RMS per class, read-only.
    corr : tuple of tuple of float
        ``corr[j][k]`` is the correlation of classes ``j`` and ``k`` at the same offset
        (they may filter the same noise), used to keep mixtures at unit power.
    """

    tables: np.ndarray
    corr: tuple[tuple[float, ...], ...]


def _noise_bank(rng: np.random.Generator, n: int, sample_rate: int, power: np.ndarray) -> _Bank:
    """Stereo periodic Gaussian noise shaped by several zero-phase spectra.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the white noise (one realisation, shared by all classes).
    n : int
        Period in frames (even; a power of two is fastest).
    sample_rate : int
        Sample rate in Hz.
    power : numpy.ndarray
        ``(classes, n // 2 + 1)`` power spectra on ``rfftfreq(n, 1 / sample_rate)``;
        each class is normalised to unit variance and must be > 0 somewhere.

    Returns
    -------
    _Bank
        Tables of shape ``(classes, 2, n + _SPAN)``: each repeats its first ``_SPAN``
        frames at the end, so any window starting in ``[0, n)`` is continuous.
    """
    bins = n // 2 + 1
    white = rng.standard_normal((2, 2, bins), dtype=np.float32)
    spec = (white[0] + 1j * white[1]).astype(np.complex64)  # (2, bins)
    power = np.asarray(power, dtype=np.float64).copy()
    power[:, 0] = 0.0  # no DC
    power[:, -1] = 0.0
    power /= power.mean(axis=1, keepdims=True) * (bins / (n / 2))
    # irfft of unit complex Gaussian bins has variance 2 / n: scale to unit variance.
    mag = (np.sqrt(power) * math.sqrt(n / 2.0)).astype(np.float32)
    out = np.empty((power.shape[0], 2, n + _SPAN), dtype=np.float32)
    for k in range(power.shape[0]):
        x = np.fft.irfft(spec * mag[k], n=n, axis=-1)
        out[k, :, :n] = x
        out[k, :, n:] = x[:, :_SPAN]
    amp = np.sqrt(power)
    corr = (amp @ amp.T) / power.sum(axis=1)  # unit power: the diagonal is 1
    return _Bank(_frozen(out), tuple(tuple(float(c) for c in row) for row in corr))


def _frozen(a: np.ndarray) -> np.ndarray:
    """Mark a shared (cached) table read-only and return it."""
    a.setflags(write=False)
    return a


def _remove_low(x: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase removal of content below ``cutoff_hz`` (and DC) along the last axis."""
    n = x.shape[-1]
    m = 1 << math.ceil(math.log2(2 * n))
    spec = np.fft.rfft(x, n=m, axis=-1)
    f = np.fft.rfftfreq(m, 1.0 / sample_rate)
    spec *= np.sqrt(_highpass_pow(f, cutoff_hz, 2))
    spec[..., 0] = 0.0
    return np.fft.irfft(spec, n=m, axis=-1)[..., :n]


class _Layer:
    """Crossfading reader of a bank of stereo tables (see the module docstring).

    Parameters
    ----------
    bank : _Bank
        The tables to read and their correlations.
    """

    __slots__ = ("_gain", "_next_tail", "_silent", "_tmp", "bank", "corr", "period", "tail")

    def __init__(self, bank: _Bank) -> None:
        self.bank = bank.tables
        self.corr = bank.corr
        self.period = self.bank.shape[-1] - _SPAN
        self.tail = np.zeros((2, _XFADE), dtype=np.float32)  # faded-out end of last window
        self._next_tail = np.empty((2, _XFADE), dtype=np.float32)
        self._tmp = np.empty((2, _SPAN), dtype=np.float32)
        self._gain = np.empty((2, 1), dtype=np.float32)
        self._silent = True  # nothing playing and nothing left in the tail

    def render(
        self,
        weights: list[tuple[int, float]],
        gains: tuple[float, float],
        u_start: float,
        u_sign: float,
    ) -> np.ndarray | None:
        """Return the next quantum as a new float32 ``(2, QUANTUM)`` array.

        Returns None instead when the layer is silent (zero gains) and nothing of the
        previous window is left to fade out.

        Parameters
        ----------
        weights : list of (int, float)
            ``(class, weight)`` pairs mixed at the same offset; the mixture is scaled
            to unit power before ``gains``.
        gains : (float, float)
            Left and right linear gains for this quantum.
        u_start : float
            Uniform [0, 1] number choosing the window's start in the table.
        u_sign : float
            Uniform [0, 1) number choosing the window's polarity.
        """
        if gains[0] == 0.0 and gains[1] == 0.0:
            if self._silent:
                return None
            weights = []
        start = min(int(u_start * self.period), self.period)
        sign = -1.0 if u_sign >= 0.5 else 1.0
        if len(weights) == 2:
            (j, wj), (k, wk) = weights
            sign /= math.sqrt(wj * wj + wk * wk + 2.0 * wj * wk * self.corr[j][k])
        elif len(weights) > 2:
            corr = self.corr
            power = sum(wj * wk * corr[j][k] for j, wj in weights for k, wk in weights)
            sign /= math.sqrt(power)
        g, nxt, tmp = self._gain, self._next_tail, self._tmp
        out = np.empty((2, QUANTUM), dtype=np.float32)
        first = True
        for k, w in weights:
            g[0, 0] = gains[0] * sign * w
            g[1, 0] = gains[1] * sign * w
            seg = self.bank[k, :, start : start + _SPAN]
            if first:
                np.multiply(seg[:, :QUANTUM], g, out=out)
                np.multiply(seg[:, QUANTUM:], g, out=nxt)
                first = False
            else:
                np.multiply(seg, g, out=tmp)
                out += tmp[:, :QUANTUM]
                nxt += tmp[:, QUANTUM:]
        if first:  # silent: let the previous window fade out
            out.fill(0.0)
            nxt.fill(0.0)
        self._silent = first
        xf = out[:, :_XFADE]
        xf *= _FADE_IN
        xf += self.tail
        np.multiply(nxt, _FADE_OUT, out=self.tail)
        return out


def _interp_weights(pos: float, classes: int) -> list[tuple[int, float]]:
    """Linear-interpolation weights for a fractional class position."""
    pos = min(max(pos, 0.0), classes - 1.0)
    k = int(pos)
    fr = pos - k
    if fr < 1e-3 or k >= classes - 1:
        return [(k, 1.0)]
    if fr > 1.0 - 1e-3:
        return [(k + 1, 1.0)]
    return [(k, 1.0 - fr), (k + 1, fr)]


def _pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan gains, unity at the centre; ``pan`` in [-1, 1] (left to right)."""
    a = (min(max(pan, -1.0), 1.0) + 1.0) * (0.25 * math.pi)
    return math.cos(a) * math.sqrt(2.0), math.sin(a) * math.sqrt(2.0)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


class _Glide:
    """Parameter values as a source uses them: each glides to its set value.

    Automation may jump a parameter between quanta; the source follows with a
    one-pole glide (time constant ``tau_s``) updated once per quantum, so even a jump
    becomes a smooth change.  Deterministic: depends only on the values set.
    """

    __slots__ = ("k", "values")

    def __init__(self, params: dict[str, float], step_s: float, tau_s: float = 0.25) -> None:
        self.values = dict(params)
        self.k = 1.0 - math.exp(-step_s / tau_s)

    def update(self, params: dict[str, float]) -> dict[str, float]:
        """Move every value one quantum towards ``params``; return the values."""
        values = self.values
        if values == params:  # the common case: nothing is moving
            return values
        for name, target in params.items():
            v = values[name]
            if v != target:
                v += (target - v) * self.k
                if abs(target - v) <= 1e-6 * max(1.0, abs(target)):
                    v = target
                values[name] = v
        return values


class _SlowNoise:
    """Smooth random control signals, updated once per quantum.

    Each signal is unit-variance white noise through two cascaded one-pole low-passes
    with its own time constant, scaled to unit standard deviation; all of them draw
    from one generator in a single call per quantum.  They start in (approximately)
    their stationary distribution.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the driving noise.
    taus_s : sequence of float
        Time constant of each signal in seconds.
    step_s : float
        Time between updates in seconds.
    """

    __slots__ = ("a", "norm", "rng", "x1", "x2")

    def __init__(self, rng: np.random.Generator, taus_s: tuple[float, ...], step_s: float) -> None:
        self.rng = rng
        self.a = [math.exp(-step_s / tau) for tau in taus_s]
        # Output variances of the first stage and of the cascade for unit white input.
        var1 = [(1.0 - a) ** 2 / (1.0 - a * a) for a in self.a]
        var2 = [(1.0 - a) ** 4 * (1.0 + a * a) / (1.0 - a * a) ** 3 for a in self.a]
        self.norm = [1.0 / math.sqrt(v) for v in var2]
        z = rng.standard_normal((2, len(self.a))).tolist()
        self.x1 = [zi * math.sqrt(v) for zi, v in zip(z[0], var1, strict=True)]
        self.x2 = [zi * math.sqrt(v) for zi, v in zip(z[1], var2, strict=True)]

    def step(self) -> list[float]:
        """Advance one quantum; return the smooth, unit-variance values."""
        z = self.rng.standard_normal(len(self.a)).tolist()
        out = []
        for i, a in enumerate(self.a):
            x1 = a * self.x1[i] + (1.0 - a) * z[i]
            x2 = a * self.x2[i] + (1.0 - a) * x1
            self.x1[i], self.x2[i] = x1, x2
            out.append(x2 * self.norm[i])
        return out


# ======================================================================================
# Rain
# ======================================================================================
@lru_cache(maxsize=2)
def _rain_tables(sample_rate: int) -> tuple[_Bank, np.ndarray, np.ndarray, float]:
    """Bed bank, drop grains, drop lengths and drop energy for one sample rate.

    Returns
    -------
    bed : _Bank
        Dark, medium and bright rain beds, ``(3, 2, n + _SPAN)``, unit RMS.
    drops : numpy.ndarray
        float32 ``(64, L)`` mono drop grains sorted from dull to bright.
    lengths : numpy.ndarray
        int ``(64,)`` useful length of each grain in frames.
    energy : float
        Sum of squares of every grain (all equal).
    """
    sr = sample_rate
    rng = make_rng(_BANK_SEED, "rain", "bed")
    n = _table_frames(sr)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    nyq_guard = _lowpass_pow(f, 0.42 * sr, 6)
    body = _highpass_pow(f, 55.0, 2) * _lowpass_pow(f, 380.0, 2) * 0.9
    classes = []
    for cutoff, tilt in ((3200.0, -0.9), (6500.0, -0.6), (12000.0, -0.35)):
        hiss = (
            _highpass_pow(f, 450.0, 2)
            * _lowpass_pow(f, min(cutoff, 0.4 * sr), 2)
            * (np.maximum(f, 20.0) / 1000.0) ** tilt
        )
        hiss /= hiss.mean()
        classes.append((hiss + body / body.mean() * 0.28) * nyq_guard)
    bed = _noise_bank(rng, n, sr, np.array(classes))

    # Drops: a pitched "plink" (damped sine, rising chirp) and/or a dull "tick"
    # (short band-passed noise burst).  Larger drops are lower, longer and softer-edged.
    drng = make_rng(_BANK_SEED, "rain", "drops")
    count = 64
    length = int(0.05 * sr)
    t = np.arange(length) / sr
    grains = np.zeros((count, length))
    lens = np.zeros(count, dtype=np.int64)
    u = drng.random((count, 6))
    noise = drng.standard_normal((count, length))
    for i in range(count):
        size, bright, plinkiness, chirp, tick_tau, tick_band = u[i]
        f0 = min(1150.0 * 2.0 ** ((1.0 - size) * 1.5 + bright * 0.9), 0.38 * sr)
        tau = 0.0025 + 0.007 * size
        freq = f0 * (1.0 + (0.08 + 0.35 * chirp) * (1.0 - np.exp(-t / (1.5 * tau))))
        phase = _TWO_PI * np.cumsum(freq) / sr
        attack = 1.0 - np.exp(-t / 0.00035)
        plink = attack * np.exp(-t / tau) * np.sin(phase)
        tt = 0.0006 + 0.0016 * tick_tau
        tick = (1.0 - np.exp(-t / 0.0002)) * np.exp(-t / tt) * noise[i]
        fc = min(1800.0 * 2.0 ** (bright * 1.8 + tick_band * 0.6), 0.36 * sr)
        spec = np.fft.rfft(tick)
        fr = np.fft.rfftfreq(length, 1.0 / sr)
        spec *= np.exp(-0.5 * (np.log2(np.maximum(fr, 1.0) / fc) / 0.9) ** 2)
        tick = np.fft.irfft(spec, n=length)
        tick *= math.sqrt(np.sum(plink**2) / max(np.sum(tick**2), 1e-20))
        w = 0.15 + 0.65 * plinkiness
        g = w * plink + (1.0 - w) * 0.8 * tick
        useful = min(length, int((5.0 * max(tau, tt) + 0.001) * sr))
        fade = np.ones(length)
        nf = max(useful // 4, 8)
        fade[useful - nf : useful] = np.cos(np.linspace(0.0, 0.5 * np.pi, nf)) ** 2
        fade[useful:] = 0.0
        grains[i] = g * fade
        lens[i] = useful
    grains = _remove_low(grains, sr, 200.0)
    grains[:, :] *= np.arange(length)[None, :] < lens[:, None]
    # Unit energy relative to 4 ms of unit power: sum(x^2) = 0.004 * sr.
    energy = 0.004 * sr
    grains *= np.sqrt(energy / np.sum(grains**2, axis=1, keepdims=True))
    spec = np.abs(np.fft.rfft(grains, axis=1)) ** 2
    fr = np.fft.rfftfreq(length, 1.0 / sr)
    centroid = (spec @ fr) / spec.sum(axis=1)
    order = np.argsort(centroid)
    return bed, _frozen(grains[order].astype(np.float32)), lens[order], float(energy)


class Rain(Source):
    """Rain: a soft hiss with some low body, plus individual drops.

    The bed is filtered noise (see the module docstring) whose spectrum moves from a
    dull patter (``brightness`` 0, hiss rolled off above ~3 kHz) to a crisp shower
    (``brightness`` 1, ~12 kHz).  Drops are short pitched plinks and dull ticks of
    random size, brightness, stereo position and timing, arriving as a Poisson
    process at 3 drops/s (``density`` 0, drizzle) to 60 drops/s (``density`` 1,
    downpour); the overall level rises by 7 dB over the same range.
    ``drop_level_db`` is the drops' share of the power at the default density; it
    grows with the square root of the rate, so a downpour still crackles.  A
    drop-energy governor caps the energy of drops within ~0.4 s at 2.5× its
    long-term mean so that an unlucky cluster can never startle, a peak guard keeps
    coinciding drops from piling up, and the bed drifts gently (±1 dB over ~15 s)
    as real rain does.

    Output is float32 ``(2, frames)``; at the defaults its RMS is about 0.06 and
    its peaks stay below 0.75 at every setting.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Seed for every random choice.
    density : float
        0 (drizzle) – 1 (downpour).
    brightness : float
        0 (dull) – 1 (crisp).
    drop_level_db : float
        Mean power of the drops relative to the bed's at the default density, in dB
        (-30 – 0).
    """

    channels = 2
    FAMILY = "rain"
    CALIBRATION_S = 20.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "density": Param(0.5, 0.0, 1.0, "", "drizzle (0) to downpour (1); drop rate 3–60 /s"),
        "brightness": Param(0.5, 0.0, 1.0, "", "dull patter (0) to crisp shower (1)"),
        "drop_level_db": Param(
            -8.0, -30.0, 0.0, "dB", "power of the drops relative to the bed (at density 0.5)"
        ),
    }

    #: Drop rates at density 0 and 1, per second.
    _RATE_MIN = 3.0
    _RATE_MAX = 60.0
    _RATE_MID = math.sqrt(_RATE_MIN * _RATE_MAX)
    #: Nominal RMS (bed and drops) at density 0 and 1.
    _RMS_MIN = 0.045
    _RMS_MAX = 0.1
    #: Drop-governor time constant (s) and cap (multiple of the mean window energy).
    _GOV_TAU_S = 0.4
    _GOV_CAP = 2.5
    #: No drop's peak (before panning) exceeds this at density 0 and 1.
    _DROP_PEAK_MIN = 0.22
    _DROP_PEAK_MAX = 0.3
    #: Bound on the decaying sum of recent drop peaks per channel, and its decay (s).
    _DROP_SUM_PEAK = 0.5
    _ENV_TAU_S = 0.01
    #: Fraction of the (dull-to-bright sorted) drop grains one brightness draws from.
    _GRAIN_WINDOW = 0.45

    def _setup(self) -> None:
        self._glide = _Glide(self.params, QUANTUM / self.sample_rate)
        bed, drops, lens, energy = _rain_tables(self.sample_rate)
        self._bed = _Layer(bed)
        self._drops = drops
        self._drop_lens = [int(v) for v in lens]
        self._drop_energy = energy
        self._inv_peak = (1.0 / np.max(np.abs(drops), axis=1)).tolist()
        self._rng_bed = make_rng(self.seed, "rain", "bed")
        self._rng_drops = make_rng(self.seed, "rain", "drops")
        step = QUANTUM / self.sample_rate
        self._drift = _SlowNoise(make_rng(self.seed, "rain", "drift"), (8.0,), step)
        self._acc = np.zeros((2, QUANTUM + drops.shape[1]), dtype=np.float32)
        self._acc_used = 0  # frames at the start of _acc that hold drop tails
        self._gain = np.empty((2, 1), dtype=np.float32)
        self._gov = 0.0  # drop energy within the governor window (sum of squares)
        self._env_l = 0.0  # decaying sum of recent drop peaks, left and right
        self._env_r = 0.0
        self._last_drop = 0  # frame at which those were last updated

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        sr = self.sample_rate
        density, brightness = p["density"], p["brightness"]
        # Total (bed + drops) RMS follows density; drop_level_db sets the balance at
        # the default density.  The drops' share grows as sqrt(rate), so that each drop
        # fades into the roar more slowly than its rate rises: a downpour still
        # crackles with individual drops.
        rate = self._RATE_MIN * (self._RATE_MAX / self._RATE_MIN) ** density
        rel = 10.0 ** (p["drop_level_db"] / 10.0) * math.sqrt(rate / self._RATE_MID)
        total_rms = self._RMS_MIN * (self._RMS_MAX / self._RMS_MIN) ** density
        bed_rms = total_rms / math.sqrt(1.0 + rel)
        drift_db = 1.0 * math.tanh(self._drift.step()[0])
        g = bed_rms * 10.0 ** (drift_db / 20.0)
        u = self._rng_bed.random(2)
        out = self._bed.render(_interp_weights(2.0 * brightness, 3), (g, g), u[0], u[1])
        if out is None:  # pragma: no cover - the bed's gain is never zero
            out = np.zeros((2, QUANTUM), dtype=np.float32)

        # Drops: a Poisson process at `rate`; mean drop power = bed power * 10^(dB/10).
        mean_a2 = 0.3393  # E[a^2] for a = 10^(-0.6 u), u ~ U(0, 1)
        drop_pow = bed_rms**2 * rel
        scale = math.sqrt(drop_pow * sr / (rate * mean_a2 * self._drop_energy))
        count = int(self._rng_drops.poisson(rate * QUANTUM / sr))
        acc = self._acc
        hi = self._acc_used  # frames of `acc` holding carried-over drop tails
        if count:
            ev = self._rng_drops.random((count, 4))
            ev = ev[np.argsort(ev[:, 0])].tolist()
            n_grains = self._drops.shape[0]
            lo_grain = brightness * (1.0 - self._GRAIN_WINDOW)
            e0 = self._drop_energy
            tau_frames = self._GOV_TAU_S * sr
            cap = self._GOV_CAP * max(rate * self._GOV_TAU_S, 1.0) * mean_a2 * scale**2 * e0
            gov, last = self._gov, self._last_drop
            env_l, env_r = self._env_l, self._env_r
            env_tau = self._ENV_TAU_S * sr
            limit = self._DROP_SUM_PEAK
            drops, lens, g = self._drops, self._drop_lens, self._gain
            inv_peak = self._inv_peak
            peak = self._DROP_PEAK_MIN + (self._DROP_PEAK_MAX - self._DROP_PEAK_MIN) * density
            half_pi = 0.5 * math.pi
            for u_pos, u_grain, u_size, u_pan in ev:
                s = int(u_pos * QUANTUM)
                frame = self.frame + s
                gov *= math.exp((last - frame) / tau_frames)
                decay = math.exp((last - frame) / env_tau)
                env_l *= decay
                env_r *= decay
                last = frame
                k = min(int((lo_grain + u_grain * self._GRAIN_WINDOW) * n_grains), n_grains - 1)
                a = min(scale * 10.0 ** (-0.6 * u_size), peak * inv_peak[k])
                e = a * a * e0
                if gov + e > cap:  # the governor: cap the drop energy of the last ~0.4 s
                    e = max(cap - gov, 0.0)
                    a = math.sqrt(e / e0)
                ang = (0.075 + 0.85 * u_pan) * half_pi  # pan within ±0.85, equal power
                gl = math.cos(ang) * _SQRT2
                gr = math.sin(ang) * _SQRT2
                # Peak guard: the decaying sum of recent drop peaks stays under `limit`,
                # so drops that happen to coincide cannot pile up into a spike.
                pk = 1.0 / inv_peak[k]
                a = min(a, (limit - env_l) / (gl * pk), (limit - env_r) / (gr * pk))
                if a <= 0.0:
                    continue
                gov += a * a * e0
                env_l += a * gl * pk
                env_r += a * gr * pk
                ln = lens[k]
                g[0, 0] = a * gl
                g[1, 0] = a * gr
                acc[:, s : s + ln] += drops[k, :ln] * g
                hi = max(hi, s + ln)
            self._gov, self._last_drop = gov, last
            self._env_l, self._env_r = env_l, env_r
        if hi == 0:
            return out
        out += acc[:, :QUANTUM]
        if hi > QUANTUM:
            acc[:, : hi - QUANTUM] = acc[:, QUANTUM:hi]
            acc[:, hi - QUANTUM : hi] = 0.0
            self._acc_used = hi - QUANTUM
        else:
            acc[:, :hi] = 0.0
            self._acc_used = 0
        return out


# ======================================================================================
# Ocean waves
# ======================================================================================
#: Body classes: low-pass cutoffs 2/3 octave apart from 150 Hz.
_WAVE_CUTOFFS = tuple(150.0 * 2.0 ** (k * 2.0 / 3.0) for k in range(8))


@lru_cache(maxsize=2)
def _wave_tables(sample_rate: int) -> tuple[_Bank, _Bank]:
    """Body bank (low-passed surf at rising cutoffs) and foam bank (soft, bright hiss).

    Returns
    -------
    body : _Bank
        ``(8, 2, n + _SPAN)``; class ``k`` is low-passed at ``_WAVE_CUTOFFS[k]``.
    foam : _Bank
        ``(2, 2, n + _SPAN)``: soft and bright foam hiss.
    """
    sr = sample_rate
    n = _table_frames(sr)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    guard = _lowpass_pow(f, 0.42 * sr, 6)
    base = _highpass_pow(f, 40.0, 2) * (np.maximum(f, 20.0) / 100.0) ** -1.1
    hissfloor = _highpass_pow(f, 800.0, 1) * (np.maximum(f, 20.0) / 1000.0) ** -0.5
    body = []
    for fc in _WAVE_CUTOFFS:
        pw = base * _lowpass_pow(f, min(fc, 0.4 * sr), 2)
        pw = pw / pw.mean() + 0.002 * hissfloor / hissfloor.mean()
        body.append(pw * guard)
    body_bank = _noise_bank(make_rng(_BANK_SEED, "waves", "body"), n, sr, np.array(body))
    foam = []
    for lo, hi in ((900.0, 4200.0), (1600.0, 9000.0)):
        pw = _highpass_pow(f, lo, 2) * _lowpass_pow(f, min(hi, 0.38 * sr), 2)
        pw *= (np.maximum(f, 20.0) / 1000.0) ** -0.4 * guard
        foam.append(pw)
    foam_bank = _noise_bank(make_rng(_BANK_SEED, "waves", "foam"), n, sr, np.array(foam))
    return body_bank, foam_bank


class OceanWaves(Source):
    """Ocean waves: irregular swells that build, break softly and wash back.

    Each wave lasts ``swell_s`` × a random factor (0.6–1.55, log-normal around 1),
    has a random strength (0.55–1) and stereo position, and follows a smooth rise to
    its crest then a receding wash.  Over a wave, the surf's loudness and its low-pass
    cutoff rise and fall together (cutoff from 150–380 Hz in the trough, set by
    ``brightness``, up to 0.5–3 kHz at the crest of a full wave, set by ``intensity``);
    a soft hiss of foam swells in at the crest and lingers through the wash while
    drifting across the stereo field.  A floor of distant surf keeps the trough from
    going silent: crest-to-trough is 3.5–6.5 dB in power depending on ``intensity``
    (a little less for swells longer than 10 s), so that no crest can startle; the
    swing in brightness is what makes the waves.

    Output is float32 ``(2, frames)``; at the defaults its RMS is about 0.08 and its
    peaks stay below 0.8 at every setting.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Seed for every random choice.
    swell_s : float
        Mean wave period in seconds (4–16).
    intensity : float
        0 (gentle lapping) – 1 (full surf): depth of the swell, crest cutoff, foam.
    brightness : float
        0 (muffled) – 1 (airy): trough cutoff and foam colour.
    """

    channels = 2
    FAMILY = "water"
    CALIBRATION_S = 48.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "swell_s": Param(9.0, 4.0, 16.0, "s", "mean wave period"),
        "intensity": Param(0.5, 0.0, 1.0, "", "gentle lapping (0) to full surf (1)"),
        "brightness": Param(0.5, 0.0, 1.0, "", "muffled (0) to airy (1)"),
    }

    _LEVEL = 0.15

    def _setup(self) -> None:
        self._glide = _Glide(self.params, QUANTUM / self.sample_rate)
        body, foam = _wave_tables(self.sample_rate)
        self._body = _Layer(body)
        self._foam = _Layer(foam)
        self._n_body = body.tables.shape[0]
        self._rng_read = make_rng(self.seed, "waves", "read")
        self._rng_swell = make_rng(self.seed, "waves", "swell")
        self._wave_start = 0.0  # frames
        self._wave: tuple[float, float, float, float, float] = self._draw_wave()
        # Start part-way through the first wave so the session does not open on a trough.
        self._wave_start = -float(self._rng_swell.random()) * 0.4 * self._wave[0]

    def _draw_wave(self) -> tuple[float, float, float, float, float]:
        """Draw (length frames, strength, crest phase, decay shape, pan) for a wave."""
        swell = self._glide.values["swell_s"]
        u = self._rng_swell.random(6)
        z = math.sqrt(-2.0 * math.log(max(u[0], 1e-12))) * math.cos(_TWO_PI * u[1])
        factor = min(max(math.exp(0.25 * z), 0.6), 1.55)
        length = max(factor * swell, 3.0) * self.sample_rate
        strength = 0.55 + 0.45 * u[2]
        crest = 0.36 + 0.14 * u[3]
        shape = 0.7 + 0.6 * u[4]
        pan = u[5] * 1.2 - 0.6
        return length, strength, crest, shape, pan

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        intensity, brightness = p["intensity"], p["brightness"]
        t = self.frame + 0.5 * QUANTUM
        while t >= self._wave_start + self._wave[0]:
            self._wave_start += self._wave[0]
            self._wave = self._draw_wave()
        length, strength, crest, shape, pan = self._wave
        phase = (t - self._wave_start) / length
        if phase < crest:
            bump = _smoothstep(phase / crest)
        else:
            s = (phase - crest) / (1.0 - crest)
            bump = (0.5 + 0.5 * math.cos(math.pi * s)) ** shape
        # Foam: swells in around the crest, lingers through the wash.
        f_on = _smoothstep((phase - (crest - 0.12)) / 0.16)
        f_off = (max(1.0 - phase, 0.0) / (1.0 - crest + 0.04)) ** 1.3
        foam = f_on * min(f_off, 1.0)

        # Power of the whole wave (body + foam), relative to a full crest.
        # Waves longer than ~10 s leave a whole loudness window in the trough: make
        # them shallower so a crest never stands out of the last 10 s by 6 LU.
        depth_db = (3.5 + 3.0 * intensity) * min(1.0, math.sqrt(10.0 / p["swell_s"]))
        floor_pow = 10.0 ** (-depth_db / 10.0)
        wave_pow = floor_pow + (1.0 - floor_pow) * strength * bump
        # The foam takes a share of it rather than adding on top, so a crest is no
        # louder with foam than without: only brighter.
        foam_share = (0.12 + 0.18 * intensity) * (0.6 + 0.4 * brightness) * foam
        level = self._LEVEL * 10.0 ** ((intensity - 1.0) * 5.0 / 20.0)
        x = 2.0 * brightness + (2.5 + 2.0 * intensity) * strength * bump**0.8
        # Body classes have unit RMS; -0.1 dB/class offsets K-weighting's favour for
        # the brighter ones.
        body_gain = level * math.sqrt(wave_pow * (1.0 - foam_share)) * 10.0 ** (-0.005 * x)
        bl, br = _pan_gains(0.3 * pan)
        u = self._rng_read.random(4)
        out = self._body.render(
            _interp_weights(x, self._n_body), (body_gain * bl, body_gain * br), u[0], u[1]
        )
        foam_gain = level * math.sqrt(wave_pow * foam_share)
        fpan = pan * (1.0 - 1.6 * min(max((phase - crest) / (1.0 - crest), 0.0), 1.0))
        fl, fr = _pan_gains(fpan)
        out2 = self._foam.render(
            _interp_weights(brightness, 2), (foam_gain * fl, foam_gain * fr), u[2], u[3]
        )
        if out is None:
            out = np.zeros((2, QUANTUM), dtype=np.float32)
        if out2 is not None:
            out += out2
        return out


# ======================================================================================
# Wind
# ======================================================================================
_WIND_LOW_HZ = 60.0
_WIND_STEP_OCT = 2.0 / 3.0
_WIND_CLASSES = 11  # 60 Hz ... 6.1 kHz


@lru_cache(maxsize=2)
def _wind_tables(sample_rate: int) -> _Bank:
    """Band-pass bank: class ``k`` is centred at 60 Hz × 2^(2k/3), σ = 0.33 octave.

    Returns
    -------
    _Bank
        ``(11, 2, n + _SPAN)``, unit RMS per class, all from the same noise.
    """
    sr = sample_rate
    n = _table_frames(sr)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    lf = np.log2(np.maximum(f, 1.0))
    guard = _lowpass_pow(f, 0.42 * sr, 6) * _highpass_pow(f, 30.0, 2)
    air = _highpass_pow(f, 200.0, 1) * (np.maximum(f, 20.0) / 1000.0) ** -1.0
    air /= air.mean()
    classes = []
    for k in range(_WIND_CLASSES):
        c = _WIND_LOW_HZ * 2.0 ** (k * _WIND_STEP_OCT)
        band = np.exp(-((lf - math.log2(c)) ** 2) / (2.0 * 0.33**2))
        band /= band.mean()
        classes.append((band + 0.015 * air) * guard)
    return _noise_bank(make_rng(_BANK_SEED, "wind", "bank"), n, sr, np.array(classes))


class Wind(Source):
    """Wind: noise through a slowly wandering band-pass, with gusts.

    The band's centre wanders ±0.65 octave around ``pitch_hz`` over tens of seconds
    and its width (0.25–1.3 octave between two overlapping bands) drifts too.  Gusts
    (a smooth random process with a 2.5 s time constant) raise the level by up to
    +2.5 dB, push the centre up to 0.35 octave higher and widen the band, scaled by
    ``gustiness``; lulls do the opposite.  The image drifts gently between the
    speakers.  ``strength`` sets the level (-9 dB at 0) and nudges the centre up.

    Output is float32 ``(2, frames)``; at the defaults its RMS is about 0.06 and its
    peaks stay below 0.85 at every setting.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Seed for every random choice.
    strength : float
        0 (light breeze) – 1 (strong wind).
    pitch_hz : float
        Centre of the wandering band in Hz (100–2000).
    gustiness : float
        0 (steady) – 1 (gusty).
    """

    channels = 2
    FAMILY = "wind"
    CALIBRATION_S = 60.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "strength": Param(0.5, 0.0, 1.0, "", "light breeze (0) to strong wind (1)"),
        "pitch_hz": Param(400.0, 100.0, 2000.0, "Hz", "centre of the wandering band"),
        "gustiness": Param(0.5, 0.0, 1.0, "", "steady (0) to gusty (1)"),
    }

    _LEVEL = 0.1

    def _setup(self) -> None:
        self._glide = _Glide(self.params, QUANTUM / self.sample_rate)
        self._layer = _Layer(_wind_tables(self.sample_rate))
        step = QUANTUM / self.sample_rate
        self._rng_read = make_rng(self.seed, "wind", "read")
        # Control signals: centre wander, width, gusts, stereo position.
        self._control = _SlowNoise(
            make_rng(self.seed, "wind", "control"), (9.0, 12.0, 2.5, 10.0), step
        )

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        strength, gustiness = p["strength"], p["gustiness"]
        c_wander, c_width, c_gust, c_pan = self._control.step()
        wander = math.tanh(0.8 * c_wander)
        width_n = 0.5 + 0.5 * math.tanh(0.8 * c_width)
        gust = math.tanh(0.9 * c_gust)
        pan = 0.3 * math.tanh(0.8 * c_pan)

        centre_oct = (
            math.log2(p["pitch_hz"])
            + 0.65 * wander
            + 0.35 * gustiness * gust
            + 0.3 * (strength - 0.5)
        )
        width_oct = 0.25 + 0.75 * width_n + 0.3 * gustiness * max(gust, 0.0)
        pos = (centre_oct - math.log2(_WIND_LOW_HZ)) / _WIND_STEP_OCT
        half = 0.5 * width_oct / _WIND_STEP_OCT
        weights: dict[int, float] = {}
        for q in (pos - half, pos + half):
            for k, w in _interp_weights(q, _WIND_CLASSES):
                weights[k] = weights.get(k, 0.0) + w * 0.7071
        gain_db = -9.0 * (1.0 - strength) + 2.5 * gustiness * gust
        g = self._LEVEL * 10.0 ** (gain_db / 20.0)
        gl, gr = _pan_gains(pan)
        u = self._rng_read.random(2)
        head = self._layer.render(sorted(weights.items()), (g * gl, g * gr), u[0], u[1])
        if head is None:  # pragma: no cover - the gain is never zero
            return np.zeros((2, QUANTUM), dtype=np.float32)
        return head


# ======================================================================================
# Forest stream
# ======================================================================================
def _place_events(
    dst: np.ndarray,
    grains: np.ndarray,
    lens: np.ndarray,
    idx: np.ndarray,
    pos: np.ndarray,
    gains: np.ndarray,
) -> None:
    """Add grains into ``dst`` (overlap-add of many events).

    Parameters
    ----------
    dst : numpy.ndarray
        ``(channels, frames)``, modified in place; long enough for every grain.
    grains : numpy.ndarray
        ``(count, length)`` grain bank; grain ``k`` is used up to ``lens[k]`` frames.
    lens : numpy.ndarray
        int ``(count,)`` used length of each grain.
    idx, pos : numpy.ndarray
        int ``(events,)`` grain index and start frame of each event.
    gains : numpy.ndarray
        ``(channels, events)`` gain of each event in each channel.
    """
    lengths = lens.tolist()
    column = np.empty((dst.shape[0], 1))
    for k, p, g in zip(idx.tolist(), pos.tolist(), gains.T.tolist(), strict=True):
        ln = lengths[k]
        column[:, 0] = g
        dst[:, p : p + ln] += grains[k, :ln] * column


@lru_cache(maxsize=2)
def _stream_tables(sample_rate: int) -> np.ndarray:
    """Pre-rendered babble: (trickle, rush) × stereo, unit RMS.

    Bubble pitch rises along each table (from ~400–1200 Hz at the start to
    ~1000–3000 Hz at the end) so that a reading position selects the brightness.

    Returns
    -------
    numpy.ndarray
        float32 ``(2, 2, n + _SPAN)``, 16 s long: trickle and rush, independent.
    """
    sr = sample_rate
    rng = make_rng(_BANK_SEED, "stream", "babble")
    n = 2 * int(8.0 * sr)
    # Bubble grains: damped sines with a rising chirp (a bubble's pitch rises as it
    # nears the surface), 300 Hz – 3.4 kHz.
    count = 160
    f0s = 300.0 * 2.0 ** (np.arange(count) / (count - 1) * math.log2(3400.0 / 300.0))
    length = int(0.06 * sr)
    t = np.arange(length) / sr
    u = rng.random((count, 2))
    grains = np.zeros((count, length))
    lens = np.zeros(count, dtype=np.int64)
    for i, f0 in enumerate(f0s):
        f0 = min(f0, 0.38 * sr)
        tau = 0.008 * (1000.0 / f0) ** 0.7 * (0.75 + 0.5 * u[i, 0])
        tau = min(tau, 0.012)
        freq = f0 * (1.0 + (0.1 + 0.3 * u[i, 1]) * t / (3.0 * tau))
        phase = _TWO_PI * np.cumsum(freq) / sr
        env = (1.0 - np.exp(-t / 0.0006)) * np.exp(-t / tau)
        useful = min(length, int(6.0 * tau * sr))
        env[useful:] = 0.0
        nf = max(useful // 4, 8)
        env[useful - nf : useful] *= np.cos(np.linspace(0.0, 0.5 * np.pi, nf)) ** 2
        grains[i] = env * np.sin(phase)
        lens[i] = useful
    grains = _remove_low(grains, sr, 150.0)
    grains *= np.arange(length)[None, :] < lens[:, None]
    grains /= np.sqrt(np.sum(grains**2, axis=1, keepdims=True) / (0.004 * sr))

    out = np.zeros((2, 2, n + length), dtype=np.float64)
    lg0, lg1 = math.log2(400.0), math.log2(1000.0)
    span_oct = math.log2(1200.0 / 400.0)
    for layer, rate in enumerate((70.0, 320.0)):
        m = rng.poisson(rate * n / sr)
        ev = rng.random((m, 4))
        pos = (ev[:, 0] * n).astype(np.int64)
        x = pos / n
        lo = lg0 + (lg1 - lg0) * x
        f0 = 2.0 ** (lo + span_oct * ev[:, 1])
        idx = np.clip(
            np.round(np.log2(f0 / 300.0) / math.log2(3400.0 / 300.0) * (count - 1)), 0, count - 1
        ).astype(np.int64)
        # Sizes: log-normal-ish amplitudes, smaller bubbles a little quieter.
        amp = 10.0 ** (-0.5 * ev[:, 2]) * (f0 / 1000.0) ** -0.25
        pan = ev[:, 3] * 2.0 - 1.0
        ang = (pan + 1.0) * 0.25 * np.pi
        gl, gr = amp * np.cos(ang), amp * np.sin(ang)
        _place_events(out[layer], grains, lens, idx, pos, np.stack([gl, gr]))
    # Wrap the overhang so the table is periodic, then add a soft noise bed.
    out[:, :, :length] += out[:, :, n:]
    out = out[:, :, :n]
    f = np.fft.rfftfreq(n, 1.0 / sr)
    guard = _lowpass_pow(f, 0.42 * sr, 6)
    beds = []
    for lo, hi in ((250.0, 2000.0), (200.0, 6000.0)):
        pw = _highpass_pow(f, lo, 2) * _lowpass_pow(f, min(hi, 0.4 * sr), 2)
        beds.append(pw * (np.maximum(f, 20.0) / 1000.0) ** -0.5 * guard)
    bed = _noise_bank(make_rng(_BANK_SEED, "stream", "bed"), n, sr, np.array(beds))
    for layer, bed_rel in ((0, 0.25), (1, 0.5)):
        out[layer] /= np.sqrt(np.mean(out[layer] ** 2))
        out[layer] += bed_rel * bed.tables[layer, :, :n]
        out[layer] /= np.sqrt(np.mean(out[layer] ** 2))
        # Round off the rare peaks where several loud bubbles coincide (> 4 x RMS).
        knee = 4.0
        out[layer] = knee * np.tanh(out[layer] / knee)
        out[layer] /= np.sqrt(np.mean(out[layer] ** 2))
    table = np.empty((2, 2, n + _SPAN), dtype=np.float32)
    table[:, :, :n] = out
    table[:, :, n:] = out[:, :, :_SPAN]
    return _frozen(table)


class Stream(Source):
    """A forest stream: a continuous babble of small bubbles over a soft noise bed.

    The babble is many short resonant "bloops" (damped sines whose pitch rises, as a
    bubble's does near the surface) at 400–3000 Hz, pre-rendered at two densities —
    a trickle (~70 bubbles/s) and a rush (~320 bubbles/s plus a fuller bed) — and
    read back at random offsets (see the module docstring).  ``flow`` crossfades
    trickle into rush and raises the level by 6 dB; ``brightness`` moves the reading
    position along tables whose bubble pitch rises from ~400–1200 Hz to
    ~1000–3000 Hz, like smaller bubbles in faster, shallower water.

    Output is float32 ``(2, frames)``; at the defaults its RMS is about 0.09 and its
    peaks stay below 0.7 at every setting.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Seed for every random choice.
    flow : float
        0 (trickle) – 1 (rushing).
    brightness : float
        0 (deep, low bubbles) – 1 (high, bright bubbles).
    """

    channels = 2
    FAMILY = "water"
    CALIBRATION_S = 10.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "flow": Param(0.5, 0.0, 1.0, "", "trickle (0) to rushing (1)"),
        "brightness": Param(0.5, 0.0, 1.0, "", "low bubbles (0) to high bubbles (1)"),
    }

    _LEVEL = 0.13
    #: Fraction of the table that one brightness value draws its windows from.
    _WINDOW = 0.45

    def _setup(self) -> None:
        self._glide = _Glide(self.params, QUANTUM / self.sample_rate)
        table = _stream_tables(self.sample_rate)
        # Trickle and rush play from independent offsets, so their mixture never
        # repeats even where each alone might.
        self._layers = [_Layer(_Bank(table[k : k + 1], ((1.0,),))) for k in range(2)]
        self._rng_read = make_rng(self.seed, "stream", "read")
        step = QUANTUM / self.sample_rate
        self._wobble = _SlowNoise(make_rng(self.seed, "stream", "wobble"), (5.0,), step)

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        flow, brightness = p["flow"], p["brightness"]
        u = self._rng_read.random(4).tolist()
        lo = brightness * (1.0 - self._WINDOW)
        wob = 0.8 * math.tanh(self._wobble.step()[0])  # ±0.8 dB of natural unevenness
        g = self._LEVEL * 10.0 ** (((flow - 1.0) * 6.0 + wob) / 20.0)
        a = 0.5 * math.pi * flow
        out: np.ndarray | None = None
        for layer, w, u_start, u_sign in (
            (self._layers[0], math.cos(a), u[0], u[1]),
            (self._layers[1], math.sin(a), u[2], u[3]),
        ):
            gain = g * w if w > 1e-3 else 0.0
            y = layer.render([(0, 1.0)], (gain, gain), lo + u_start * self._WINDOW, u_sign)
            if y is not None:
                if out is None:
                    out = y
                else:
                    out += y
        if out is None:  # pragma: no cover - one layer always plays
            return np.zeros((2, QUANTUM), dtype=np.float32)
        return out
