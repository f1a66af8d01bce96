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

import math
from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng
from sonora.engine.design import k_weighting_sos, sos_response

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


_K_LOGF = np.log(np.geomspace(10.0, 24_000.0, 256))
_K_POW = np.abs(sos_response(k_weighting_sos(48_000), np.exp(_K_LOGF), 48_000)) ** 2


def _weight(freq_hz: np.ndarray) -> np.ndarray:
    """Loudness weight of a mode: the BS.1770 K-weighting power gain at its frequency.

    The same weighting the startle guard and the loudness meter use, so a listening
    player's idea of "louder than what is ringing" is the guard's.
    """
    return np.interp(np.log(np.maximum(freq_hz, 10.0)), _K_LOGF, _K_POW)


def _pan_gains(pan: float) -> np.ndarray:
    """Equal-power pan, ``pan`` in [-1, 1]."""
    theta = (pan + 1.0) * np.pi / 4
    return np.array([np.cos(theta), np.sin(theta)], dtype=np.float32)


def _contact(freqs_hz: np.ndarray, contact_s: float) -> np.ndarray:
    """Amplitude a mallet with contact time ``contact_s`` gives modes at ``freqs_hz``.

    A contact of duration τ is a force pulse whose spectrum falls above about 1/(πτ):
    ``1 / sqrt(1 + (π f τ)²)`` (a mallet's surface is not one spring: the roll-off is
    gentler than an ideal half-sine's).  A soft, slow contact (felt, 2 ms) gives little
    above 2 kHz; a hard, quick one (wood, 0.3 ms) reaches 10 kHz.
    """
    return 1.0 / np.sqrt(1.0 + (np.pi * freqs_hz * contact_s) ** 2)


