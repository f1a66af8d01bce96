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
from functools import lru_cache
from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Source
from sonora.engine.design import firwin_kaiser
from sonora.engine.tonal.common import (
    _MAX_PARTIAL_FRAC,
    _SUB,
    _TWO_PI,
    _internal_factor,
    _k_power,
)


# ---------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------
def _firwin2_kaiser(
    numtaps: int, freq_hz: list[float], gain: list[float], fs_hz: float, beta: float
) -> np.ndarray:
    """Frequency-sampling FIR, as ``scipy.signal.firwin2(numtaps, freq_hz, gain,
    fs=fs_hz, window=("kaiser", beta))`` for an odd ``numtaps`` (a type-I filter).

    In numpy alone: importing ``scipy.signal`` pulls in ``scipy.stats`` and costs a
    process ~50 MB of memory and ~1 s of CPU (see :mod:`sonora.engine.design`).

    Parameters
    ----------
    numtaps : int
        Filter length, odd.
    freq_hz, gain : list of float
        The desired amplitude response: increasing frequencies in Hz from 0 to
        ``fs_hz / 2`` (no repeats) and the gain at each, linearly interpolated.
    fs_hz : float
        Sample rate in Hz.
    beta : float
        Kaiser window shape.

    Returns
    -------
    numpy.ndarray
        float64 ``(numtaps,)``.
    """
    nyq = fs_hz / 2
    nfreqs = 1 + 2 ** math.ceil(math.log2(numtaps))
    x = np.linspace(0.0, nyq, nfreqs)
    fx = np.interp(x, np.asarray(freq_hz, dtype=np.float64), np.asarray(gain, dtype=np.float64))
    shift = np.exp(-(numtaps - 1) / 2.0 * 1j * np.pi * x / nyq)
    return np.fft.irfft(fx * shift)[:numtaps] * np.kaiser(numtaps, beta)


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
        nyq = rate_hz / 2
        in_rate = rate_hz / d
        freqs = [0.0, 100.0, 250.0, 500.0, 0.30 * in_rate, 0.42 * in_rate, 0.58 * in_rate, nyq]
        gains = [0.0, 0.15, 0.9, 1.0, 0.7, 0.3, 0.0, 0.0]
        h = _firwin2_kaiser(taps + 1, freqs, gains, rate_hz, 6.0)[:taps]
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
        # (In place where the order of operations allows: the same values.)
        phase = np.multiply.outer(w0, k)
        np.add(np.angle(c)[:, None], phase, out=phase)
        phase += np.multiply.outer(w1 - w0, k * k / (2 * q))
        ramp = np.multiply.outer(g1 - g0, k / q)
        ramp += g0[:, None]
        if self.alpha[:ng].any():
            env = np.abs(c)[:, None] * np.exp(np.multiply.outer(-self.alpha[:ng], k))
            env *= ramp
        else:  # steady partials (the drone's): exp(0) is 1, and |c| · 1 is |c|
            env = np.multiply(np.abs(c)[:, None], ramp, out=ramp)
        y = np.sin(phase, out=phase)
        y *= env
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
