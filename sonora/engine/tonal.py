"""Tonal sources: a drone pad, a soft generative melody, a breath pacer, a binaural beat.

Every source here is calm by construction: slow attacks, long soft decays, slow
modulation, no partial near Nyquist and no loud outliers.  Each satisfies Sonora's
"no startle" rule on its own (the 400 ms momentary loudness never rises more than
6 LU above the power mean of the previous 10 s) at every parameter setting in range,
after its first 10 s.

How the sound is made (and why it is fast)
------------------------------------------
All tones are sums of (possibly decaying) complex exponentials ``A·exp((-a + iw)·k)``.
A :class:`_Bank` renders a quantum of many such partials with one small matrix
product: the quantum is split into sub-blocks of ``sub`` samples, a float32 table of
``pan·exp((-a + iw)·m)`` (``m < sub``) is built once per partial, and each sub-block's
output is ``Im(c_j · table)`` with ``c_j`` the partial's phasor at the sub-block start.
A partial's gain can move linearly across a quantum (no zipper steps).  Each phasor
is a float64 complex number advanced by an exact per-quantum factor, so phases stay
continuous (and implicitly wrapped).  When a frequency changes, the partial is
rendered for that quantum with its frequency moving linearly from the old to the
new value and its phase integrated exactly; frequency parameters also glide
(smoothed, slew-limited) across quanta, so automation never jumps or clicks.

The drone, the melody and the breath pacer synthesise at an internal rate
``sample_rate / D`` (``D`` = 2, 4 or 8, so 11–16 kHz) and are brought to the output
rate by a polyphase FIR interpolator (:class:`_Upsampler`, again one matrix product
per quantum; images below -68 dB).  Partials stay below a third of the internal rate
(0.2 for the drone), i.e. under 3.6 kHz at 44.1 kHz: far from the output Nyquist,
and fitting for these soft timbres.  The binaural layer is rendered at the output
rate directly.
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng
from sonora.engine.design import firwin_kaiser, sos_response
from sonora.errors import ParameterError

__all__ = [
    "MODES",
    "Binaural",
    "BreathPacer",
    "Drone",
    "Melody",
    "NoteEvent",
]

_TWO_PI = 2.0 * math.pi

#: Lowest internal synthesis rate in Hz; the internal rate is ``sample_rate / D``.
_MIN_INTERNAL_RATE_HZ = 11_025
#: Partials at or above this fraction of the internal rate are never synthesised.
_MAX_PARTIAL_FRAC = 0.33
#: Sub-block length in internal-rate samples (10.7 ms at 48 kHz; note-onset grid).
_SUB = 128


def _internal_factor(sample_rate: int) -> int:
    """Return the interpolation factor ``D`` (2, 4 or 8) for ``sample_rate`` in Hz."""
    d = 2
    while d < 8 and sample_rate / (2 * d) >= _MIN_INTERNAL_RATE_HZ:
        d *= 2
    return d


def _pan_gains(position: np.ndarray | float) -> np.ndarray:
    """Constant-power pan gains.

    Parameters
    ----------
    position : float or numpy.ndarray
        -1 (left) … +1 (right).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(..., 2)``: left and right gains, ``L² + R² = 1``.
    """
    angle = (np.clip(np.asarray(position, dtype=np.float64), -1.0, 1.0) + 1.0) * (math.pi / 4)
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def _weighted_choice(rng: np.random.Generator, items: Any, weights: Any) -> int:
    """Pick one of ``items`` (ints) with probability proportional to ``weights``."""
    u = rng.random() * sum(weights)
    for item, w in zip(items, weights, strict=True):
        u -= w
        if u < 0:
            return int(item)
    return int(items[-1])


def _glide(current: float, target: float, dt: float, tau_s: float, max_oct_per_s: float) -> float:
    """Move a frequency toward ``target`` in the log domain, slew-limited.

    Returns ``target`` exactly once within 1e-9 octave, so a glide terminates.
    """
    d = math.log2(target / current)
    if abs(d) < 1e-9:
        return target
    step = d * (1.0 - math.exp(-dt / tau_s))
    limit = max_oct_per_s * dt
    step = max(-limit, min(limit, step))
    if abs(d - step) < 1e-9:
        return target
    return current * 2.0**step


def _approach(current: float, target: float, dt: float, tau_s: float) -> float:
    """One-pole smoothing of a plain (linear) parameter; snaps when within 1e-9."""
    if abs(target - current) < 1e-9:
        return target
    return target + (current - target) * math.exp(-dt / tau_s)


# -- ITU-R BS.1770 K-weighting (power gain), used to predict loudness of new notes --
_K_SOS_48K = np.array(
    [
        [
            1.53512485958697,
            -2.69169618940638,
            1.19839281085285,
            1.0,
            -1.69065929318241,
            0.73248077421585,
        ],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)
_K_LOGF = np.log(np.geomspace(10.0, 20_000.0, 200))
_K_POW = np.abs(sos_response(_K_SOS_48K, np.exp(_K_LOGF), 48_000)) ** 2


def _k_power(freq_hz: np.ndarray) -> np.ndarray:
    """BS.1770 K-weighting power gain at ``freq_hz`` (float64, same shape)."""
    return np.interp(np.log(np.maximum(freq_hz, 10.0)), _K_LOGF, _K_POW)


# ---------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _interp_matrix(factor: int, block: int, design: str, rate_hz: float) -> np.ndarray:
    """Block-Toeplitz matrix of a polyphase FIR interpolator.

    Parameters
    ----------
    factor : int
        Interpolation factor ``D``.
    block : int
        Input samples per block ``B``; the FIR has ``B·D`` taps.
    design : {"lowpass", "breath"}
        ``"lowpass"``: a Kaiser-windowed interpolation low-pass centred on half the
        input rate; with ``B·D`` taps its passband reaches ~0.33 (16 taps per phase)
        or ~0.2 (8 taps per phase) of the input rate with images below about -70 dB;
        ``"breath"``: a soft band (~150 Hz to 0.42 of the input rate) for breath noise.
    rate_hz : float
        Output sample rate in Hz (used by the ``"breath"`` design).

    Returns
    -------
    numpy.ndarray
        float32 ``(2·B, B·D)``: rows ``0..B-1`` weight the current input block, rows
        ``B..2B-1`` the previous one.
    """
    d, b = factor, block
    taps = b * d
    if design == "lowpass":
        h = firwin_kaiser(taps, 1.0 / d, 7.5) * d
    else:
        from scipy import signal  # firwin2 only here (breath noise): keep it lazy

        nyq = rate_hz / 2
        in_rate = rate_hz / d
        freqs = [0.0, 100.0, 250.0, 500.0, 0.30 * in_rate, 0.42 * in_rate, 0.58 * in_rate, nyq]
        gains = [0.0, 0.15, 0.9, 1.0, 0.7, 0.3, 0.0, 0.0]
        h = signal.firwin2(taps + 1, freqs, gains, fs=rate_hz, window=("kaiser", 6.0))[:taps]
        # unit output variance for unit-variance white input
        h = h / math.sqrt(float(np.sum(h**2)) * d) * d
    i = np.arange(b)[:, None]
    r = np.arange(b * d)[None, :]
    j0 = r - i * d
    j1 = r + (b - i) * d
    m0 = np.where((j0 >= 0) & (j0 < taps), h[np.clip(j0, 0, taps - 1)], 0.0)
    m1 = np.where(j1 < taps, h[np.clip(j1, 0, taps - 1)], 0.0)
    return np.ascontiguousarray(np.vstack([m0, m1]), dtype=np.float32)


class _Upsampler:
    """Stateful polyphase FIR interpolation by an integer factor, as one matrix product.

    Parameters
    ----------
    factor : int
        Interpolation factor ``D``.
    block : int
        Input samples per FIR block ``B`` (the FIR has ``B·D`` taps).
    n : int
        Input samples per call (a multiple of ``block``).
    design : str
        Filter design, see :func:`_interp_matrix`.
    rate_hz : float
        Output sample rate in Hz.
    """

    def __init__(
        self, factor: int, block: int, n: int, *, design: str = "lowpass", rate_hz: float
    ) -> None:
        self.factor = factor
        self.block = block
        self.n = n
        self.matrix = _interp_matrix(factor, block, design, float(rate_hz))
        # Window buffer: per channel and block, [current block | previous block].
        self._win = np.zeros((2, n // block, 2 * block), dtype=np.float32)
        #: Group delay in output samples.
        self.delay = (block * factor - 1) / 2

    def process(self, x: np.ndarray) -> np.ndarray:
        """Interpolate one call's worth of input.

        Parameters
        ----------
        x : numpy.ndarray
            float32, either ``(2, n)`` or the bank layout ``(nsub, 2, sub)`` (sub-blocks
            of both channels, in time order).

        Returns
        -------
        numpy.ndarray
            float32 ``(2, n·factor)``.
        """
        b, win = self.block, self._win
        win[:, 0, b:] = win[:, -1, :b]  # last block of the previous call
        if x.ndim == 3:
            nsub, _, sub = x.shape
            xb = x.reshape(nsub, 2, sub // b, b).transpose(1, 0, 2, 3).reshape(2, -1, b)
        else:
            xb = x.reshape(2, -1, b)
        win[:, :, :b] = xb
        win[:, 1:, b:] = xb[:, :-1]
        return (win.reshape(-1, 2 * b) @ self.matrix).reshape(2, self.n * self.factor)


class _Bank:
    """A bank of stereo (decaying) sinusoidal partials rendered by matrix products.

    Partial ``i`` contributes ``pan_i · g_i(k) · Im(c_i · z_i**k)`` to sample ``k`` of
    the quantum, where ``z_i = exp(-α_i + iω_i)`` (decay and frequency per sample),
    ``c_i`` is its complex phasor at the quantum start (advanced by ``z_i**q`` after
    each quantum, so the phase never jumps) and ``g_i`` an optional gain that moves
    linearly across the quantum when the caller changes it.

    The quantum is cut into ``nsub`` sub-blocks of ``sub`` samples; a float32 table
    ``pan · z**m`` (``m < sub``, both channels) is built once per partial, and every
    sub-block of every partial is one row/column of a single matrix product.

    Parameters
    ----------
    rate_hz : float
        Sample rate of the bank's output in Hz.
    q : int
        Samples per quantum (a multiple of ``sub``).
    sub : int
        Samples per sub-block.
    capacity : int
        Initial number of partial slots (grows as needed).
    """

    _FIELDS = ("omega", "alpha", "c", "cq", "gain", "start", "table", "gpow", "pan", "loud", "kpow")

    def __init__(self, rate_hz: float, q: int, sub: int, capacity: int = 32) -> None:
        self.rate_hz = float(rate_hz)
        self.q = q
        self.sub = sub
        self.nsub = q // sub
        self.n = 0
        # exponent grid: table samples m < sub, sub-block starts j·sub, one quantum q
        self._grid = np.concatenate([np.arange(sub), np.arange(self.nsub) * sub, [q]]).astype(
            np.float64
        )
        self._jfrac = (np.arange(self.nsub) / self.nsub)[:, None]
        self._jidx = np.arange(self.nsub)[:, None]
        ramp = np.arange(sub, dtype=np.float32) / (sub * self.nsub)
        self._ramp2 = np.concatenate([ramp, ramp]).astype(np.float32)
        self._pending_start = False
        self._k = np.arange(q, dtype=np.float64)
        self._glide_n = 0  # partials 0.._glide_n-1 glide during the next quantum
        self._omega0 = np.zeros(0)  # ... from these frequencies (rad/sample)
        self._cap = 0
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        n = self.n
        old = {name: getattr(self, name) for name in self._FIELDS} if self._cap else {}
        self.omega = np.zeros(cap)
        self.alpha = np.zeros(cap)
        self.c = np.zeros(cap, dtype=np.complex128)  # phasor at the quantum start
        self.cq = np.ones(cap, dtype=np.complex128)  # advance per quantum
        self.gain = np.ones(cap)
        self.start = np.zeros(cap, dtype=np.int64)
        self.table = np.zeros((cap, 2, 2 * self.sub), dtype=np.float32)  # [Im, Re] x [L | R]
        self.gpow = np.zeros((self.nsub, cap), dtype=np.complex128)
        self.pan = np.zeros((cap, 2))
        self.loud = np.zeros(cap)  # share in the power: (L² + R²) / 2 x loudness weight
        self.kpow = np.zeros(cap)  # K-weighting power gain at the partial's frequency
        for name, arr in old.items():
            if name == "gpow":
                self.gpow[:, :n] = arr[:, :n]
            else:
                getattr(self, name)[:n] = arr[:n]
        self._cap = cap

    def _build(self, s: slice) -> None:
        """(Re)build tables and per-quantum advances of the partials in slice ``s``."""
        sub, k = self.sub, s.stop - s.start
        e = np.exp(np.multiply.outer(-self.alpha[s] + 1j * self.omega[s], self._grid))
        ri = np.stack([e[:, :sub].imag, e[:, :sub].real], axis=1)  # (k, 2, sub)
        self.table[s] = (ri[:, :, None, :] * self.pan[s][:, None, :, None]).reshape(k, 2, 2 * sub)
        self.gpow[:, s] = e[:, sub:-1].T
        self.cq[s] = e[:, -1]

    def add(
        self,
        freq_hz: np.ndarray,
        amp: np.ndarray,
        phase: np.ndarray,
        pan: np.ndarray,
        *,
        decay_per_s: np.ndarray | float = 0.0,
        start_sub: int = 0,
        loudness_weight: np.ndarray | float = 1.0,
    ) -> None:
        """Add partials that start at sub-block ``start_sub`` of the next quantum.

        Parameters
        ----------
        freq_hz, amp, phase : numpy.ndarray
            Frequency in Hz, linear amplitude at onset (may be negative) and phase in
            radians at onset, shape ``(k,)``.
        pan : numpy.ndarray
            Left/right gains, shape ``(k, 2)``.
        decay_per_s : float or numpy.ndarray
            Exponential amplitude decay rate in 1/s (0 = steady).
        start_sub : int
            Sub-block of the next quantum at which the partials begin.
        loudness_weight : float or numpy.ndarray
            Multiplier of the partials' share in :meth:`weighted_power` (0 for the
            attack half of a note, which only ever removes power).
        """
        freq_hz = np.asarray(freq_hz, dtype=np.float64)
        k = len(freq_hz)
        if self.n + k > self._cap:
            self._alloc(max(2 * self._cap, self.n + k))
        s = slice(self.n, self.n + k)
        omega = freq_hz * (_TWO_PI / self.rate_hz)
        self.omega[s] = omega
        self.alpha[s] = decay_per_s
        self.alpha[s] *= 1.0 / self.rate_hz
        # Phasor "at the quantum start", extrapolated back from the onset.
        shift = start_sub * self.sub
        self.c[s] = amp * np.exp(self.alpha[s] * shift + 1j * (phase - omega * shift))
        self.gain[s] = 1.0
        self.pan[s] = pan
        self.loud[s] = loudness_weight
        self.loud[s] *= 0.5 * (self.pan[s] ** 2).sum(axis=1)
        self.kpow[s] = _k_power(freq_hz)
        self.start[s] = start_sub
        self._build(s)
        if start_sub > 0:
            self._pending_start = True
        self.n += k

    def set_freq(self, lo: int, freq_hz: np.ndarray, *, glide: bool = True) -> None:
        """Change the frequency (Hz) of partials ``lo ..``; the phase stays continuous.

        With ``glide`` (only for a prefix, ``lo == 0``) the frequency moves linearly
        from the old to the new value across the next quantum.
        """
        s = slice(lo, lo + len(freq_hz))
        if glide and lo == 0 and self._glide_n == 0:
            self._omega0 = self.omega[: len(freq_hz)].copy()
            self._glide_n = len(freq_hz)
        self.omega[s] = _TWO_PI * np.asarray(freq_hz, dtype=np.float64) / self.rate_hz
        self.kpow[s] = _k_power(np.asarray(freq_hz))
        self._build(s)

    def k_ratio(self) -> float:
        """Ratio of K-weighted to plain power of the partials (as if incoherent)."""
        n = self.n
        a = np.abs(self.c[:n]) * self.gain[:n]
        p = (a * a) * self.loud[:n]
        plain = float(p.sum())
        return float(p @ self.kpow[:n]) / plain if plain > 0 else 1.0

    def amplitude_near(self, freq_hz: np.ndarray, rel_tol: float = 0.012) -> np.ndarray:
        """Sum of current amplitudes of partials within ``rel_tol`` of each frequency."""
        n = self.n
        f = self.omega[:n] * (self.rate_hz / _TWO_PI)
        a = np.abs(self.c[:n]) * self.gain[:n]
        near = np.abs(f[None, :] / np.asarray(freq_hz)[:, None] - 1.0) < rel_tol
        return near.astype(np.float64) @ a

    def remove_quiet(self, lo: int, floor: float) -> None:
        """Drop partials at index >= ``lo`` whose amplitude is below ``floor``."""
        n = self.n
        if n <= lo:
            return
        c = self.c[lo:n]
        dead = (c.real * c.real + c.imag * c.imag) < floor * floor
        if not dead.any():
            return
        # Fill the holes with the live partials from the end (order is irrelevant).
        m = n - int(dead.sum())
        is_dead = np.zeros(n, dtype=bool)
        is_dead[lo:] = dead
        holes = np.flatnonzero(is_dead[:m])
        movers = m + np.flatnonzero(~is_dead[m:])
        if len(holes):
            for name in self._FIELDS:
                arr = getattr(self, name)
                if name == "gpow":
                    arr[:, holes] = arr[:, movers]
                else:
                    arr[holes] = arr[movers]
        self.n = m

    def render(self, gain: np.ndarray | None = None) -> np.ndarray:
        """Render the next quantum and advance the partials.

        Parameters
        ----------
        gain : numpy.ndarray or None
            New gains for partials ``0 .. len(gain)-1`` (float64); each moves linearly
            from its previous gain to this value across the quantum.

        Returns
        -------
        numpy.ndarray
            float32 ``(nsub, 2, sub)``: sub-blocks in time order, left and right.
        """
        n, nsub, sub = self.n, self.nsub, self.sub
        ng = min(self._glide_n, n)  # partials 0..ng-1 glide in frequency this quantum
        nm = 0 if gain is None else len(gain)
        g0 = self.gain[: max(nm, ng)].copy()
        if nm:
            self.gain[:nm] = gain
        if ng == n:
            out = np.zeros((nsub, 2, sub), dtype=np.float32)
        else:
            out = self._render_tables(ng, nm, g0)
        if ng:
            glide = self._render_glide(ng, g0[:ng], self.gain[:ng])
            out += glide.reshape(2, nsub, sub).transpose(1, 0, 2)
            self._glide_n = 0
        return out

    def _render_tables(self, a: int, nm: int, g0: np.ndarray) -> np.ndarray:
        """Partials ``a .. n-1`` from their tables; gains of ``a .. nm-1`` ramp from ``g0``."""
        n, nsub, sub = self.n, self.nsub, self.sub
        cj = self.gpow[:, a:n] * self.c[a:n]  # (nsub, n-a): phasor at each sub-block start
        if self._pending_start:
            cj[self._jidx < self.start[a:n]] = 0.0
            self.start[:n] = 0
            self._pending_start = False
        table = self.table[a:n].reshape(2 * (n - a), 2 * sub)
        self.c[a:n] *= self.cq[a:n]
        k = nm - a  # partials with a gain ramp
        if k <= 0:
            cj *= self.gain[a:n]
            out = cj.view(np.float64).astype(np.float32) @ table
            return out.reshape(nsub, 2, sub)
        start = g0[a:nm]
        delta = self.gain[a:nm] - start
        w = np.empty((2, nsub, k), dtype=np.complex128)
        np.multiply(cj[:, :k], start + delta * self._jfrac, out=w[0])
        np.multiply(cj[:, :k], delta, out=w[1])
        both = w.view(np.float64).reshape(2 * nsub, 2 * k).astype(np.float32) @ table[: 2 * k]
        out = both[:nsub]
        out += both[nsub:] * self._ramp2
        if nm < n:
            rest = cj[:, k:] * self.gain[nm:n]
            out += rest.view(np.float64).astype(np.float32) @ table[2 * k :]
        return out.reshape(nsub, 2, sub)

    def _render_glide(self, ng: int, g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
        """Partials ``0 .. ng-1`` whose frequency moves linearly across this quantum.

        The phase is integrated exactly (``φ(k) = φ0 + ω0·k + (ω1 - ω0)·k²/2q``), so a
        glide is smooth inside the quantum as well as across its edges.

        Returns
        -------
        numpy.ndarray
            float32 ``(2, q)``.
        """
        q, k = self.q, self._k
        w0, w1 = self._omega0[:ng], self.omega[:ng]
        c = self.c[:ng]
        phase = (
            np.angle(c)[:, None]
            + np.multiply.outer(w0, k)
            + np.multiply.outer(w1 - w0, k * k / (2 * q))
        )
        env = np.abs(c)[:, None] * np.exp(np.multiply.outer(-self.alpha[:ng], k))
        env *= g0[:, None] + np.multiply.outer(g1 - g0, k / q)
        y = np.sin(phase) * env
        self.c[:ng] = c * np.exp(-self.alpha[:ng] * q + 1j * (w0 + w1) * (q / 2))
        return (self.pan[:ng].T @ y).astype(np.float32)


class _TonalSource(Source):
    """Shared set-up: internal rate, bank and interpolator."""

    HEADPHONES_ONLY: ClassVar[bool] = False
    channels = 2

    def _init_internal(self) -> None:
        self._d = _internal_factor(self.sample_rate)
        self._rate = self.sample_rate / self._d  # internal rate, Hz
        self._q = QUANTUM // self._d  # internal samples per quantum
        self._dt = QUANTUM / self.sample_rate  # seconds per quantum
        self._nsub = self._q // _SUB
        block = self._ups_block()
        self._ups = _Upsampler(self._d, block, self._q, rate_hz=self.sample_rate)
        self._fmax = (_MAX_PARTIAL_FRAC if block >= 16 else 0.2) * self._rate

    def _ups_block(self) -> int:
        """Input samples per interpolator block (16 → passband 0.33 of the internal rate)."""
        return 16


class _ValueNoise:
    """Smooth random modulation, stateless in time: no LFO a listener could count.

    ``n`` independent signals, each a smoothstep interpolation between random knots
    ``period_s`` apart; knot ``k`` comes from ``make_rng(seed, *key, k)``, so the value at
    any time depends only on the seed, the key and the time (seek anywhere).  Values are
    roughly in [-1, 1] (mean 0, RMS about 0.5).
    """

    def __init__(self, seed: int, key: tuple[str, ...], n: int, period_s: float) -> None:
        self.seed, self.key, self.n, self.period_s = seed, key, n, period_s
        self._knots: dict[int, np.ndarray] = {}

    def _knot(self, k: int) -> np.ndarray:
        v = self._knots.get(k)
        if v is None:
            if len(self._knots) > 8:
                self._knots.clear()
            v = make_rng(self.seed, *self.key, k).uniform(-1.0, 1.0, self.n)
            self._knots[k] = v
        return v

    def at(self, t_s: float) -> np.ndarray:
        """Values at time ``t_s`` (seconds), float64 ``(n,)``."""
        x = t_s / self.period_s
        k = math.floor(x)
        w = x - k
        w = w * w * (3.0 - 2.0 * w)
        a, b = self._knot(k), self._knot(k + 1)
        return a + (b - a) * w


# ---------------------------------------------------------------------------------
# Drone
# ---------------------------------------------------------------------------------
class Drone(_TonalSource):
    """A slowly breathing pad: root, fifth and octave, each as two detuned voices.

    Each voice has a rich harmonic series (harmonic ``h`` at ``h**-0.9``, up to 12 for
    the root) so that the chord carries on small speakers, where nothing below ~200 Hz
    is heard; the whole pad goes through a 12 dB/octave low-pass whose cutoff drifts
    over tens of seconds, the level breathes gently and each voice drifts a little in
    pitch on its own (the twins of a chord tone drift in level together).  All of this movement is smooth *random* modulation
    (:class:`_ValueNoise`, knots 5–25 s apart, faster with ``movement``), not sine LFOs,
    so it never settles into a period a listener could count.  The two voices of a chord
    tone are detuned by ``±detune_cents`` (each scaled by a seeded 0.75–1) and placed
    left and right: over speakers they beat gently, on headphones they turn slowly in
    space.  The twins share their starting phases, so both channels carry the same
    power (within ~0.2 dB).  Loudness changes caused by the filter are mostly
    compensated (60 % in dB, K-weighted) so brightness moves the timbre more than the
    level, and the cutoff never sinks below the root.

    Parameters (``PARAMS``)
    -----------------------
    pitch_hz : float
        Root in Hz, 40–400 (glides, at most 1 octave per 4 s, when automated).
    brightness : float
        0–1: low-pass cutoff from ~2.5× to ~16× the root.
    detune_cents : float
        0–30: detune of each voice from its chord tone (the twins are twice that apart).
    movement : float
        0–1: speed and depth of the slow filter drift, breathing and voice drift.

    Notes
    -----
    Output is float32 ``(2, frames)``, RMS about 0.15 per channel at the defaults.
    ``warmup_s`` = 0: the modulation is a function of time; only the partials' phases
    carry history, and they are inaudible after a seek.
    """

    FAMILY = "drone"
    CALIBRATION_S = 30.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(
            110.0, 40.0, 400.0, "Hz", "root pitch of the chord (root, fifth, octave)"
        ),
        "brightness": Param(0.4, 0.0, 1.0, "", "low-pass cutoff range: 0 dark … 1 open"),
        "detune_cents": Param(8.0, 0.0, 30.0, "cents", "detune of the voices of each chord tone"),
        "movement": Param(
            0.4, 0.0, 1.0, "", "speed and depth of the slow filter, level and voice drift"
        ),
    }

    #: (frequency ratio to the root, number of harmonics, level) of each chord tone.
    TONES: ClassVar[tuple[tuple[float, int, float], ...]] = (
        (1.0, 12, 1.0),
        (1.5, 8, 0.6),
        (2.0, 6, 0.45),
    )
    _RMS = 0.15  # target RMS per channel at the reference power
    warmup_s = 0.0

    def _setup(self) -> None:
        self._init_internal()
        rng = make_rng(self.seed, "drone", "voices")
        ratio, level, voice, cents_unit, pan_pos, phase = [], [], [], [], [], []
        # One detune per ear, shared by all chord tones: harmonics that coincide in a
        # channel (root h2 = octave h1, root h3 = fifth h2) then never beat.
        flat_side = 1.0 if rng.random() < 0.5 else -1.0  # which ear gets the flat twins
        ear_detune = {flat_side: -rng.uniform(0.75, 1.0), -flat_side: rng.uniform(0.75, 1.0)}
        v = 0
        for tone_ratio, n_harm, tone_level in self.TONES:
            # The twins start in the same phase, so partials that coincide within one
            # ear (root h2 and octave h1, ...) add up alike in both: L/R balanced.
            tone_phase = rng.uniform(0, _TWO_PI, n_harm)
            for side in (-1.0, 1.0):
                detune = ear_detune[side]
                for h in range(1, n_harm + 1):
                    ratio.append(tone_ratio * h)
                    level.append(tone_level * h**-0.9)
                    voice.append(v)
                    cents_unit.append(detune)
                    pan_pos.append(side)
                    phase.append(tone_phase[h - 1])
                v += 1
        self._ratio = np.array(ratio)
        self._cents_unit = np.array(cents_unit)
        self._level = np.array(level)
        self._voice = np.array(voice)
        n = len(ratio)
        self._n = n
        self._pitch = self.params["pitch_hz"]
        self._detune = self.params["detune_cents"]
        self._bright = self.params["brightness"]
        self._move = self.params["movement"]
        self._cents_drift = np.zeros(n)
        self._bank = _Bank(self._rate, self._q, _SUB, capacity=n)
        self._bank.add(self._freqs(), np.ones(n), np.array(phase), _pan_gains(np.array(pan_pos)))
        self._bank.gain[:n] = 0.0  # fade in over the first quantum (de-click)
        self._retune(glide=False)
        # Smooth random modulation: [0] filter drift, [1] breathing, then one level
        # drift and one pitch drift per voice; a slow and a fast layer of each.
        self._voice_of = self._voice
        self._slow = _ValueNoise(self.seed, ("drone", "slow"), 2 + 2 * v, 23.0)
        self._fast = _ValueNoise(self.seed, ("drone", "fast"), 2 + 2 * v, 6.5)
        self._n_voices = v
        # Reference: brightness 0.4 at 110 Hz, no modulation.
        ref_freqs = self._ratio * 110.0
        ref_amp = self._level * self._filter(ref_freqs, 110.0 * 2**2.33)
        self._p_ref = float((ref_amp**2) @ _k_power(ref_freqs)) / 2  # K-weighted
        # Each partial sits in one channel: per-channel power = sum(amp²)/4.
        self._scale = self._RMS * math.sqrt(4.0 / float(ref_amp @ ref_amp))

    def _freqs(self) -> np.ndarray:
        cents = self._cents_unit * self._detune + self._cents_drift
        return self._pitch * self._ratio * 2.0 ** (cents / 1200.0)

    def _retune(self, *, glide: bool = True) -> None:
        freqs = self._freqs()
        self._bank.set_freq(0, freqs, glide=glide)
        self._f4 = freqs**4
        self._lvl = self._level * (freqs < self._fmax)
        self._kpow = _k_power(freqs)

    @staticmethod
    def _filter(freqs: np.ndarray, cutoff_hz: float) -> np.ndarray:
        """2nd-order Butterworth low-pass magnitude at ``freqs`` (Hz)."""
        return 1.0 / np.sqrt(1.0 + (freqs * (1.0 / cutoff_hz)) ** 4)

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        pitch = _glide(self._pitch, p["pitch_hz"], dt, 0.5, 0.25)
        detune = _approach(self._detune, p["detune_cents"], dt, 0.5)
        if pitch != self._pitch or detune != self._detune:
            self._pitch, self._detune = pitch, detune
            self._retune()
        self._bright = b = _approach(self._bright, p["brightness"], dt, 1.0)
        self._move = m = _approach(self._move, p["movement"], dt, 1.0)

        # Smooth random modulation, a function of time (see _ValueNoise): a slow layer
        # always, a faster one mixed in with `movement`.
        t = self.frame / self.sample_rate
        mod = self._slow.at(t) + (0.3 + 0.9 * m) * self._fast.at(t)
        sweep = mod[0]
        octaves = 1.3 + 2.7 * b + (0.25 + 0.8 * m) * sweep
        octaves = 0.5 * (octaves + math.sqrt(octaves * octaves + 0.09))  # soft floor at the root
        cutoff = pitch * 2.0**octaves
        breath = 1.0 + (0.05 + 0.08 * m) * mod[1]
        nv = self._n_voices
        drift = mod[2 : 2 + nv][self._voice_of // 2]  # level: shared by the twins (L = R)
        drift *= 0.05 + 0.12 * m
        drift += 1.0
        # Each voice wanders in pitch by a few cents (more with movement): the chord
        # never locks into a repeating waveform.  Retuned every quantum, gliding.
        cents = (2.0 + 4.0 * m) * mod[2 + nv :][self._voice_of]
        if np.max(np.abs(cents - self._cents_drift)) > 0.6:  # glide in ~0.5-cent steps
            self._cents_drift = cents
            self._retune()
        amp = self._f4 * cutoff**-4
        amp += 1.0
        amp **= -0.5
        amp *= self._lvl
        amp *= drift
        power = float((amp * amp) @ self._kpow) / 2
        # Compensate 60 % (in dB) of the loudness changes caused by the filter.
        amp *= breath * (self._p_ref / max(power, 1e-12)) ** 0.3 * self._scale
        return self._ups.process(self._bank.render(amp))


# ---------------------------------------------------------------------------------
# Melody
# ---------------------------------------------------------------------------------
#: Scales for :class:`Melody` ``mode``: index -> (name, semitones above the tonic).
MODES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("major pentatonic", (0, 2, 4, 7, 9)),
    ("minor pentatonic", (0, 3, 5, 7, 10)),
    ("dorian", (0, 2, 3, 5, 7, 9, 10)),
    ("lydian", (0, 2, 4, 6, 7, 9, 11)),
    ("mixolydian", (0, 2, 4, 5, 7, 9, 10)),
    ("aeolian", (0, 2, 3, 5, 7, 8, 10)),
    ("ionian", (0, 2, 4, 5, 7, 9, 11)),
    ("suspended pentatonic", (0, 2, 5, 7, 10)),
)


class NoteEvent(NamedTuple):
    """One note played by :class:`Melody` (kept in ``Melody.note_log``).

    Attributes
    ----------
    frame : int
        Absolute output frame of the onset (the attack then takes ~0.1-0.25 s to peak).
    freq_hz : float
        Fundamental frequency in Hz.
    semitone : int
        Semitones above (negative: below) the tonal centre at the time of the note.
    velocity : float
        0–1 after the no-startle cap (0 means the note was silent).
    """

    frame: int
    freq_hz: float
    semitone: int
    velocity: float


class Melody(_TonalSource):
    """A soft, slow generative melody that never loops, over a quiet tonic resonance.

    Timbre: a felt-mallet tone, sine plus up to three soft harmonics, each with a
    smooth attack (time constant 25–60 ms, peak after ~0.1–0.25 s) and a long
    exponential decay (0.7–8 s time constant; higher harmonics fade faster).  Notes
    come from the scale ``MODES[mode]`` around ``pitch_hz``.

    Phrase logic, all from the seed: phrases of 3–7 notes that move mostly by scale
    step and end on the tonic (sometimes the fifth), approached by step; rests between
    phrases.  Nothing lines up into a loop: the rhythm pattern has 11 values, the
    phrase-length pattern 7, the register drifts with a period of 29·√2 beats, and
    each of them is perturbed by seeded randomness (timing jitter, occasional
    lengths ±1, pitch choices).  The mean onset rate is exactly ``note_rate_hz`` over
    each phrase (including its rest); the beat clock integrates the rate, so
    automating it never jumps.

    Softness: under the notes sits a quiet sustained resonance of the tonic and its
    fifth (with the octave below for higher centres).  It keeps the recent loudness
    from collapsing between sparse notes, and every note's velocity is capped so that
    its predicted 400 ms loudness stays within 4.5 LU of the power mean of the previous
    10 s.  This is what makes the source satisfy the no-startle rule on its own at
    any note rate; the resonance is louder, relative to the notes, at slow rates.

    Parameters (``PARAMS``)
    -----------------------
    pitch_hz : float
        Tonal centre (tonic) in Hz, 110–880.
    mode : float
        Whole number, index into :data:`MODES`: 0 major pentatonic, 1 minor
        pentatonic, 2 dorian, 3 lydian, 4 mixolydian, 5 aeolian, 6 ionian,
        7 suspended pentatonic.  (Automation rounds to the nearest index.)
    note_rate_hz : float
        Mean notes per second, 0.05–1.5.
    brightness : float
        0–1: harmonic content and attack softness.
    register_spread : float
        0–1: pitch range from about a seventh (near the centre) to about two octaves.

    Attributes
    ----------
    note_log : collections.deque of NoteEvent
        The most recent 2048 notes, for visuals and tests.
    """

    FAMILY = "melody"
    CALIBRATION_S = 60.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(261.63, 110.0, 880.0, "Hz", "tonal centre (tonic)"),
        "mode": Param(
            0.0, 0.0, float(len(MODES) - 1), "", "scale index into MODES (0 = major pentatonic)"
        ),
        "note_rate_hz": Param(0.35, 0.05, 1.5, "Hz", "mean notes per second"),
        "brightness": Param(0.3, 0.0, 1.0, "", "harmonic content and attack softness"),
        "register_spread": Param(0.4, 0.0, 1.0, "", "pitch range around the centre"),
    }

    #: Relative inter-onset intervals inside phrases (11 values: prime).
    RHYTHM: ClassVar[tuple[float, ...]] = (
        1.0,
        0.75,
        1.25,
        1.0,
        1.5,
        0.75,
        1.0,
        1.25,
        0.5,
        1.0,
        2.0,
    )
    #: Phrase lengths in notes (7 values: prime, coprime with the rhythm cycle).
    PHRASES: ClassVar[tuple[int, ...]] = (4, 5, 3, 6, 5, 7, 4)
    #: Register drift period in beats (irrational: never aligns with the cycles above).
    REGISTER_PERIOD_BEATS: ClassVar[float] = 29.0 * math.sqrt(2.0)

    _T_GRID = np.arange(0.0, 1.2, 0.02)
    _NOTE_LEVEL = 0.3  # fundamental peak amplitude at velocity 1
    _LOUDNESS_HEADROOM_LU = 4.5  # cap: predicted momentary <= mean(10 s) + this
    _KILL = 1e-4  # drop decaying partials below -80 dBFS
    _STEP_WEIGHTS: ClassVar[dict[int, float]] = {
        -3: 0.025, -2: 0.11, -1: 0.34, 0: 0.05, 1: 0.34, 2: 0.11, 3: 0.025,
    }  # fmt: skip

    @classmethod
    def validate_params(cls, params: Any, *, prefix: str = "") -> dict[str, float]:
        """Check parameters; ``mode`` must also be a whole number.

        Raises
        ------
        ParameterError
            Naming the field for an unknown name, a value out of range or a
            fractional ``mode``.
        """
        out = super().validate_params(params, prefix=prefix)
        if out["mode"] != int(out["mode"]):
            names = ", ".join(f"{i} = {name}" for i, (name, _) in enumerate(MODES))
            raise ParameterError(
                f"{prefix}.mode" if prefix else "mode",
                f"must be a whole number ({names}), got {out['mode']:g}",
            )
        return out

    def _setup(self) -> None:
        self._init_internal()
        self._rng_phrase = make_rng(self.seed, "melody", "phrase")
        self._rng_pitch = make_rng(self.seed, "melody", "pitch")
        self._rng_rhythm = make_rng(self.seed, "melody", "rhythm")
        self._rng_voice = make_rng(self.seed, "melody", "voice")
        bed_rng = make_rng(self.seed, "melody", "bed")
        self.note_log: deque[NoteEvent] = deque(maxlen=2048)

        # Bed: (ratio to tonic, relative level, which weight) x 2 detuned voices.
        bed = [(1.0, 1.0, 0), (1.5, 0.55, 0), (2.0, 0.12, 0), (0.5, 0.8, 1), (0.75, 0.4, 1)]
        ratios, levels, kinds, cents, pans = [], [], [], [], []
        for ratio, level, kind in bed:
            for side in (-1.0, 1.0):
                ratios.append(ratio)
                levels.append(level / math.sqrt(2))
                kinds.append(kind)
                cents.append(side * bed_rng.uniform(0.25, 0.6))
                pans.append(side)  # hard left/right: the twins never beat in loudness
        self._bed_ratio = np.array(ratios) * 2.0 ** (np.array(cents) / 1200)
        self._bed_level = np.array(levels)
        self._bed_kind = np.array(kinds)
        self._nb = len(ratios)
        self._pitch = self.params["pitch_hz"]
        self._rate_s = self.params["note_rate_hz"]
        self._bank = _Bank(self._rate, self._q, _SUB, capacity=64)
        self._bank.add(
            self._pitch * self._bed_ratio,
            np.ones(self._nb),
            bed_rng.uniform(0, _TWO_PI, size=self._nb),
            _pan_gains(np.array(pans)),
        )
        self._bank.gain[: self._nb] = 0.0  # fade in over the first quantum (de-click)
        self._bed_key: tuple[float, float] | None = None
        self._p_bed = 0.0

        # Loudness bookkeeping for the no-startle cap.
        n10 = math.ceil(10.0 / self._dt)
        self._pow_ring = np.zeros(n10)
        self._pow_count = 0
        self._recent: deque[tuple[int, float]] = deque()  # (frame, predicted power)
        self._k_ratio = 1.0

        # Phrase state.
        self._beat = 0.0
        self._next_onset = min(1.0, 2.5 * self.params["note_rate_hz"])
        self._phrase_idx = 0
        self._rhythm_idx = int(self._rng_rhythm.integers(len(self.RHYTHM)))
        self._phrase_left = 0
        self._gaps: list[float] = []
        self._cur: int | None = None  # current scale step
        self._target = 0
        self._mode_now = round(self.params["mode"])
        self._reg_phase = float(self._rng_phrase.uniform(0, _TWO_PI))

    # -- scale helpers ------------------------------------------------------------
    @staticmethod
    def _semi(step: int, scale: tuple[int, ...]) -> int:
        n = len(scale)
        return 12 * (step // n) + scale[step % n]

    @staticmethod
    def _nearest_step(semi: float, scale: tuple[int, ...]) -> int:
        """Scale step nearest to ``semi`` semitones (the lower one on a tie)."""
        n = len(scale)
        octave = math.floor(semi / 12)
        r = semi - 12 * octave
        best = min(range(n + 1), key=lambda i: abs((scale[i] if i < n else 12) - r))
        return octave * n + best

    def _window(self, scale: tuple[int, ...], tonic: float) -> tuple[int, int]:
        spread = self.params["register_spread"]
        centre = 3.0 + 4.0 * spread * math.sin(
            _TWO_PI * self._beat / self.REGISTER_PERIOD_BEATS + self._reg_phase
        )
        half = 5.0 + 8.0 * spread
        lo_semi = max(centre - half, 12 * math.log2(70.0 / tonic))
        hi_semi = min(centre + half, 12 * math.log2(2000.0 / tonic))
        lo = self._nearest_step(lo_semi, scale)
        if self._semi(lo, scale) < lo_semi:
            lo += 1
        hi = self._nearest_step(hi_semi, scale)
        if self._semi(hi, scale) > hi_semi:
            hi -= 1
        return lo, max(hi, lo + 2)

    # -- phrase logic -------------------------------------------------------------
    def _start_phrase(self, scale: tuple[int, ...], lo: int, hi: int) -> None:
        rng = self._rng_phrase
        length = self.PHRASES[self._phrase_idx % len(self.PHRASES)]
        self._phrase_idx += 1
        if rng.random() < 0.35:
            length += 1 if rng.random() < 0.5 else -1
        length = min(7, max(3, length))
        iois = []
        for _ in range(length - 1):
            iois.append(
                self.RHYTHM[self._rhythm_idx % len(self.RHYTHM)]
                * self._rng_rhythm.uniform(0.9, 1.1)
            )
            self._rhythm_idx += 1
        rest = self._rng_rhythm.uniform(1.6, 3.4)
        scale_f = length / (sum(iois) + rest)  # mean exactly one note per beat
        self._gaps = [x * scale_f for x in [*iois, rest]]
        self._phrase_left = length
        n = len(scale)
        # first note: continue near the previous phrase's end, inside the window
        if self._cur is None:
            self._cur = self._nearest_step(0, scale) + int(self._rng_pitch.integers(0, 3))
        else:
            self._cur += _weighted_choice(
                self._rng_pitch, (-2, -1, 0, 1, 2), (0.15, 0.25, 0.2, 0.25, 0.15)
            )
        self._cur = min(hi, max(lo, self._cur))
        # target: the tonic nearest the middle of the phrase's reach (sometimes the fifth)
        fifth = scale.index(7)
        degree = fifth if rng.random() < 0.25 else 0
        cands = [k * n + degree for k in range(lo // n - 1, hi // n + 2)]
        cands = [t for t in cands if lo <= t <= hi] or [min(max(lo, 0), hi)]
        reach = 2 * (length - 1)
        good = [t for t in cands if abs(t - self._cur) <= reach] or cands
        good.sort(key=lambda t: abs(t - self._cur))
        self._target = good[0] if len(good) == 1 or rng.random() < 0.7 else good[1]

    def _next_step(self, lo: int, hi: int) -> int:
        """Choose the next scale step; the first note of a phrase is already set."""
        remaining = self._phrase_left - 1  # notes after this one
        cur = self._cur if self._cur is not None else 0
        if remaining == 0 and abs(self._target - cur) <= 3:
            return self._target
        cands, weights = [], []
        for step, w in self._STEP_WEIGHTS.items():
            new = cur + step
            if not lo <= new <= hi:
                continue
            dist = abs(self._target - new)
            if dist > 2 * remaining:
                continue
            if remaining <= 1 and dist < abs(self._target - cur):
                w *= 3.0
            cands.append(new)
            weights.append(w)
        if not cands:
            toward = int(np.sign(self._target - cur))
            return cur + toward * min(2, abs(self._target - cur))
        return _weighted_choice(self._rng_pitch, cands, weights)

    # -- loudness cap -------------------------------------------------------------
    def _note_power(
        self, amps: np.ndarray, freqs: np.ndarray, tau_d: np.ndarray, tau_a: float
    ) -> tuple[float, float]:
        """Predicted loudest 400 ms of a new note at unit velocity (K-weighted power).

        Returns ``(u, x)``: the note alone adds ``u·v²``; in the worst case it also
        adds ``x·v`` by adding in phase to partials already sounding at (nearly) the
        same frequencies (the resonance, or an earlier note on the same pitch).
        """
        t = self._T_GRID  # 0 .. 1.2 s in 20 ms steps; 400 ms = 20 steps
        env = np.exp(np.multiply.outer(-1.0 / tau_d, t)) * (1.0 - np.exp(t * (-1.0 / tau_a)))
        kp = _k_power(freqs) * 0.5
        c = np.cumsum((amps * amps * kp) @ (env * env))
        start = int(np.argmax(c[20:] - c[:-20]))
        u = float(c[start + 20] - c[start]) / 20
        others = self._bank.amplitude_near(freqs)
        # in-phase worst case, per channel: a·g_ch·b, summed over channels <= √2·a·b
        mean_env = env[:, start + 1 : start + 21].mean(axis=1)
        x = 2 * math.sqrt(2) * float((amps * others * kp) @ mean_env)
        return u, x

    def _context_power(self) -> float:
        if self._pow_count == 0:
            return self._p_bed
        return float(np.mean(self._pow_ring[: min(self._pow_count, self._pow_ring.size)]))

    def _fire(self, sub_idx: int, scale: tuple[int, ...], tonic: float, last_power: float) -> None:
        lo, hi = self._window(scale, tonic)
        if self._phrase_left == 0:
            self._start_phrase(scale, lo, hi)
            step = self._cur
        else:
            step = self._next_step(lo, hi)
        self._cur = step
        gap = self._gaps[len(self._gaps) - self._phrase_left]
        position = len(self._gaps) - self._phrase_left  # 0-based index in phrase
        self._phrase_left -= 1
        self._next_onset += gap

        rng = self._rng_voice
        semi = self._semi(step, scale)
        f0 = tonic * 2.0 ** (semi / 12)
        b = self.params["brightness"]
        rate = self.params["note_rate_hz"]
        h = np.arange(1, 5, dtype=np.float64)
        rel = np.array([1.0, 0.12 + 0.35 * b, 0.04 + 0.2 * b, 0.015 + 0.1 * b])
        freqs = f0 * h
        ok = freqs < self._fmax
        freqs, rel, h = freqs[ok], rel[ok], h[ok]
        tau1 = min(5.0, max(1.0, 2.6 * (262.0 / f0) ** 0.35)) * min(
            1.6, max(0.7, (0.5 / rate) ** 0.3)
        )
        tau_d = tau1 / h**1.3
        tau_a = 0.025 + 0.035 * (1.0 - b)  # attack time constant, s
        tp = tau_a * np.log((tau_a + tau_d) / tau_a)
        peak = np.exp(-tp / tau_d) * tau_d / (tau_a + tau_d)
        rel = rel / peak

        # velocity: gentle phrase contour, then the no-startle cap
        n_notes = len(self._gaps)
        contour = 0.9 if position == 0 else (0.82 if position == n_notes - 1 else 1.0)
        vel = contour * rng.uniform(0.8, 1.0)
        # Dense, long-ringing textures pile up: keep rate x ring time at about 1.2.
        level = self._NOTE_LEVEL * min(1.0, math.sqrt(1.2 / (rate * tau1)))
        u, x = self._note_power(level * rel, freqs, tau_d, tau_a)
        frame = self.frame + sub_idx * _SUB * self._d
        # `last_power` is the previous quantum's measured loudness; notes started in the
        # last 0.25 s may still be rising, so add their predicted peaks.
        while self._recent and self._recent[0][0] < frame - 0.25 * self.sample_rate:
            self._recent.popleft()
        now = last_power + sum(pw for _, pw in self._recent)
        room = max(10 ** (self._LOUDNESS_HEADROOM_LU / 10) * self._context_power() - now, 0.0)
        # largest v with u·v² + x·v <= room
        vel = min(vel, 2 * room / (x + math.sqrt(x * x + 4 * u * room)) if room > 0 else 0.0)
        if vel < 0.02:
            vel = 0.0
        self.note_log.append(NoteEvent(frame, float(f0), int(semi), float(vel)))
        if vel == 0.0:
            return
        self._recent.append((frame, vel * vel * u + vel * x))
        amp = level * vel * rel
        pan_pos = 0.35 * math.tanh(semi / 12.0) + rng.uniform(-0.15, 0.15)
        angle = (min(1.0, max(-1.0, pan_pos)) + 1.0) * (math.pi / 4)
        pan = np.empty((2 * len(freqs), 2))
        pan[:, 0] = math.cos(angle)
        pan[:, 1] = math.sin(angle)
        phase = rng.uniform(0, _TWO_PI, size=len(freqs))
        self._bank.add(
            np.concatenate([freqs, freqs]),
            np.concatenate([amp, -amp]),
            np.concatenate([phase, phase]),
            pan,
            decay_per_s=np.concatenate([1.0 / tau_d, 1.0 / tau_d + 1.0 / tau_a]),
            start_sub=sub_idx,
            loudness_weight=np.repeat([1.0, 0.0], len(freqs)),
        )

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        mode = min(len(MODES) - 1, max(0, round(p["mode"])))
        scale = MODES[mode][1]
        if mode != self._mode_now and self._cur is not None:
            # keep the line where it is: re-express position and target in the new scale
            old = MODES[self._mode_now][1]
            self._cur = self._nearest_step(self._semi(self._cur, old), scale)
            self._target = self._nearest_step(self._semi(self._target, old), scale)
        self._mode_now = mode
        pitch = _glide(self._pitch, p["pitch_hz"], dt, 0.5, 0.25)
        if pitch != self._pitch:
            self._pitch = pitch
            self._bank.set_freq(0, pitch * self._bed_ratio)
        self._rate_s = rate_s = _approach(self._rate_s, p["note_rate_hz"], dt, 2.0)

        # Bed level: power = k(rate) x a nominal note's momentary power; the octave
        # below joins only when it is above ~100 Hz.  Recomputed only on change.
        bed_gain = None
        if self._bed_key != (rate_s, pitch):
            self._bed_key = (rate_s, pitch)
            k = 0.08 + 0.45 / (1.0 + (rate_s / 0.3) ** 1.5)
            self._p_bed = k * self._NOTE_LEVEL**2 / 2 * 0.85
            w_sub = min(1.0, max(0.0, (pitch / 2 - 90.0) / 60.0))
            weights = self._bed_level * np.where(self._bed_kind == 1, w_sub, 1.0)
            bed_gain = weights * math.sqrt(2 * self._p_bed / float(weights @ weights))

        if self._pow_count % 4 == 0:
            self._bank.remove_quiet(self._nb, self._KILL)
            self._k_ratio = self._bank.k_ratio()
        power_now = (
            self._pow_ring[(self._pow_count - 1) % self._pow_ring.size] if self._pow_count else 0.0
        )

        # Notes whose onset falls in this quantum start on the sub-block grid.
        rate = p["note_rate_hz"]
        beats_per_sub = rate * _SUB / self._rate
        while True:
            ahead = self._next_onset - self._beat
            j = 0 if ahead <= 0 else math.ceil(ahead / beats_per_sub - 1e-9)
            if j >= self._nsub:
                break
            self._fire(j, scale, pitch, power_now)
        self._beat += rate * self._q / self._rate
        low = self._bank.render(bed_gain)
        # Loudness history for the cap: measured power x K-weighting of the spectrum.
        self._pow_ring[self._pow_count % self._pow_ring.size] = (
            float(np.vdot(low, low)) / self._q * self._k_ratio
        )
        self._pow_count += 1
        return self._ups.process(low)


# ---------------------------------------------------------------------------------
# Breath pacer
# ---------------------------------------------------------------------------------
class BreathPacer(_TonalSource):
    """A soft swell to breathe along with: rises over the inhale, falls over the exhale.

    The sound is a warm band of noise (about 150 Hz to 1.2 kHz, like distant surf)
    plus a gentle tone (``pitch_hz`` with a soft octave and twelfth), both following
    one envelope: a raised-cosine rise over the inhale and a raised-cosine fall over
    the exhale, on top of a floor (about -9 dB) so the sound never vanishes.

    The breath phase is integrated from ``breaths_per_min`` (never recomputed from
    time), so automating the rate, e.g. 10 → 6 breaths/min, keeps the phase and the
    envelope continuous.

    Observing the phase (for visuals)
    ---------------------------------
    :meth:`phase_at` returns the breath phase at an output frame: 0 is the start of
    an inhale, ``inhale_ratio`` the start of the exhale, 1 the next inhale.
    :meth:`envelope_at` returns the swell (0 = bottom, 1 = top of the breath).  Both
    answer for frames already rendered (the last ~2 minutes) and extrapolate at the
    current rate for frames not yet rendered.  The audio lags them by under 3 ms.

    Parameters (``PARAMS``)
    -----------------------
    breaths_per_min : float
        Breathing rate, 3–20 breaths per minute (6 is a common default; the
        resonant rate is individual).
    inhale_ratio : float
        Fraction of each breath spent inhaling, 0.3–0.6.
    pitch_hz : float
        Pitch of the tone in Hz, 80–500.
    tone_mix : float
        0 = only the noise swell, 1 = only the tone.
    """

    FAMILY = "breath"
    CALIBRATION_S = 40.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "breaths_per_min": Param(6.0, 3.0, 20.0, "1/min", "breathing rate to pace"),
        "inhale_ratio": Param(0.4, 0.3, 0.6, "", "fraction of each breath spent inhaling"),
        "pitch_hz": Param(196.0, 80.0, 500.0, "Hz", "pitch of the soft tone"),
        "tone_mix": Param(0.4, 0.0, 1.0, "", "balance: 0 noise swell only … 1 tone only"),
    }

    _FLOOR = 0.12  # power floor of the swell (-9 dB)
    _HISTORY_S = 120.0

    def _setup(self) -> None:
        self._init_internal()
        rng = make_rng(self.seed, "breath", "tone")
        self._noise_rng = make_rng(self.seed, "breath", "noise")
        self._qn = self._q // 4  # noise-rate samples per quantum
        self._noise_ups = _Upsampler(4, 16, self._qn, design="breath", rate_hz=self._rate)
        self._ramp_n = (np.arange(self._qn) / self._qn).astype(np.float32)
        # Tone: fundamental (centre), octave and twelfth (a little left and right).
        self._tone_ratio = np.array([1.0, 2.0, 3.0])
        self._tone_level = np.array([1.0, 0.22, 0.07])
        self._pitch = self.params["pitch_hz"]
        self._bank = _Bank(self._rate, self._q, _SUB, capacity=3)
        self._bank.add(
            self._pitch * self._tone_ratio,
            np.ones(3),
            rng.uniform(0, _TWO_PI, size=3),
            _pan_gains(np.array([0.0, -0.4, 0.4])),
        )
        self._bank.gain[:] = 0.0
        self._noise_amp = 0.0  # start from silence (de-click)
        self._phase = 0.0  # breath phase (cycles, wrapped to [0, 1))
        self._bps = self.params["breaths_per_min"] / 60.0
        self._ratio = self.params["inhale_ratio"]
        self._mix = self.params["tone_mix"]
        self._history: deque[tuple[int, float, float, float, float, float]] = deque(
            maxlen=math.ceil(self._HISTORY_S / self._dt)
        )

    # -- breath phase ---------------------------------------------------------------
    @staticmethod
    def _shape(phase: float, ratio: float) -> float:
        """Swell 0..1: raised-cosine rise over [0, ratio), fall over [ratio, 1)."""
        if phase < ratio:
            return 0.5 - 0.5 * math.cos(math.pi * phase / ratio)
        return 0.5 + 0.5 * math.cos(math.pi * (phase - ratio) / (1.0 - ratio))

    def _locate(self, frame: int) -> tuple[float, float]:
        """Breath phase and inhale ratio at an output frame."""
        if isinstance(frame, bool) or not isinstance(frame, int | np.integer):
            raise ParameterError("frame", f"expected a whole number of frames, got {frame!r}")
        frame = int(frame)
        if self._history and frame >= self._history[0][0]:
            idx = min((frame - self._history[0][0]) // QUANTUM, len(self._history) - 1)
            f0, ph0, r0, r1, q0, q1 = self._history[idx]
        elif not self._history and frame >= 0:
            f0, ph0, r0, r1, q0, q1 = 0, 0.0, self._bps, self._bps, self._ratio, self._ratio
        else:
            oldest = self._history[0][0] if self._history else 0
            raise ParameterError(
                "frame", f"{frame} is before the kept history (from frame {oldest})"
            )
        t = (frame - f0) / self.sample_rate
        span = self._dt
        if t <= span:
            phase = ph0 + r0 * t + (r1 - r0) * t * t / (2 * span)
            ratio = q0 + (q1 - q0) * t / span
        else:  # beyond what has been rendered: continue at the latest rate
            phase = ph0 + (r0 + r1) / 2 * span + r1 * (t - span)
            ratio = q1
        return phase % 1.0, ratio

    def phase_at(self, frame: int) -> float:
        """Breath phase at an output frame.

        Parameters
        ----------
        frame : int
            Absolute output frame (0 = start of the session).

        Returns
        -------
        float
            Phase in ``[0, 1)``: 0 = start of an inhale, ``inhale_ratio`` = start of
            the exhale.

        Raises
        ------
        ParameterError
            If ``frame`` is older than the kept history (~2 minutes) or not a whole number.
        """
        return self._locate(frame)[0]

    def envelope_at(self, frame: int) -> float:
        """Swell at an output frame, 0 (bottom of the breath) to 1 (top); see :meth:`phase_at`."""
        phase, ratio = self._locate(frame)
        return self._shape(phase, ratio)

    @property
    def breath_phase(self) -> float:
        """Breath phase at the next frame to be computed (see :meth:`phase_at`)."""
        return self._phase

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        pitch = _glide(self._pitch, p["pitch_hz"], dt, 0.5, 0.25)
        if pitch != self._pitch:
            self._pitch = pitch
            self._bank.set_freq(0, pitch * self._tone_ratio)
        r0, r1 = self._bps, p["breaths_per_min"] / 60.0
        q0 = self._ratio
        q1 = self._ratio = _approach(self._ratio, p["inhale_ratio"], dt, 1.5)
        m1 = self._mix = _approach(self._mix, p["tone_mix"], dt, 1.0)
        self._history.append((self.frame, self._phase, r0, r1, q0, q1))
        # The rate moves linearly across the quantum: integrate it (never recompute
        # the phase from time), then gains move linearly to the end-of-quantum swell.
        self._phase = (self._phase + (r0 + r1) / 2 * dt) % 1.0
        self._bps = r1
        env = math.sqrt(self._FLOOR + (1.0 - self._FLOOR) * self._shape(self._phase, q1))
        # constant-power balance between tone and noise
        tone = self._bank.render(self._tone_level * (0.22 * math.sqrt(m1) * env))
        n0, n1 = self._noise_amp, env * 0.17 * math.sqrt(1.0 - m1) * math.sqrt(12.0)
        self._noise_amp = n1
        white = self._noise_rng.random((2, self._qn), dtype=np.float32)
        white -= 0.5
        white *= n0 + (n1 - n0) * self._ramp_n
        noise = self._noise_ups.process(white)
        tone += noise.reshape(2, self._nsub, _SUB).transpose(1, 0, 2)
        return self._ups.process(tone)


# ---------------------------------------------------------------------------------
# Binaural beat
# ---------------------------------------------------------------------------------
class Binaural(_TonalSource):
    """A binaural-beat layer: soft sines at ``carrier_hz ∓ beat_hz/2`` left and right.

    **Headphones only.**  The "beat" exists only when each ear hears its own tone;
    over speakers the two tones mix in the air into an ordinary acoustic beat.
    ``HEADPHONES_ONLY`` is ``True`` so scenes and players can say so.

    Sonora makes no claim that this layer changes brain activity, targets a state or
    does anything else: the evidence on binaural beats is limited and mixed, and the
    evidence for EEG "entrainment" is conflicting (REFERENCES.md, "binaural beats":
    graded *limited*).  It is offered only as a gentle texture some listeners like.

    Parameters (``PARAMS``)
    -----------------------
    carrier_hz : float
        Mean of the two tones in Hz, 100–500.
    beat_hz : float
        Right tone minus left tone in Hz, 1–30.

    Notes
    -----
    Each channel is one sine of amplitude 0.2 (RMS 0.14), rendered at the output rate.
    Frequency changes glide (0.3 s smoothing, linear inside each quantum) with a
    continuous phase.
    """

    HEADPHONES_ONLY = True
    FAMILY = "binaural"
    CALIBRATION_S = 5.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "carrier_hz": Param(200.0, 100.0, 500.0, "Hz", "mean frequency of the two tones"),
        "beat_hz": Param(6.0, 1.0, 30.0, "Hz", "right minus left frequency"),
    }

    _AMP = 0.2

    def _setup(self) -> None:
        rng = make_rng(self.seed, "binaural", "phase")
        self._dt = QUANTUM / self.sample_rate
        self._carrier = self.params["carrier_hz"]
        self._beat = self.params["beat_hz"]
        sub = 512 if self.sample_rate >= 44_100 else 256
        self._bank = _Bank(self.sample_rate, QUANTUM, sub, capacity=2)
        self._bank.add(
            self._freqs(), np.full(2, self._AMP), rng.uniform(0, _TWO_PI, size=2), np.eye(2)
        )
        self._bank.gain[:] = 0.0

    def _freqs(self) -> np.ndarray:
        return np.array([self._carrier - self._beat / 2, self._carrier + self._beat / 2])

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        carrier = _glide(self._carrier, p["carrier_hz"], dt, 0.3, 1.0)
        beat = _approach(self._beat, p["beat_hz"], dt, 0.3)
        if carrier != self._carrier or beat != self._beat:
            self._carrier, self._beat = carrier, beat
            self._bank.set_freq(0, self._freqs())
        gain = np.ones(2) if self.frame == 0 else None  # fade in over the first quantum
        out = self._bank.render(gain)
        return out.transpose(1, 0, 2).reshape(2, QUANTUM)