class _Modal(Source):
    """Base class: schedules events and renders all sounding modes at once.

    All modes of all sounding voices live in one table, so a quantum costs one
    ``(2, modes) @ (modes, QUANTUM)`` complex product whatever the number of voices.

    Event times sit on a jittered grid: slot ``j`` of length ``L`` (the mean interval,
    rounded to a 1/12-octave step so that slowly automated rates move the grid only
    now and then) holds one event at ``(j + 1/2 + JITTER·(u_j − 1/2))·L`` with ``u_j``
    from ``make_rng(seed, key, "slot", j)``; all detail of the event (which bowl, how
    hard, where struck) comes from ``make_rng(seed, key, "event", j)``.  So what plays at
    any moment depends only on the seed, the parameters and the events of the last ring
    time, never on a random stream running from time zero: starting a render
    ``warmup_s`` before any offset reproduces the sound there (to within the -60 dB
    tail of older strikes).  The opening event comes at ``_first_onset``.
    """

    channels = 2
    _PRUNE_EVERY = 8  # quanta between dropping inaudible modes
    #: A listening player: a new event's loudness-weighted power may exceed what is
    #: still ringing by at most this many dB (``None``: no limit) ...
    LISTEN_CAP_DB: ClassVar[float | None] = None
    #: ... measured against at least this level (dB re a full-force strike's power).
    ROOM_DB: ClassVar[float] = -8.0
    #: Seconds over which the opening strikes build up to the room level.
    OPENING_S: ClassVar[float] = 30.0
    #: Spread of an event within its slot (0 = a metronome, 1 = anywhere in the slot).
    JITTER: ClassVar[float] = 0.7
    #: Seconds of earlier audio needed to reproduce the output at any offset (the ring
    #: time of the longest-lived modes); read by the seek code.
    warmup_s: ClassVar[float] = 60.0

    def _setup(self) -> None:
        self._key = type(self).__name__
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
        self._last_onset = -(1 << 40)
        self._velocity = 1.0  # force of the event being made (set by _make_modes)
        self._cache: dict[tuple[str, int], np.ndarray] = {}  # per-slot uniforms

    # -- scheduling --------------------------------------------------------------------
    def _first_onset(self) -> int | None:
        """Frame of the opening event (a player starts at once), or ``None``."""
        return int(0.3 * self.sample_rate)

    def _mean_interval_s(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _slot_s(self) -> float:
        """Slot length: the mean interval rounded to a 1/12-octave step, s."""
        mean = max(self._mean_interval_s(), 0.05)
        return float(2.0 ** (round(12 * np.log2(mean)) / 12))

    def _uniforms(self, purpose: str, j: int, count: int) -> np.ndarray:
        """``count`` uniforms of ``make_rng(seed, key, purpose, j)``, cached (stateless)."""
        cache = self._cache
        hit = cache.get((purpose, j))
        if hit is None:
            if len(cache) > 256:
                cache.clear()
            hit = make_rng(self.seed, self._key, purpose, j).random(count)
            cache[(purpose, j)] = hit
        return hit

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        """Events with onset frames in ``[start, end)``, each with its own generator."""
        sr = self.sample_rate
        out = []
        first = self._first_onset()
        if first is not None and start <= first < end:
            out.append((first, make_rng(self.seed, self._key, "event", -1)))
        slot = self._slot_s() * sr
        j0 = max(0, int(start // slot) - 1)
        j1 = int(end // slot) + 1
        half_j = 0.5 * self.JITTER
        for j in range(j0, j1 + 1):
            u = self._uniforms("slot", j, 1)[0]
            onset = int((j + 0.5 + self.JITTER * (u - 0.5)) * slot)
            if not start <= onset < end:
                continue
            if first is not None and onset < first + (1.0 - half_j) * slot:
                continue  # the opening event stands in for the first slot
            if onset - self._last_onset < (1.0 - self.JITTER) * slot:
                continue  # the grid moved (rate automation): never two at once
            out.append((onset, make_rng(self.seed, self._key, "event", j)))
        if out:
            self._last_onset = out[-1][0]
        return out

    def _make_modes(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, float]:  # pragma: no cover
        """Return complex exponents ``s`` (1/s), complex amplitudes, and pan position."""
        raise NotImplementedError

    def _start_voice(self, offset: int, out: np.ndarray, rng: np.random.Generator) -> None:
        s, amp, pan = self._make_modes(rng)
        self._scale = 1.0  # what the listening player did to this event
        if self.LISTEN_CAP_DB is not None:
            # A listening player: the new event's loudness-weighted power may exceed
            # what still rings by at most LISTEN_CAP_DB -- but a quiet room never
            # pushes a strike below the "room level" ROOM_DB under a full strike, so
            # strikes keep an absolute scale (no drift down towards silence) and
            # their own velocity below it.
            r = self._ringing
            ringing = float(np.sum(np.abs(self._z[r]) ** 2 * _weight(self._freq[r])))
            half = len(amp) // 2
            nominal = float(
                np.sum(np.abs(amp[:half]) ** 2 * _weight(np.abs(s[:half].imag) / (2 * np.pi)))
            )
            full = nominal / max(self._velocity, 1e-3) ** 2
            # The player opens softly: the room level rises by 20 dB over the first
            # OPENING_S seconds of the session (a function of time: seek-safe).
            t = (self.frame + offset) / self.sample_rate
            opening_db = -20.0 * max(0.0, 1.0 - t / self.OPENING_S)
            room = max(ringing, 10 ** ((self.ROOM_DB + opening_db) / 10) * full)
            if nominal > 0:
                scale = min(1.0, math.sqrt(10 ** (self.LISTEN_CAP_DB / 10) * room / nominal))
                amp = amp * scale
                self._scale = scale
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

    def _extra(self, out: np.ndarray) -> None:
        """Add non-modal sound (friction noise) to ``out`` in place; default none."""

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
        for onset, rng in self._onsets(self.frame, self.frame + QUANTUM):
            self._start_voice(onset - self.frame, out, rng)
        self._extra(out)
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


def _shell_ratios(count: int) -> np.ndarray:
    """Mode ratios of a bowl: measured low modes, then the thin-shell law above.

    The (n, 0) bending modes of a thin hemispherical shell go as
    ``n (n² − 1) / sqrt(n² + 1)``; measured Himalayan bowls sit near 1, 2.76, 5.2, 8.3,
    12.1 and 16.5 × the fundamental, and the law (scaled to meet 16.5) continues the
    series: ~21.7, 27.5, 34.1, 41.4, 49.4, 58.1, 67.6 ...
    """
    n = np.arange(2, count + 2, dtype=np.float64)
    law = n * (n**2 - 1) / np.sqrt(n**2 + 1)
    law = law / law[0]
    measured = np.array(SingingBowl.RATIOS)
    out = law.copy()
    k = min(len(measured), count)
    out[:k] = measured[:k]
    if count > len(measured):
        out[len(measured) :] *= measured[-1] / law[len(measured) - 1]
    return out


def _ticks(
    rng: np.random.Generator, count: int, lo_hz: float, hi_hz: float, t60_s: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and T60s of a contact transient: many heavily damped modes.

    The few milliseconds in which a mallet or clapper touches the metal excite a dense,
    quickly dying cluster of high resonances (the "tick" of a strike).  Modelled here as
    ``count`` modes at log-uniform frequencies in ``lo_hz``–``hi_hz`` with T60 of a few
    tens of milliseconds.
    """
    f = np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz), count))
    return f, rng.uniform(t60_s[0], t60_s[1], count)


class SingingBowl(_Modal):
    """Singing bowls: a struck or rubbed metal shell, physically modelled.

    **Modes.** Each bowl rings at the measured low modes of Himalayan bowls (1, 2.76,
    5.2, 8.3, 12.1, 16.5 × its fundamental) and the thin-shell law above them, up to
    12 kHz (or 0.45 × the sample rate).  Each mode is a pair of near-coincident
    frequencies a fraction of a hertz to a few hertz apart (the shell is never perfectly
    round), which gives the slow beating ("wah-wah").

    **Decay.** Frequency-dependent: the T60 of mode ``k`` is
    ``decay_s · (f_k / f_1)^-0.75``: the 5.2× mode dies ~3.4× faster than the
    fundamental, the top modes (50×) in a twentieth of its time.

    **Strike.** A mallet in contact for 0.6–3 ms (short for a hard, bright mallet and a
    firm strike, long for a soft one) excites the modes through its force spectrum
    ``1/(1 + (π f τ)²)``, plus a contact "tick" (a cluster of high, quickly damped
    resonances lasting a few ms).  Strikes vary in force (velocity), in where they land
    and so in their balance of modes.  A listening player strikes softer when little
    is ringing, so a strike never towers over the room (``LISTEN_CAP_DB``).

    **Rub.** A stick circling the rim builds the fundamental and low modes over
    1–2.5 s, with friction noise (narrow noise around the rubbed modes plus a faint
    scratch) that swells and fades with the rub.
    """

    FAMILY = "bowls"
    LISTEN_CAP_DB = 1.5
    RATIOS: ClassVar[tuple[float, ...]] = (1.0, 2.76, 5.20, 8.30, 12.1, 16.5)
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(196.0, 60.0, 700.0, "Hz", "fundamental of the lowest bowl"),
        "bowls": Param(3.0, 1.0, 5.0, "", "number of bowls (pentatonic steps above the first)"),
        "interval_s": Param(9.0, 2.0, 120.0, "s", "mean time between events"),
        "rub": Param(0.25, 0.0, 1.0, "", "share of events that are rubs rather than strikes"),
        "brightness": Param(0.5, 0.0, 1.0, "", "mallet hardness and strength of upper modes"),
        "decay_s": Param(30.0, 3.0, 60.0, "s", "T60 of the fundamental"),
        "spread": Param(0.6, 0.0, 1.0, "", "stereo spread of the bowls"),
    }
    _STEPS = (0, 2, 4, 7, 9)  # pentatonic semitone steps for bowls 2..5
    #: T60 of mode k is decay_s · ratio_k ** -DECAY_EXP.
    DECAY_EXP = 0.75
    MAX_MODE_HZ = 12_000.0
    warmup_s = 60.0

    def calibration_seconds(self) -> float:
        p = self.params
        return float(min(240.0, max(40.0, 6 * p["interval_s"], 3 * p["decay_s"])))

    def _mean_interval_s(self) -> float:
        return self.params["interval_s"]

    def _setup(self) -> None:
        super()._setup()
        self._rubs: list[tuple[int, int, float, float, np.ndarray]] = []

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        n_bowls = round(p["bowls"])
        bowl = int(rng.integers(0, n_bowls))
        # Each bowl of this set has its own slight detuning (fixed by the seed).
        own = make_rng(self.seed, "SingingBowl", "bowl", bowl).normal(0.0, 8.0)
        f0 = p["pitch_hz"] * 2 ** ((self._STEPS[bowl] * 100 + own + rng.normal(0, 1.5)) / 1200)
        ratios = _shell_ratios(16)
        freqs = f0 * ratios
        ok = freqs < min(self.MAX_MODE_HZ, 0.45 * self.sample_rate)
        ratios, freqs = ratios[ok], freqs[ok]
        n = len(freqs)
        bright = p["brightness"]
        rub = rng.random() < p["rub"]
        velocity = rng.uniform(0.75, 1.0) if rub else rng.uniform(0.45, 1.0)
        self._velocity = velocity
        # Contact time: hard mallet and firm strike -> short contact -> bright.
        contact = (2.2 - 1.9 * bright) * 1e-3 * (1.35 - 0.5 * velocity)
        # Where the strike lands changes the balance of modes (+-4 dB, smooth in k).
        place = rng.uniform(0.0, 2 * np.pi)
        shape_db = 4.0 * np.sin(place + 0.9 * np.arange(n)) + rng.normal(0, 1.5, n)
        coupling = ratios**-0.25 * 10 ** (shape_db / 20)
        t60 = p["decay_s"] * ratios**-self.DECAY_EXP * rng.uniform(0.85, 1.15, n)
        if rub:
            # Rubbing feeds the fundamental (and a little of the next modes) slowly.
            amps = velocity * coupling * 10 ** (-14.0 * np.arange(n) / 20)
            attack = np.full(n, rng.uniform(1.2, 2.5))
        else:
            tilt = 10 ** (-(1.0 - bright) * 1.5 * np.arange(n) / 20)
            amps = velocity * coupling * tilt * _contact(freqs, contact)
            attack = np.full(n, contact)
        beat_hz = rng.uniform(0.3, 2.5, n) * np.sqrt(ratios)
        split = rng.uniform(0.3, 0.7, n)  # how evenly each pair shares the mode
        f_pair = np.concatenate([freqs, freqs + beat_hz])
        a_pair = np.concatenate([amps * split, amps * (1 - split)])
        t_pair = np.tile(t60, 2)
        at_pair = np.tile(attack, 2)
        if not rub:
            hi = min(12_000.0, 0.42 * self.sample_rate)
            tf, tt = _ticks(rng, 14, 1500.0, hi, (0.006, 0.03))
            ta = velocity * 0.25 * _contact(tf, 0.5 * contact) * rng.uniform(0.5, 1.0, 14)
            f_pair = np.concatenate([f_pair, tf])
            a_pair = np.concatenate([a_pair, ta])
            t_pair = np.concatenate([t_pair, tt])
            at_pair = np.concatenate([at_pair, np.full(14, 0.5 * contact)])
        phases = rng.uniform(0, 2 * np.pi, len(f_pair))
        s, a = _modes(f_pair, t_pair, a_pair * 0.5, at_pair, phases)
        spread = p["spread"]
        pan = 0.0 if n_bowls == 1 else spread * (2 * bowl / (n_bowls - 1) - 1) * 0.8
        pan += rng.normal(0, 0.05)
        pan = float(np.clip(pan, -1, 1))
        if rub:
            dur = int(rng.uniform(4.0, 8.0) * self.sample_rate)
            level = 0.012 * velocity
            self._pending_rub = (dur, float(f0), level, _pan_gains(pan).astype(np.float64))
        return s, a * 0.25, pan

    def _start_voice(self, offset: int, out: np.ndarray, rng: np.random.Generator) -> None:
        self._pending_rub = None
        super()._start_voice(offset, out, rng)
        if self._pending_rub is not None:
            dur, f0, level, pan = self._pending_rub
            # The friction is as soft as the rub the player chose.
            self._rubs.append((self.frame + offset, dur, f0, level * self._scale, pan))

    def _extra(self, out: np.ndarray) -> None:
        """Friction noise of the rubs that sound in this quantum (stateless per quantum)."""
        if not self._rubs:
            return
        sr = self.sample_rate
        start, end = self.frame, self.frame + QUANTUM
        self._rubs = [r for r in self._rubs if r[0] + r[1] > start]
        grid = 32  # noise control points every 32 frames: ~700 Hz wide sidebands
        q = self.frame // QUANTUM
        pts = QUANTUM // grid
        a = make_rng(self.seed, "SingingBowl", "friction", q).standard_normal((2, pts))
        b = make_rng(self.seed, "SingingBowl", "friction", q + 1).standard_normal((2, pts))
        ctrl = np.concatenate([a, b[:, :1]], axis=1)
        x = np.arange(QUANTUM) / grid
        i0 = x.astype(np.int64)
        w = x - i0
        narrow = ctrl[0, i0] * (1 - w) + ctrl[0, i0 + 1] * w
        scratch = make_rng(self.seed, "SingingBowl", "scratch", q).standard_normal(QUANTUM)
        t = (np.arange(start, end)) / sr
        for onset, dur, f0, level, pan in self._rubs:
            k = np.arange(start, end) - onset
            if k[-1] < 0:
                continue
            ph = np.clip(k / dur, 0.0, 1.0)
            env = np.sin(np.pi * ph) ** 2 * (k >= 0)
            carrier = np.sin(2 * np.pi * f0 * t) + 0.4 * np.sin(2 * np.pi * 2.76 * f0 * t)
            y = level * env * (narrow * carrier + 0.15 * scratch)
            out += (pan[:, None] * y[None, :]).astype(np.float32)


class Gong(_Modal):
    """A gong: dense inharmonic modes, a bloom from low to high, shimmer.

    The gong's own mode ratios (1, 1.52, 2.09, then a dense log-spread set up to
    ~10 kHz) are fixed by the seed.  Every strike lands somewhere different and with its
    own force, so each excites its own subset of modes (a mode's share follows the
    strike point against the mode's shape, ``|sin(π m u + φ)|``).  The low hum speaks at
    once; higher modes build up over ``bloom_s`` (the energy cascade of a large
    tam-tam) and shimmer as they decay, each a pair of modes a fraction of a hertz
    apart.  T60 falls with frequency as ``decay_s · ratio^-0.45`` (a mode at 20× the hum dies ~4× faster).  The beater's contact adds a short
    splash of damped resonances above 4 kHz; the player strikes softer when little is
    ringing (``LISTEN_CAP_DB``), so the gong swells rather than bangs.
    """

    FAMILY = "gong"
    LISTEN_CAP_DB = 2.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(70.0, 30.0, 200.0, "Hz", "lowest mode"),
        "interval_s": Param(22.0, 6.0, 180.0, "s", "mean time between strikes"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "bloom_s": Param(2.5, 0.3, 8.0, "s", "time for the upper modes to build up"),
        "decay_s": Param(25.0, 5.0, 60.0, "s", "T60 of the lowest modes"),
    }
    N_MODES = 44
    DECAY_EXP = 0.45
    warmup_s = 60.0

    def calibration_seconds(self) -> float:
        p = self.params
        return float(min(300.0, max(60.0, 5 * p["interval_s"], 3 * p["decay_s"])))

    def _first_onset(self) -> int | None:
        return int(0.5 * self.sample_rate)

    def _mean_interval_s(self) -> float:
        return self.params["interval_s"]

    def _setup(self) -> None:
        super()._setup()
        shape = make_rng(self.seed, "Gong", "shape")
        top = 150.0
        self._ratios = np.sort(
            np.concatenate(
                [
                    [1.0, 1.52, 2.09],
                    np.exp(shape.uniform(np.log(2.3), np.log(top), self.N_MODES - 3)),
                ]
            )
        )
        # Mode shapes: how a mode responds to where the gong is struck.
        self._shape_m = shape.integers(1, 7, self.N_MODES).astype(np.float64)
        self._shape_phi = shape.uniform(0, np.pi, self.N_MODES)
        self._split = shape.uniform(0.1, 0.9, self.N_MODES)  # shimmer pair spacing, Hz

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        freqs = p["pitch_hz"] * self._ratios * (1 + rng.normal(0, 0.0008, self.N_MODES))
        ok = freqs < min(11_000.0, 0.45 * self.sample_rate)
        freqs, ratios = freqs[ok], self._ratios[ok]
        n = len(freqs)
        octave = np.log2(ratios)
        bright = p["brightness"]
        velocity = rng.uniform(0.5, 1.0)
        self._velocity = velocity
        place = rng.uniform(0.05, 0.5)
        excite = 0.12 + np.abs(np.sin(np.pi * self._shape_m[ok] * place + self._shape_phi[ok]))
        excite[:3] = np.maximum(excite[:3], 0.7)  # the hum always speaks
        tilt = (-(1.0 - bright) * 4.0 - 1.5 - 2.0 * (1.0 - velocity)) * octave
        amps = 10 ** (tilt / 20) * excite * rng.uniform(0.6, 1.0, n) * velocity
        amps /= np.sqrt(n)
        t60 = p["decay_s"] * ratios**-self.DECAY_EXP * rng.uniform(0.85, 1.15, n)
        bloom = p["bloom_s"] * rng.uniform(0.8, 1.25)
        attack = 0.03 + bloom * np.clip(octave / 4.0, 0.0, 1.0) * rng.uniform(0.6, 1.2, n)
        # Shimmer: every mode above the hum is a pair a fraction of a hertz apart.
        upper = np.arange(n) >= 3
        f_all = np.concatenate([freqs, freqs[upper] + self._split[ok][upper]])
        a_all = np.concatenate([np.where(upper, 0.6, 1.0) * amps, 0.4 * amps[upper]])
        t_all = np.concatenate([t60, t60[upper]])
        at_all = np.concatenate([attack, attack[upper]])
        # The beater's contact: a short splash of damped high resonances.
        tf, tt = _ticks(rng, 10, 4000.0, min(10_000.0, 0.42 * self.sample_rate), (0.02, 0.12))
        ta = 2.5 * velocity * _contact(tf, 0.0003) * rng.uniform(0.5, 1.0, 10) * amps[0]
        f_all = np.concatenate([f_all, tf])
        a_all = np.concatenate([a_all, ta])
        t_all = np.concatenate([t_all, tt])
        at_all = np.concatenate([at_all, np.full(10, 0.004)])
        s, a = _modes(f_all, t_all, a_all, at_all, rng.uniform(0, 2 * np.pi, len(f_all)))
        return s, a * 0.6, float(rng.normal(0.0, 0.1))


class Chimes(_Modal):
    """Wind chimes: tuned metal tubes struck by a clapper in gusts.

    Tubes ring at the free-free bar modes (1, 2.757, 5.404, 8.933, 13.34 ×
    fundamental, up to 14 kHz) tuned to a pentatonic set; the T60 of mode ``k`` is
    ``decay_s · ratio^-1.2`` (the second mode dies 3.4× faster than the first).  A hard clapper (0.3–0.5 ms contact) strikes with a force
    that follows the wind: strikes cluster in gusts (a smooth random rate, stateless in
    time) and are firmer and brighter at a gust's peak, glancing and soft in a lull.
    """

    FAMILY = "chimes"
    RATIOS: ClassVar[tuple[float, ...]] = (1.0, 2.757, 5.404, 8.933, 13.344)
    SEGMENT_S = 0.1
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(880.0, 300.0, 2500.0, "Hz", "lowest tube"),
        "rate_per_min": Param(12.0, 1.0, 60.0, "1/min", "mean strikes per minute"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "decay_s": Param(6.0, 1.0, 15.0, "s", "T60 of the fundamental"),
    }
    _STEPS = (0, 2, 4, 7, 9, 12, 14)
    _GUST_S = 4.0
    DECAY_EXP = 1.2
    warmup_s = 20.0

    def calibration_seconds(self) -> float:
        return float(min(240.0, max(40.0, 600.0 / self.params["rate_per_min"])))

    def _mean_interval_s(self) -> float:
        return 60.0 / self.params["rate_per_min"]

    def _gust(self, t_s: float) -> float:
        """Wind strength 0–1 at ``t_s``: smooth interpolation of per-knot random values."""
        k = int(t_s // self._GUST_S)
        w = t_s / self._GUST_S - k
        w = w * w * (3 - 2 * w)
        a = float(self._uniforms("gust", k, 1)[0])
        b = float(self._uniforms("gust", k + 1, 1)[0])
        return float(a + (b - a) * w)

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        """Strikes: each 0.1 s segment may hold one, more likely in a gust.

        Segment ``j`` strikes with probability ``rate · SEGMENT_S · (1/4 + 3 g³)`` (``g``
        the gust strength, uniform 0–1, so the mean rate is ``rate_per_min``), drawn
        from ``make_rng(seed, "Chimes", "segs", j // 64)``: stateless in time.  A first
        strike comes at 0.3 s, as the breeze is first heard.
        """
        sr = self.sample_rate
        seg = self.SEGMENT_S * sr
        p_mean = self.params["rate_per_min"] / 60.0 * self.SEGMENT_S
        out = []
        first = self._first_onset()
        if first is not None and start <= first < end:
            out.append((first, make_rng(self.seed, "Chimes", "event", -1)))
        for j in range(int(start // seg), int(end // seg) + 1):
            # 64 segments share one generator (block-keyed: still stateless in time).
            u, pos = self._uniforms("segs", j // 64, 128)[2 * (j % 64) : 2 * (j % 64) + 2]
            t = j * self.SEGMENT_S
            p = min(0.9, p_mean * (0.25 + 3.0 * self._gust(t) ** 3))
            onset = int((j + pos) * seg)
            if u < p and start <= onset < end:
                out.append((onset, make_rng(self.seed, "Chimes", "event", j)))
        return out

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        tube = int(rng.integers(0, len(self._STEPS)))
        f0 = p["pitch_hz"] * 2 ** (self._STEPS[tube] / 12)
        ratios = np.asarray(self.RATIOS)
        freqs = f0 * ratios
        ok = freqs < min(14_000.0, 0.45 * self.sample_rate)
        freqs, ratios = freqs[ok], ratios[ok]
        n = len(freqs)
        gust = self._gust(self.frame / self.sample_rate)  # the wind at this quantum
        velocity = float(np.clip(0.25 + 0.6 * gust + rng.normal(0, 0.12), 0.15, 1.0))
        self._velocity = velocity
        contact = (0.5 - 0.2 * p["brightness"]) * 1e-3 * (1.3 - 0.4 * velocity)
        amps = velocity * ratios**-0.4 * _contact(freqs, contact)
        amps *= 10 ** ((-(1.0 - p["brightness"]) * 8.0 * np.arange(n) + rng.normal(0, 2, n)) / 20)
        t60 = p["decay_s"] * ratios**-self.DECAY_EXP * rng.uniform(0.9, 1.1, n)
        attack = np.full(n, contact)
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

    warmup_s = 60.0

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

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        step = max(1, round(self.params["interval_s"] * self.sample_rate))
        first = -(-start // step) * step
        if first >= end:
            return []
        rng = make_rng(self.seed, "ModalStrikes")
        return [(k, rng) for k in range(first, end, step)]

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
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
