"""Shared machinery of the nature sources (rain, ocean, wind, stream).

Every nature source is stereo, deterministic from its seed, block-size invariant and
computed on absolute frame positions.

How they are made
-----------------
Per-sample recursive filtering of fresh noise is too slow for Sonora's speed budget,
so the steady parts of each sound (hiss, surf, the wind's band) are *read* rather than
filtered:

* At first use, each source builds a small **bank** of stereo tables per sample rate
  (cached and shared by every instance): the same white noise shaped by a few
  zero-phase spectra ("classes"), e.g. band-passes 2/3 octave apart for wind or
  low-passes at rising cutoffs for waves.  Noise tables are periodic, 2.7 s long at
  48 kHz.
* Every quantum (:data:`~sonora.engine.base.QUANTUM` frames) a :class:`_Layer` reads a
  window at a random offset (with a random polarity), mixes adjacent classes with
  linear weights (exactly noise through the interpolated filter, because every class
  filters the *same* noise), rescales to unit power, applies per-channel gains and
  crossfades from the previous window over a quarter quantum with power-complementary
  fades.  Because windows start at random offsets nothing loops audibly.
* The **details** (rain drops, a stream's bubbles and gurgles, a wave's crash) are
  *events* synthesised one by one from continuous random parameters
  (:func:`_modal_events`: a few damped, gliding partials per event), never drawn
  from a small table of grains, so no two are alike.

Absolute time
-------------
Randomness is drawn per quantum from a counter-based generator keyed by the source's
seed and the quantum's absolute index (:class:`_QuantumRng`), and slow movement
(gusts, drifts) is :class:`_ValueNoise`, a function of absolute time.  What carries
history is short: event tails (< 0.3 s), the previous window's crossfade, parameter
glides (0.25 s) and the rain's drop governor (0.4 s).  A source started
``warmup_s`` (2 s) before an offset therefore plays the very samples of a continuous
render there, to rounding (``tests/engine/test_nature.py``).  Only the ocean keeps a
sequence (each wave starts where the last ended); it fast-forwards its schedule in
``_seek``.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.nature._modal import (  # noqa: F401  (re-exported for the sources)
    _fade_tail,
    _modal_events,
    _time_row,
)
from sonora.engine.nature._random import (  # noqa: F401  (re-exported for the sources)
    _hash_uniform,
    _QuantumRng,
    _stream_key,
    _ValueNoise,
)

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
#: The lines every nature source's docstring shares: its output and the two
#: constructor parameters of :class:`~sonora.engine.base.Source`.  Each source's
#: docstring holds a one-line placeholder instead (:data:`_DOC_MARK`);
#: :func:`finish_doc` (called in :mod:`sonora.engine.nature`) puts these lines there.
_SHARED_DOC = """\
    Output is float32 ``(2, frames)``; at the defaults its RMS is about {rms} and its
    peaks stay below {peak} at every setting.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Seed for every random choice.
