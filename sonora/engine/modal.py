"""Modal sources: singing bowls, gongs and chimes.

A struck or rubbed metal object rings at a set of inharmonic *modes*.  Each mode is a
damped complex exponential ``A · exp((-1/τ + 2πjf) t)``; an attack that is not an
instant click is the difference of two such exponentials (a fast or slow one subtracted
from the decaying one), so every voice is a sum of damped complex exponentials.

Rendering uses one table ``G[m, k] = exp(s_m k / sr)`` per voice (computed once at the
onset) and, per quantum, one complex matrix-vector product ``Im(G.T @ z)`` followed by
``z *= G[:, -1] · g`` — no per-sample Python, no transcendental functions per sample.
Modes whose amplitude has fallen 80 dB below the voice's peak fade out over one
quantum and are dropped.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng

_PRUNE = 1e-4  # fade out and drop modes 80 dB below the voice's initial amplitude


def _table(s: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``exp(s k / sr)`` for k = 0..QUANTUM-1, and ``exp(s QUANTUM / sr)``.

    The table is returned as float32 ``(2 m, QUANTUM)``: imaginary parts stacked over
    real parts, so ``Im(z · G) = Re(z) Im(G) + Im(z) Re(G)`` is one real matrix product.

    Built by repeated doubling (12 vector multiplies) instead of ``QUANTUM`` complex
    exponentials per mode, which is ~50x faster and accurate to ~1e-15 in complex128.
    """
    g = np.exp(s / sample_rate)
    full = np.empty((len(s), QUANTUM), dtype=np.complex128)
    full[:, 0] = 1.0
    n = 1
    power = g
    while n < QUANTUM:
        full[:, n : 2 * n] = full[:, :n] * power[:, None]
        power = power * power
        n *= 2
    step = np.exp(s * (QUANTUM / sample_rate))
    return np.concatenate([full.imag, full.real]).astype(np.float32), step


def _im_product(z: np.ndarray, pan: np.ndarray, g_im: np.ndarray, g_re: np.ndarray) -> np.ndarray:
    """``Im(pan * z @ G)`` for stereo ``pan`` ``(2, m)`` or ``(2,)`` as float32 ``(2, n)``."""
    p = pan if pan.ndim == 2 else pan[:, None]
    a = np.concatenate([p * z.real[None, :], p * z.imag[None, :]], axis=1).astype(np.float32)
    return a @ np.concatenate([g_im, g_re])


_RAMP: list[np.ndarray] = []


def _fade_out_ramp() -> np.ndarray:
    """float32 ``(QUANTUM,)`` ramp 0 -> 1 (the share of a dying mode removed)."""
    if not _RAMP:
        _RAMP.append(np.linspace(0.0, 1.0, QUANTUM, dtype=np.float32))
    return _RAMP[0]


def _weight(freq_hz: np.ndarray) -> np.ndarray:
    """Rough loudness weight of a mode: rises to 1 by 1 kHz, +3 dB above 2 kHz."""
    return np.clip(freq_hz / 1000.0, 0.05, 1.0) ** 2 * np.where(freq_hz > 2000.0, 2.0, 1.0)


def _pan_gains(pan: float) -> np.ndarray:
    """Equal-power pan, ``pan`` in [-1, 1]."""
    theta = (pan + 1.0) * np.pi / 4
    return np.array([np.cos(theta), np.sin(theta)], dtype=np.float32)