"""
#: The placeholder: ``    (Output: RMS 0.06, peaks < 0.8; shared parameters: _common.finish_doc)``.
_DOC_MARK = re.compile(
    r"^    \(Output: RMS (?P<rms>[0-9.]+), peaks < (?P<peak>[0-9.]+); "
    r"shared parameters: _common\.finish_doc\)\n",
    re.MULTILINE,
)


def finish_doc(cls: type) -> type:
    """Replace the placeholder line in ``cls.__doc__`` by :data:`_SHARED_DOC`.

    Parameters
    ----------
    cls : type
        A nature source class whose docstring holds :data:`_DOC_MARK` once.

    Returns
    -------
    type
        ``cls`` (its ``__doc__`` completed; a second call changes nothing).

    Raises
    ------
    ValueError
        If the docstring holds neither the placeholder nor the completed text.
    """
    doc = cls.__doc__ or ""
    done, count = _DOC_MARK.subn(lambda m: _SHARED_DOC.format(**m.groupdict()), doc)
    if count == 0 and "Seed for every random choice." not in doc:
        raise ValueError(f"{cls.__name__}: docstring lacks the shared-parameters placeholder")
    cls.__doc__ = done
    return cls


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


def _noise_bank(
    rng: np.random.Generator,
    n: int,
    sample_rate: int,
    power: np.ndarray,
    *,
    exact_power: bool = False,
) -> _Bank:
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
    exact_power : bool
        If True, bins have random phase and exactly the target magnitude (left and
        right of every class equally loud); else complex Gaussian bins.

    Returns
    -------
    _Bank
        Tables of shape ``(classes, 2, n + _SPAN)``: each repeats its first ``_SPAN``
        frames at the end, so any window starting in ``[0, n)`` is continuous.
    """
    bins = n // 2 + 1
    if exact_power:
        # Random phase, fixed magnitude (sqrt 2, the RMS of a unit complex Gaussian):
        # every bin of both channels carries exactly the target power, so left and
        # right of every class have the same level by construction.  Complex Gaussian
        # bins left wind's low classes (few bins per band) up to 0.9 dB louder on one
        # side, and a scene sitting in those bands heard a lopsided image.
        theta = rng.random((2, bins)) * (2.0 * math.pi)
        spec = (math.sqrt(2.0) * np.exp(1j * theta)).astype(np.complex64)  # (2, bins)
    else:
        white = rng.standard_normal((2, 2, bins), dtype=np.float32)
        spec = np.empty((2, bins), dtype=np.complex64)  # no complex128 temporary
        spec.real = white[0]
        spec.imag = white[1]
        del white
    power = np.asarray(power, dtype=np.float64).copy()
    power[:, 0] = 0.0  # no DC
    power[:, -1] = 0.0
    power /= power.mean(axis=1, keepdims=True) * (bins / (n / 2))
    # irfft of unit complex Gaussian bins has variance 2 / n: scale to unit variance.
    mag = (np.sqrt(power) * math.sqrt(n / 2.0)).astype(np.float32)
    out = np.empty((power.shape[0], 2, n + _SPAN), dtype=np.float32)
    shaped = np.empty_like(spec)
    for k in range(power.shape[0]):
        np.multiply(spec, mag[k], out=shaped)
        for c in range(2):  # one channel at a time: a float64 temporary of n, not 2 n
            x = np.fft.irfft(shaped[c], n=n)
            out[k, c, :n] = x
            out[k, c, n:] = x[:_SPAN]
        del x
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


# -- events -------------------------------------------------------------------------------
class _Tails:
    """Overlap-add buffer for events that outlast the quantum they start in.

    Parameters
    ----------
    max_len : int
        Longest event in frames.
    """

    __slots__ = ("acc", "used")

    def __init__(self, max_len: int) -> None:
        self.acc = np.zeros((2, QUANTUM + max_len + 1), dtype=np.float32)
        self.used = 0

    def add(self, starts: np.ndarray, grains: np.ndarray, gains: np.ndarray) -> None:
        """Add mono ``grains`` ``(N, L)`` at ``starts`` (frames into the quantum).

        ``gains`` is ``(2, N)`` (left, right).  ``starts + L`` must fit the buffer.
        """
        n, length = grains.shape
        if n == 0:
            return
        # A slice addition per event beats one scatter (np.bincount) of all of them
        # at these sizes (tens of events of a few hundred to a few thousand frames).
        acc = self.acc
        y = gains.astype(np.float32)[:, :, None] * grains[None]
        for s, i in zip(starts.tolist(), range(n), strict=True):
            acc[:, s : s + length] += y[:, i]
        self.used = max(self.used, int(starts.max()) + length)

    def take(self, out: np.ndarray) -> None:
        """Add the quantum's share into ``out`` ``(2, QUANTUM)`` and keep the rest."""
        hi = self.used
        if hi == 0:
            return
        acc = self.acc
        out += acc[:, :QUANTUM]
        if hi > QUANTUM:
            acc[:, : hi - QUANTUM] = acc[:, QUANTUM:hi]
            acc[:, max(hi - QUANTUM, 0) : hi] = 0.0
            self.used = hi - QUANTUM
        else:
            acc[:, :hi] = 0.0
            self.used = 0