class _Modal(Source):
    """Base class: schedules events and renders all sounding modes at once.

    All modes of all sounding voices live in one table, so a quantum costs one
    ``(2, modes) @ (modes, QUANTUM)`` complex product whatever the number of voices.
    """

    channels = 2
    _PRUNE_EVERY = 8  # quanta between dropping inaudible modes
    #: A listening player: a new event's summed mode amplitude may exceed what is
    #: still ringing by at most this many dB (``None``: no limit) ...
    LISTEN_CAP_DB: ClassVar[float | None] = None
    #: ... but is never scaled below this fraction of its nominal strength.
    LISTEN_FLOOR: ClassVar[float] = 0.3

    def _setup(self) -> None:
        self._events = make_rng(self.seed, type(self).__name__, "events")
        self._detail = make_rng(self.seed, type(self).__name__, "detail")
        self._tab_im = np.zeros((0, QUANTUM), dtype=np.float32)
        self._tab_re = np.zeros((0, QUANTUM), dtype=np.float32)
        self._z = np.zeros(0, dtype=np.complex128)
        self._step = np.zeros(0, dtype=np.complex128)
        self._pan = np.zeros((0, 2), dtype=np.float64)
        self._floor = np.zeros(0, dtype=np.float64)
        self._ringing = np.zeros(0, dtype=bool)  # decay (not attack) components
        self._freq = np.zeros(0, dtype=np.float64)
        self._count = 0
        self._dying: np.ndarray | None = None  # modes fading out during the next quantum
        self._next_onset = self._first_onset()

    # -- scheduling --------------------------------------------------------------------
    def _first_onset(self) -> int:
        return int(0.3 * self.sample_rate)

    def _seek(self, frame: int) -> None:
        # Walk the onset schedule (as a continuous render would) up to ``frame``
        # instead of striking every missed onset in the first quantum after a seek.
        while self._next_onset < frame:
            self._next_onset += max(1, self._interval_frames())

    def _interval_frames(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_modes(self) -> tuple[np.ndarray, np.ndarray, float]:  # pragma: no cover
        """Return complex exponents ``s`` (1/s), complex amplitudes, and pan position."""
        raise NotImplementedError

    def _start_voice(self, offset: int, out: np.ndarray) -> None:
        s, amp, pan = self._make_modes()
        if self.LISTEN_CAP_DB is not None and len(self._z):
            # Compare loudness-weighted power: upper modes count more (as in K-weighting
            # and equal-loudness contours), the low fundamental less.
            r = self._ringing
            ringing = float(np.sum(np.abs(self._z[r]) ** 2 * _weight(self._freq[r])))
            half = len(amp) // 2
            nominal = float(
                np.sum(np.abs(amp[:half]) ** 2 * _weight(np.abs(s[:half].imag) / (2 * np.pi)))
            )
            if ringing > 0 and nominal > 0:
                cap = np.sqrt(10 ** (self.LISTEN_CAP_DB / 10) * ringing / nominal)
                amp = amp * min(1.0, max(self.LISTEN_FLOOR, cap))
        tab, step = _table(s, self.sample_rate)
        pan_g = _pan_gains(pan).astype(np.float64)
        n = QUANTUM - offset
        m = len(s)
        z = amp.astype(np.complex128)
        out[:, offset:] += _im_product(z, pan_g, tab[:m, :n], tab[m:, :n])
        # state at the start of the next quantum: z * exp(s n / sr)
        z = z * np.exp(s * (n / self.sample_rate))
        self._tab_im = np.concatenate([self._tab_im, tab[:m]])
        self._tab_re = np.concatenate([self._tab_re, tab[m:]])
        self._z = np.concatenate([self._z, z])
        self._step = np.concatenate([self._step, step])
        self._pan = np.concatenate([self._pan, np.tile(pan_g, (len(s), 1))])
        self._floor = np.concatenate(
            [self._floor, np.full(len(s), _PRUNE * float(np.sum(np.abs(amp))))]
        )
        half = len(s) // 2  # _modes() puts the decaying halves first, the attack halves last
        self._ringing = np.concatenate([self._ringing, np.arange(len(s)) < half])
        if self._dying is not None:
            self._dying = np.concatenate([self._dying, np.zeros(len(s), dtype=bool)])
        self._freq = np.concatenate([self._freq, np.abs(s.imag) / (2 * np.pi)])

    def _quantum(self) -> np.ndarray:
        out = np.zeros((2, QUANTUM), dtype=np.float32)
        if len(self._z):
            out += _im_product(self._z, self._pan.T, self._tab_im, self._tab_re)
            dying = self._dying
            if dying is not None:
                # Modes chosen for removal fade out over this quantum: no step.
                d = dying
                fading = _im_product(self._z[d], self._pan[d].T, self._tab_im[d], self._tab_re[d])
                out -= fading * _fade_out_ramp()
            self._z = self._z * self._step
            if dying is not None:
                self._drop(~dying)
                self._dying = None
        end = self.frame + QUANTUM
        while self._next_onset < end:
            self._start_voice(self._next_onset - self.frame, out)
            self._next_onset += max(1, self._interval_frames())
        self._count += 1
        if self._count % self._PRUNE_EVERY == 0 and len(self._z):
            quiet = np.abs(self._z) <= self._floor
            if np.any(quiet):
                self._dying = quiet
        return out

    def _drop(self, keep: np.ndarray) -> None:
        self._tab_im, self._tab_re = self._tab_im[keep], self._tab_re[keep]
        self._z, self._step = self._z[keep], self._step[keep]
        self._pan, self._floor = self._pan[keep], self._floor[keep]
        self._ringing, self._freq = self._ringing[keep], self._freq[keep]


def _modes(
    freqs_hz: np.ndarray,
    t60_s: np.ndarray,
    amps: np.ndarray,
    attack_s: np.ndarray,
    phases: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Exponents and amplitudes for modes with a decay (T60) and an attack time.

    Each mode becomes two exponentials, ``A e^{s_d t} - A e^{s_a t}`` where ``s_a``
    decays with the attack time constant, so the mode rises smoothly from zero.
    """
    w = 2 * np.pi * freqs_hz
    decay = np.log(1000.0) / t60_s  # 1/s, amplitude falls 60 dB in t60
    rise = decay + 1.0 / attack_s
    s = np.concatenate([-decay + 1j * w, -rise + 1j * w])
    a = amps * np.exp(1j * phases)
    return s, np.concatenate([a, -a])


class SingingBowl(_Modal):
    """Singing bowls: inharmonic modes in beating pairs, struck or rubbed.

    Each bowl's modes sit near 1, 2.76, 5.2, 8.3, 12.1 and 16.5 × its fundamental
    (measured ratios of Himalayan bowls are in this region); each mode is a pair of
    near-coincident frequencies a fraction of a hertz to a few hertz apart, which gives
    the bowl's slow beating ("wah-wah").  A *strike* has a soft-mallet attack of tens of
    milliseconds; a *rub* swells over seconds like a leather-wrapped stick circling the
    rim.  Every strike varies a little in strength, timbre, pitch and place.
    """

    FAMILY = "bowls"
    LISTEN_CAP_DB = None
    RATIOS: ClassVar[tuple[float, ...]] = (1.0, 2.76, 5.20, 8.30, 12.1, 16.5)
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(196.0, 60.0, 700.0, "Hz", "fundamental of the lowest bowl"),
        "bowls": Param(3.0, 1.0, 5.0, "", "number of bowls (pentatonic steps above the first)"),
        "interval_s": Param(9.0, 2.0, 120.0, "s", "mean time between events"),
        "rub": Param(0.25, 0.0, 1.0, "", "share of events that are rubs rather than strikes"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "decay_s": Param(30.0, 3.0, 60.0, "s", "T60 of the fundamental"),
        "spread": Param(0.6, 0.0, 1.0, "", "stereo spread of the bowls"),
    }
    _STEPS = (0, 2, 4, 7, 9)  # pentatonic semitone steps for bowls 2..5

    def calibration_seconds(self) -> float:
        p = self.params
        return float(min(240.0, max(40.0, 6 * p["interval_s"], 3 * p["decay_s"])))

    def _interval_frames(self) -> int:
        mean = self.params["interval_s"]
        return int(self.sample_rate * mean * self._events.uniform(0.85, 1.15))

    def _make_modes(self) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        rng = self._detail
        n_bowls = round(p["bowls"])
        bowl = int(self._events.integers(0, n_bowls))
        f0 = p["pitch_hz"] * 2 ** (self._STEPS[bowl] / 12) * 2 ** (rng.normal(0, 2) / 1200)
        ratios = np.asarray(self.RATIOS)
        freqs = f0 * ratios
        ok = freqs < 0.45 * self.sample_rate
        ratios, freqs = ratios[ok], freqs[ok]
        n = len(freqs)
        bright = p["brightness"]
        tilt_db = -(1.0 - bright) * 9.0 - 3.0  # dB per mode index
        amps = 10 ** ((tilt_db * np.arange(n) + rng.normal(0, 2.0, n)) / 20)
        t60 = p["decay_s"] * ratios**-0.3 * rng.uniform(0.85, 1.15, n)
        rub = self._events.random() < p["rub"]
        if rub:
            attack = np.full(n, rng.uniform(1.2, 2.5))
        else:  # a felt mallet: the sound blooms over a few tens of milliseconds
            attack = np.full(n, rng.uniform(0.03, 0.06))
        strength = rng.uniform(0.8, 1.0)
        beat_hz = rng.uniform(0.3, 2.5, n) * np.sqrt(ratios)
        f_pair = np.concatenate([freqs, freqs + beat_hz])
        phases = rng.uniform(0, 2 * np.pi, 2 * n)
        s, a = _modes(
            f_pair,
            np.tile(t60, 2),
            np.tile(amps * strength * 0.5, 2),
            np.tile(attack, 2),
            phases,
        )
        spread = p["spread"]
        pan = 0.0 if n_bowls == 1 else spread * (2 * bowl / (n_bowls - 1) - 1) * 0.8
        pan += rng.normal(0, 0.05)
        return s, a * 0.25, float(np.clip(pan, -1, 1))


class Gong(_Modal):
    """A gong: dense inharmonic modes with a slow bloom.

    A low hum rings first; dozens of higher modes build up over one to several seconds
    after the (soft) strike and shimmer as they decay — the "bloom" of a large
    tam-tam or wind gong, softened for listening at rest.
    """

    FAMILY = "gong"
    LISTEN_CAP_DB = None
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(70.0, 30.0, 200.0, "Hz", "lowest mode"),
        "interval_s": Param(22.0, 6.0, 180.0, "s", "mean time between strikes"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "bloom_s": Param(2.5, 0.3, 8.0, "s", "time for the upper modes to build up"),
        "decay_s": Param(25.0, 5.0, 60.0, "s", "T60 of the lowest modes"),
    }
    N_MODES = 28

    def calibration_seconds(self) -> float:
        p = self.params
        return float(min(300.0, max(60.0, 5 * p["interval_s"], 3 * p["decay_s"])))

    def _first_onset(self) -> int:
        return int(0.5 * self.sample_rate)

    def _interval_frames(self) -> int:
        return int(self.sample_rate * self.params["interval_s"] * self._events.uniform(0.75, 1.25))

    def _setup(self) -> None:
        super()._setup()
        shape = make_rng(self.seed, "Gong", "shape")
        # The gong's own mode ratios: fixed for this gong (seed), denser upwards.
        self._ratios = np.sort(
            np.concatenate(
                [
                    [1.0, 1.52, 2.09],
                    np.exp(shape.uniform(np.log(2.3), np.log(38.0), self.N_MODES - 3)),
                ]
            )
        )

    def _make_modes(self) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        rng = self._detail
        freqs = p["pitch_hz"] * self._ratios * (1 + rng.normal(0, 0.0008, self.N_MODES))
        ok = freqs < 0.45 * self.sample_rate
        freqs, ratios = freqs[ok], self._ratios[ok]
        n = len(freqs)
        octave = np.log2(ratios)
        bright = p["brightness"]
        amps = 10 ** ((-(1.0 - bright) * 5.0 - 2.0) * octave / 20) * rng.uniform(0.5, 1.0, n)
        amps /= np.sqrt(n)
        t60 = p["decay_s"] * ratios**-0.35 * rng.uniform(0.8, 1.2, n)
        attack = 0.04 + p["bloom_s"] * np.clip(octave / 4.0, 0.0, 1.0) * rng.uniform(0.6, 1.2, n)
        strength = rng.uniform(0.75, 1.0)
        s, a = _modes(freqs, t60, amps * strength, attack, rng.uniform(0, 2 * np.pi, n))
        return s, a * 0.6, float(rng.normal(0.0, 0.1))


class Chimes(_Modal):
    """Wind chimes: tuned metal tubes struck by a clapper in gusts.

    Tubes ring at free-free bar modes (1, 2.756, 5.404 × fundamental) tuned to a
    pentatonic set; strikes come in loose clusters as the wind rises and falls.
    """

    FAMILY = "chimes"
    RATIOS: ClassVar[tuple[float, ...]] = (1.0, 2.756, 5.404)
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(880.0, 300.0, 2500.0, "Hz", "lowest tube"),
        "rate_per_min": Param(12.0, 1.0, 60.0, "1/min", "mean strikes per minute"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "decay_s": Param(6.0, 1.0, 15.0, "s", "T60 of the fundamental"),
    }
    _STEPS = (0, 2, 4, 7, 9, 12, 14)

    def calibration_seconds(self) -> float:
        return float(min(240.0, max(40.0, 600.0 / self.params["rate_per_min"])))

    def _interval_frames(self) -> int:
        mean_s = 60.0 / self.params["rate_per_min"]
        # Clusters: mostly short gaps, sometimes a long lull.
        if self._events.random() < 0.7:
            gap = self._events.exponential(0.35 * mean_s)
        else:
            gap = self._events.exponential(2.5 * mean_s)
        return int(self.sample_rate * max(0.12, gap))

    def _make_modes(self) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        rng = self._detail
        tube = int(self._events.integers(0, len(self._STEPS)))
        f0 = p["pitch_hz"] * 2 ** (self._STEPS[tube] / 12)
        freqs = f0 * np.asarray(self.RATIOS)
        ok = freqs < 0.45 * self.sample_rate
        freqs = freqs[ok]
        n = len(freqs)
        amps = 10 ** ((-(1.0 - p["brightness"]) * 14.0 - 4.0) * np.arange(n) / 20)
        amps *= rng.uniform(0.3, 1.0)
        t60 = p["decay_s"] * (freqs / f0) ** -0.7 * rng.uniform(0.9, 1.1, n)
        attack = np.full(n, 0.004)
        s, a = _modes(freqs, t60, amps, attack, rng.uniform(0, 2 * np.pi, n))
        pan = (tube / (len(self._STEPS) - 1) * 2 - 1) * 0.7
        return s, a * 0.2, float(pan)


class ModalStrikes(_Modal):
    """A struck object with explicitly given modes: a strike every ``interval_s``.

    Parameters (besides ``PARAMS``)
    -------------------------------
    ratios : sequence of float
        Mode frequencies as multiples of ``pitch_hz``.
    t60_s : sequence of float
        Decay time (to -60 dB) of each mode, seconds.

    Used by ``benchmarks/render.py`` to build the reference workload exactly as
    specified (six partials, 12 s down to 2 s), and by scene authors who want a bell of
    their own.  Strikes are regular and identical: no beating pairs, no variation.
    """

    FAMILY = "bowls"
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(220.0, 20.0, 4000.0, "Hz", "fundamental"),
        "interval_s": Param(20.0, 0.5, 600.0, "s", "time between strikes"),
        "attack_s": Param(0.005, 0.001, 2.0, "s", "attack time constant"),
    }

    def __init__(
        self,
        *,
        ratios: tuple[float, ...] = (1.0, 2.71, 5.15, 8.43, 12.4, 17.1),
        t60_s: tuple[float, ...] = (12.0, 10.0, 8.0, 6.0, 4.0, 2.0),
        **kwargs: float,
    ) -> None:
        if len(ratios) != len(t60_s) or not ratios:
            raise ValueError("ratios and t60_s must be non-empty and of equal length")
        self._ratios_arr = np.asarray(ratios, dtype=np.float64)
        self._t60_arr = np.asarray(t60_s, dtype=np.float64)
        super().__init__(**kwargs)

    def calibration_seconds(self) -> float:
        return float(min(240.0, max(30.0, 3 * self.params["interval_s"])))

    def _first_onset(self) -> int:
        return 0

    def _interval_frames(self) -> int:
        return round(self.params["interval_s"] * self.sample_rate)

    def _make_modes(self) -> tuple[np.ndarray, np.ndarray, float]:
        freqs = self.params["pitch_hz"] * self._ratios_arr
        ok = freqs < 0.45 * self.sample_rate
        n = int(np.sum(ok))
        amps = 1.0 / (1.0 + np.arange(n))
        amps = amps / np.sum(amps)
        s, a = _modes(
            freqs[ok],
            self._t60_arr[ok],
            amps,
            np.full(n, self.params["attack_s"]),
            np.zeros(n),
        )
        return s, a, 0.0