def _pan_arrays(pan: np.ndarray) -> np.ndarray:
    """Equal-power pan gains ``(2, N)``, unity at the centre; ``pan`` in [-1, 1].

    (Clipped by ``minimum``/``maximum``, written into one array: the values of
    ``np.stack([cos, sin]) * √2`` after ``np.clip``, with fewer calls and copies.)
    """
    a = np.maximum(pan, -1.0)
    np.minimum(a, 1.0, out=a)
    a += 1.0
    a *= 0.25 * math.pi
    out = np.empty((2, *a.shape))
    np.cos(a, out=out[0])
    np.sin(a, out=out[1])
    out *= _SQRT2
    return out


def _scatter_events(
    tails: _Tails,
    rng: np.random.Generator,
    grains: np.ndarray,
    *,
    amp: float,
    pan: float = 0.0,
    spread: float = 1.0,
    level_first: bool = False,
) -> None:
    """Scatter ``grains`` over the quantum: random starts, pans and levels.

    Event ``i`` starts at a uniformly random frame of the quantum (starts sorted),
    at an equal-power pan of ``pan + spread · (2u − 1)`` and a gain of
    ``amp · 10^(−0.6 u')`` (0 to −12 dB); ``u, u'`` come from one ``rng.random((2,
    N))`` draw (``u'`` its first row with ``level_first``, else its second), then the
    starts from ``rng.integers``: the draw order the nature sources have always used.

    Parameters
    ----------
    tails : _Tails
        Where the events are added.
    rng : numpy.random.Generator
        The quantum's generator.
    grains : numpy.ndarray
        float32 ``(N, L)`` mono events.
    amp : float
        Largest gain (linear).
    pan, spread : float
        Pan centre and half-width, -1 (left) to 1 (right).
    level_first : bool
        Whether the level is drawn before the pan.
    """
    n = grains.shape[0]
    v = rng.random((2, n))
    level, side = (v[0], v[1]) if level_first else (v[1], v[0])
    gains = _pan_arrays(pan + spread * (2.0 * side - 1.0)) * (amp * 10.0 ** (-0.6 * level))
    tails.add(np.sort(rng.integers(0, QUANTUM, n)), grains, gains)


def _ticks(
    rng: np.random.Generator,
    count: int,
    sample_rate: int,
    length: int,
    *,
    low_hz: float,
    octaves: float,
    tau_s: tuple[float, float],
    attack_s: float = 0.0004,
) -> np.ndarray:
    """``count`` tiny two-partial ticks (leaves, spray, fizz) of energy ``0.004 · sr``.

    Partial 1 sits at ``low_hz · 2^(octaves · u)``, partial 2 at 1.3–2.1 × that; decay
    time constants are drawn from ``tau_s`` (seconds).  Returns float32 ``(count,
    length)``.
    """
    sr = sample_rate
    v = rng.random((count, 5))
    # (columns filled in place: the values of np.stack, without its copies)
    freqs = np.empty((count, 2))
    f = np.multiply(v[:, 0], octaves, out=freqs[:, 0])
    np.power(2.0, f, out=f)
    f *= low_hz
    np.multiply(f, 1.3 + 0.8 * v[:, 1], out=freqs[:, 1])
    np.minimum(freqs, 0.42 * sr, out=freqs)
    taus = np.empty((count, 2))
    t1 = np.multiply(v[:, 2], tau_s[1] - tau_s[0], out=taus[:, 0])
    t1 += tau_s[0]
    np.multiply(t1, 0.8, out=taus[:, 1])
    e0 = 0.004 * sr
    amps = np.sqrt(0.5 * 4.0 * e0 / (taus * sr))
    return _modal_events(
        sr, length, freqs, taus, amps, attack_s=attack_s, phases=v[:, 3:5] * (2.0 * math.pi)
    )
