"""Modal sources: singing bowls, gongs and chimes.

A struck or rubbed metal object rings at a set of inharmonic *modes*.  Each mode is a
damped complex exponential ``A · exp((-1/τ + 2πjf) t)``; an attack that is not an
instant click is the difference of two such exponentials (a fast or slow one subtracted
from the decaying one), so every voice is a sum of damped complex exponentials.

Rendering uses one short table ``G[m, k] = exp(s_m k / sr)``, ``k <`` :data:`_CHUNK`,
per voice and the phasor ``exp(s_m c _CHUNK / sr)`` at the start of each chunk ``c`` of
a quantum (both computed once at the onset); per quantum, the phasors ``z`` times those
chunk starts give one real matrix product ``(2 chunks, 2 m) @ (2 m, _CHUNK)`` whose
rows are the chunks of both channels, followed by ``z *= exp(s QUANTUM / sr)`` — no
per-sample Python, no transcendental functions per sample.  (A table over the whole
quantum, as before, was 32 KB per mode: a gong's hundreds of modes made every quantum
a memory-bound pass over megabytes, and the table's build and pruning copies cost as
much again.)
Modes whose amplitude has fallen 80 dB below the voice's peak fade out over one
quantum and are dropped.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Source, make_rng
from sonora.engine.design import k_weighting_sos, sos_response

_PRUNE = 1e-4  # fade out and drop modes 80 dB below the voice's initial amplitude


#: Frames per chunk of the modal renderer (a quantum is :data:`_CHUNKS` of them).
_CHUNK = 256
_CHUNKS = QUANTUM // _CHUNK


def _table(s: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables of the modes with complex exponents ``s`` (1/s), ``m = len(s)``.

    Returns
    -------
    tab : numpy.ndarray
        ``exp(s k / sr)`` for ``k < _CHUNK`` as float32 ``(2 m, _CHUNK)``: imaginary
        parts stacked over real parts, so ``Im(z · G) = Re(z) Im(G) + Im(z) Re(G)`` is
        one real matrix product.  Built by repeated doubling (8 vector multiplies) in
        complex128, accurate to ~1e-15 before the cast.
    starts : numpy.ndarray
        complex128 ``(m, _CHUNKS)``: ``exp(s c _CHUNK / sr)``, the phasor at the start
        of chunk ``c`` of a quantum relative to the quantum's first frame.
    step : numpy.ndarray
        complex128 ``(m,)``: ``exp(s QUANTUM / sr)``.
    """
    g = np.exp(s / sample_rate)
    full = np.empty((len(s), _CHUNK), dtype=np.complex128)
    full[:, 0] = 1.0
    n = 1
    power = g
    while n < _CHUNK:
        full[:, n : 2 * n] = full[:, :n] * power[:, None]
        power = power * power
        n *= 2
    starts = np.exp(np.multiply.outer(s, np.arange(_CHUNKS) * (_CHUNK / sample_rate)))
    step = np.exp(s * (QUANTUM / sample_rate))
    return np.concatenate([full.imag, full.real]).astype(np.float32), starts, step


def _render(
    z: np.ndarray,
    pan: np.ndarray,
    tab: np.ndarray,
    starts: np.ndarray,
    gains: np.ndarray | None = None,
) -> np.ndarray:
    """One quantum of modes: ``Im(pan_m z_m exp(s_m t))`` summed over ``m``.

    Parameters
    ----------
    z : numpy.ndarray
        complex128 ``(m,)``: each mode's phasor at the quantum's first frame.
    pan : numpy.ndarray
        float64 ``(m, 2)`` per-mode left/right gains, or ``(2,)`` for all.
    tab, starts : numpy.ndarray
        The modes' tables (:func:`_table`); a chunk whose ``starts`` column is zero is
        silent.
    gains : numpy.ndarray, optional
        :func:`_row_gains` of ``pan``, if the caller keeps it (it changes only with the
        set of modes).

    Returns
    -------
    numpy.ndarray
        float32 ``(2, QUANTUM)``.
    """
    m = len(z)
    p = starts.T * z  # (chunks, m): the phasor at each chunk's first frame
    a = np.empty((_CHUNKS, 2 * m))  # (chunks, 2 m): real parts, then imaginary parts
    a[:, :m], a[:, m:] = p.real, p.imag
    if gains is None:
        gains = _row_gains(pan)
    # Both channels' rows: float64 products, each rounded once to float32 as written.
    rows = np.empty((2, _CHUNKS, 2 * m), dtype=np.float32)
    np.multiply(a, gains[:, None, :], out=rows, casting="unsafe")
    out = rows.reshape(2 * _CHUNKS, 2 * m) @ tab  # (2 chunks, _CHUNK)
    return out.reshape(2, QUANTUM)


def _row_gains(pan: np.ndarray) -> np.ndarray:
    """Each product row's channel gains: float64 ``(2, 2 m)`` from ``(m, 2)`` gains
    (real-part columns, then imaginary-part columns), or ``(2, 1)`` from ``(2,)``."""
    return np.tile(pan.T, 2) if pan.ndim == 2 else pan[:, None]


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
    ``(2 chunks, 2 modes) @ (2 modes, _CHUNK)`` product whatever the number of voices.

    Event times sit on a jittered grid: slot ``j`` of length ``L`` (the mean interval,
    rounded to a 1/12-octave step so that slowly automated rates move the grid only
    now and then) holds one event at ``(j + 1/2 + JITTER·(u_j − 1/2))·L`` with ``u_j``
    from ``make_rng(seed, key, "slot", j)``; all detail of the event (which bowl, how
    hard, where struck) comes from ``make_rng(seed, key, "event", j)``.  So what plays at
    any moment depends only on the seed, the parameters and the events of the last ring
    time, never on a random stream running from time zero: starting a render
    ``warmup_s`` before any offset reproduces the sound there (to within the -60 dB
    tail of older strikes).  The opening event comes at ``_first_onset``.

    When the rate is automated and ``L`` steps, the grid's phase stays continuous
    (:meth:`_slots`): each slot starts where the last one ended, its length taken at
    that moment, so a step changes only the spacing from then on (jumping to the new
    grid ``j·L`` moved onsets by up to a slot: a 13.6 s gap in the sleep bowls plan,
    docs/sound.md round 11).  The slots then lean back onto the absolute grid of the
    new ``L``, each at most :attr:`LEAN_SHORT` of a slot shorter or
    :attr:`LEAN_LONG` longer, and once on it they are exactly ``j·L`` again: a seek
    (which starts on that grid) meets the continuous render there, at most
    :meth:`lean_slots` slots after the step.
    """

    channels = 2
    _PRUNE_EVERY = 8  # quanta between dropping inaudible modes
    #: A listening player (``None``: none): the source's loudness-weighted power,
    #: predicted over the seconds after a new event (what rings, decaying or still
    #: building, plus the event), may exceed the mean of its own last 10 s plus the
    #: room level by at most this many dB -- the no-startle rule kept at the source.
    LISTEN_RISE_DB: ClassVar[float | None] = None
    #: The room level: what the player assumes lies under its instrument (a bed, the
    #: room), dB re the source's natural mean power (:meth:`_natural_power`).  It is
    #: absolute, so a quiet stretch never pushes strikes towards silence.
    ROOM_DB: ClassVar[float] = -10.0
    #: Seconds over which the room level rises by 20 dB at the start (a soft opening).
    OPENING_S: ClassVar[float] = 30.0
    #: Seconds ahead the player looks when it sizes an event (a rub builds for up to
    #: 2.5 s, a gong blooms for several).
    LISTEN_AHEAD_S: ClassVar[float] = 4.0
    #: The momentary-loudness window the player judges by, s.
    WINDOW_S: ClassVar[float] = 0.4
    #: Modes closer than this (Hz) may meet in phase within a momentary-loudness window.
    BEAT_HZ: ClassVar[float] = 3.0
    #: Sides whose ringing differs by at most this share of the total count as level,
    #: and the event's own generator picks the side.  The rule is mirror-symmetric, so
    #: without such ties a render started mid-session (a seek) could keep choosing the
    #: mirror image of the continuous render's sides for ever.
    SIDE_TIE: ClassVar[float] = 0.1
    #: Spread of an event within its slot (0 = a metronome, 1 = anywhere in the slot).
    JITTER: ClassVar[float] = 0.7
    #: After a step of the slot length, how much (share of a slot) each slot may be
    #: shortened, or lengthened, to lean back onto the grid ``j·L`` (:meth:`_slots`).
    #: Lengthening is kept small, as a long gap is what startles (the player sizes a
    #: strike by the last 10 s): slots lengthen only to reach a grid point less than
    #: ``LEAN_LONG / (LEAN_SHORT + LEAN_LONG)`` of a slot ahead, and shorten otherwise.
    LEAN_SHORT: ClassVar[float] = 0.2
    LEAN_LONG: ClassVar[float] = 0.05
    #: Seconds of earlier audio needed to reproduce the output at any offset (the ring
    #: time of the longest-lived modes); read by the seek code.
    warmup_s: ClassVar[float] = 60.0

    def _setup(self) -> None:
        self._key = type(self).__name__
        # Every sounding mode's table, Im(G) rows over Re(G) rows (2 m, _CHUNK): kept
        # stacked so a quantum's product needs no copy of it (megabytes for a gong).
        self._tab = np.zeros((0, _CHUNK), dtype=np.float32)
        self._starts = np.zeros((0, _CHUNKS), dtype=np.complex128)
        self._z = np.zeros(0, dtype=np.complex128)
        self._step = np.zeros(0, dtype=np.complex128)
        self._pan = np.zeros((0, 2), dtype=np.float64)
        self._floor = np.zeros(0, dtype=np.float64)
        self._ringing = np.zeros(0, dtype=bool)  # decay (not attack) components
        self._freq = np.zeros(0, dtype=np.float64)
        self._count = 0
        self._dying: np.ndarray | None = None  # modes fading out during the next quantum
        # (freq array, pan array, their grouping): see _grouping.
        self._groups: tuple[np.ndarray, np.ndarray, tuple] | None = None
        # (pan array, its _row_gains): kept while the set of modes is (see _gains).
        self._gains_of: tuple[np.ndarray, np.ndarray] | None = None
        self._last_onset = -(1 << 40)
        self._slot_of = (-1.0, 1.0)  # (mean interval, slot length), s: see _slot_s
        # The slot that started last: (index j, offset e in slots, length L in frames);
        # it starts at (j + e)·L and lasts (1 - clamp(e))·L.  None: not yet placed (a
        # fresh start or a seek places it on the grid j·L at the first quantum).
        self._grid: tuple[int, float, float] | None = None
        self._velocity = 1.0  # force of the event being made (set by _make_modes)
        self._cache: dict[tuple[str, int], np.ndarray] = {}  # per-slot uniforms
        # The player's memory: K-weighted power of every quantum of the last 10 s.
        self._hist = np.zeros(max(1, round(10.0 * self.sample_rate / QUANTUM)))
        self._scale = 1.0
        self._natural: tuple[tuple, float] | None = None
        #: Onset frame of the event being made (``None`` while sampling the natural
        #: power, which must not depend on when it is asked for).
        self._event_frame: int | None = None

    # -- scheduling --------------------------------------------------------------------
    def _first_onset(self) -> int | None:
        """Frame of the opening event (a player starts at once), or ``None``."""
        return int(0.3 * self.sample_rate)

    def _mean_interval_s(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _slot_s(self) -> float:
        """Slot length: the mean interval rounded to a 1/12-octave step, s."""
        mean = max(self._mean_interval_s(), 0.05)
        if self._slot_of[0] != mean:  # computed again only when the mean changes
            self._slot_of = (mean, float(2.0 ** (round(12 * np.log2(mean)) / 12)))
        return self._slot_of[1]

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

    def _lean(self, e: float) -> float:
        """Share of a slot by which a slot ``e`` slots past its grid point is shortened
        (negative: lengthened)."""
        return min(max(e, -self.LEAN_LONG), self.LEAN_SHORT)

    @classmethod
    def lean_slots(cls) -> int:
        """Most slots after a step of the slot length before the slots are on the new
        grid ``j·L`` again (a seek meets the continuous render from there)."""
        split = cls.LEAN_SHORT / (cls.LEAN_SHORT + cls.LEAN_LONG)
        return int(np.ceil(max(split / cls.LEAN_SHORT, (1.0 - split) / cls.LEAN_LONG)))

    def _slots(self, start: int, end: int) -> list[tuple[int, float, float]]:
        """Slots that may hold an onset in ``[start, end)``: ``(j, e, L)`` each.

        Slot ``j`` starts at ``(j + e)·L`` frames (``e`` slots past the grid point
        ``j·L``) and lasts ``(1 - c)·L``, ``c`` being ``e`` clamped to
        ``[-LEAN_LONG, LEAN_SHORT]``.  The next slot starts where it ends, with the slot
        length ``L'`` of the quantum in which it starts: at the same ``L`` it is slot
        ``j + 1`` at ``e - c`` (exactly 0 once back on the grid: then the slots and
        onsets are the grid ``j·L``'s); at a new ``L'`` it takes the grid point of
        ``L'`` at or before its start, or the next one if that is less than
        ``LEAN_LONG / (LEAN_SHORT + LEAN_LONG)`` of a slot ahead.  A fresh state (the
        start, a seek) is placed on the grid at ``start``.  Slots advance only up to
        ``end``, quantum by quantum, so the schedule depends on the quanta rendered,
        never on the caller's block sizes.

        Parameters
        ----------
        start, end : int
            The quantum's first frame and the frame after its last.

        Returns
        -------
        list of tuple
            ``(j, e, L)``: slot index (int, keys its random draws), offset (slots,
            float) and slot length (frames, float), the slot that started last
            before ``start`` first.
        """
        slot = self._slot_s() * self.sample_rate
        grid = self._grid
        if grid is None:
            grid = (max(0, int(start // slot) - 1), 0.0, slot)
        out = [grid]
        split = self.LEAN_SHORT / (self.LEAN_SHORT + self.LEAN_LONG)
        while True:
            j, e, length = grid
            c = self._lean(e)
            nxt = (j + e + 1.0 - c) * length  # where this slot ends, frames
            if nxt >= end:
                break
            if slot == length:
                j, e = j + 1, e - c
            else:
                pos = nxt / slot
                j = int(np.floor(pos))
                e = pos - j
                if e > split:
                    j, e = j + 1, e - 1.0
            grid = (j, e if abs(e) > 1e-9 else 0.0, slot)
            out.append(grid)
        self._grid = grid
        return out

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        """Events with onset frames in ``[start, end)``, each with its own generator."""
        out = []
        first = self._first_onset()
        if first is not None and start <= first < end:
            out.append((first, make_rng(self.seed, self._key, "event", -1)))
        half_j = 0.5 * self.JITTER
        for j, e, slot in self._slots(start, end):
            u = self._uniforms("slot", j, 1)[0]
            if e == 0.0:  # on the grid j·L: exactly the grid's onset
                onset = int((j + 0.5 + self.JITTER * (u - 0.5)) * slot)
            else:
                span = 1.0 - self._lean(e)
                onset = int((j + e + span * (0.5 + self.JITTER * (u - 0.5))) * slot)
            if not start <= onset < end:
                continue
            if first is not None and onset < first + (1.0 - half_j) * slot:
                continue  # the opening event stands in for the first slot
            if onset - self._last_onset < (1.0 - self.JITTER) * (1.0 - self.LEAN_SHORT) * slot - 1:
                continue  # never two at once (after a seek, the grid may have moved)
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
        self._event_frame = self.frame + offset
        s, amp, pan = self._make_modes(rng)
        self._scale = 1.0  # what the listening player did to this event
        if self.LISTEN_RISE_DB is not None:
            self._scale = self._listen(s, amp, offset)
            amp = amp * self._scale
        tab, starts, step = _table(s, self.sample_rate)
        pan_g = _pan_gains(pan).astype(np.float64)
        n = QUANTUM - offset
        m = len(s)
        z = amp.astype(np.complex128)
        # This quantum from the onset on: the phasors at the chunk starts relative to
        # the onset (the onset's own chunk starts up to _CHUNK - 1 frames before it, a
        # little growth, and is used from the onset on; earlier chunks are silent).
        first = offset // _CHUNK
        rel = (np.arange(first, _CHUNKS) * _CHUNK - offset) / self.sample_rate
        here = np.zeros((m, _CHUNKS), dtype=np.complex128)
        here[:, first:] = np.exp(np.multiply.outer(s, rel))
        out[:, offset:] += _render(z, pan_g, tab, here)[:, offset:]
        # state at the start of the next quantum: z * exp(s n / sr)
        z = z * np.exp(s * (n / self.sample_rate))
        old = len(self._z)
        self._tab = np.concatenate([self._tab[:old], tab[:m], self._tab[old:], tab[m:]])
        self._starts = np.concatenate([self._starts, starts])
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

    def _listen(self, s: np.ndarray, amp: np.ndarray, offset: int) -> float:
        """Amplitude scale (0-1) of a new event so that it does not startle.

        The player predicts, on a grid of quanta over the next ``LISTEN_AHEAD_S``, the
        K-weighted power of what rings (each mode's actual phasor: decaying, or still
        building) and of the new event, and the mean power of its own last 10 s at
        each of those moments (its memory, then the prediction of what rings).  The
        event is scaled so that at no moment ``ringing + event`` exceeds
        ``LISTEN_RISE_DB`` over ``mean + room``; the room level is ``ROOM_DB`` under the
        source's natural mean power (``OPENING_S`` ramps it up at the start, a
        function of time: seek-safe).  Each window's power is integrated per mode (a
        contact transient lasts milliseconds); modes at one frequency add as phasors,
        modes within ``BEAT_HZ`` in amplitude (they may meet in phase in a window).  Comparing with the recent mean rather than
        with what rings this instant keeps two events in quick succession, or a rub
        that builds for seconds, from stacking above what the listener has heard.
        """
        sr = self.sample_rate
        q_s = QUANTUM / sr
        k = max(2, int(np.ceil(self.LISTEN_AHEAD_S / q_s)) + 1)
        steps = np.arange(k) * QUANTUM  # frames after the onset, a quantum apart
        t = steps / sr
        half = len(s) // 2
        win = self.WINDOW_S
        # The event alone, as heard in a momentary-loudness window starting at each
        # moment: each mode is a decaying minus a rising exponential, whose power
        # ``|A|² (e^{-2dt} - 2 e^{-(d+r)t} + e^{-2rt})`` is integrated over the window
        # (a strike's contact transient lasts milliseconds: sampling it on the
        # quantum grid would miss it).  Its phase is taken at the window's centre.
        d = -s[:half].real[:, None]
        r = -s[half:].real[:, None]

        def integral(lam: np.ndarray) -> np.ndarray:
            return (np.exp(-lam * t) - np.exp(-lam * (t + win))) / lam

        mean_pow = integral(2 * d) - 2 * integral(d + r) + integral(2 * r)
        mean_pow *= np.abs(amp[:half, None]) ** 2 / win
        centre = t + 0.5 * win
        ev = np.sqrt(np.maximum(mean_pow, 0.0)) * np.exp(
            1j * (np.angle(amp[:half])[:, None] + np.multiply.outer(s[:half].imag, centre))
        )
        ev_f = np.abs(s[:half].imag) / (2 * np.pi)
        e_actual = _weight(ev_f) @ np.maximum(mean_pow, 0.0)
        peak = float(e_actual.max())
        if peak <= 0.0:
            return 1.0
        # What rings, and the event, summed per frequency: a building mode is two
        # components, and a strike on a mode that still rings adds to it (in or out of
        # phase, as it falls).
        n_r = len(self._z)
        f_all = np.concatenate([self._freq, ev_f])
        # On a 0.1 Hz grid: a bowl whose pitch drifted a fraction of a cent since it
        # was last struck still adds to the mode that rings (over the 4 s ahead the
        # phases part by at most 0.2 cycle).
        freq, inv = np.unique(np.round(f_all, 1), return_inverse=True)
        ring_c = np.zeros((len(freq), k), dtype=np.complex128)
        if n_r:
            # Per frame: the decay from the step, the phase from the frequency (the
            # step's angle is wrapped, and the event's phases are exact).
            rate = np.log(np.abs(self._step)) / QUANTUM + 2j * np.pi * self._freq / sr
            # self._z holds the state at the start of the next quantum.
            at = steps + int(0.5 * win * sr) - (QUANTUM - offset)
            zt = self._z[:, None] * np.exp(np.multiply.outer(rate, at))
            np.add.at(ring_c, inv[:n_r], zt)
        ev_c = np.zeros((len(freq), k), dtype=np.complex128)
        np.add.at(ev_c, inv[n_r:], ev)
        w_f = _weight(freq)
        ring_actual = w_f @ (ring_c.real**2 + ring_c.imag**2)
        # Modes a few hertz apart (a beating pair) may meet in phase inside a 400 ms
        # window: within such a cluster the player counts amplitudes, not powers.
        group = np.concatenate([[0], np.cumsum(np.diff(freq) > self.BEAT_HZ)])
        starts = np.flatnonzero(np.diff(np.concatenate([[-1], group])))
        w_g = w_f[starts]
        # Mean of the last 10 s at each moment: memory, then what rings meanwhile.
        h = self._hist
        n_h = len(h)
        past = np.concatenate([h, ring_actual[:-1]])
        csum = np.concatenate([[0.0], np.cumsum(past)])
        idx = np.arange(k)
        mean = (csum[n_h + idx] - csum[idx]) / n_h
        now_s = (self.frame + offset) / sr
        opening_s = self._opening_s()
        opening_db = -20.0 * max(0.0, 1.0 - now_s / opening_s) if opening_s > 0 else 0.0
        room = 10 ** ((self.ROOM_DB + opening_db) / 10) * self._natural_power()
        allowed = 10 ** (self.LISTEN_RISE_DB / 10) * (mean + room)
        live = np.abs(ev_c).max(axis=0) > 1e-4 * np.abs(ev_c).max()
        # The largest scale on a geometric grid (1, 0.79, ... -60 dB, 0) that keeps
        # the predicted power within what is allowed at every moment the event sounds.
        cand = np.concatenate([10 ** (-np.arange(0, 61, 2) / 20), [0.0]])
        ring_c, ev_c, allowed = ring_c[:, live], ev_c[:, live], allowed[live]
        # Where what rings is already above that (it is building), the event may not
        # add to it.
        allowed = np.maximum(allowed, w_g @ np.add.reduceat(np.abs(ring_c), starts, axis=0) ** 2)
        for c in cand:
            mag = np.abs(ring_c + c * ev_c)
            power = w_g @ np.add.reduceat(mag, starts, axis=0) ** 2
            if np.all(power <= allowed):
                return float(c)
        return 0.0

    def _opening_s(self) -> float:
        """Seconds over which the room level rises by 20 dB at the start (> 0)."""
        return self.OPENING_S

    def _natural_power(self) -> float:
        """Mean K-weighted power the player would keep up unlimited (phasor units).

        The energy of 16 sample events (drawn from their own generators, at this
        moment's parameters) over the mean interval: an absolute reference for the
        room level, the same whatever has been played (no drift, seek-safe).
        """
        key = (self._mean_interval_s(), *sorted(self.params.items()))
        if self._natural is not None and self._natural[0] == key:
            return self._natural[1]
        saved = self.__dict__.copy()
        self.frame = 0  # as at the start: a source that drifts with time draws alike
        self._event_frame = None  # an ordinary event, not an opening's
        energy = 0.0
        for i in range(16):
            s, amp, _ = self._make_modes(make_rng(self.seed, self._key, "natural", i))
            half = len(s) // 2
            d, r = -s[:half].real, -s[half:].real
            w = np.abs(amp[:half]) ** 2 * _weight(np.abs(s[:half].imag) / (2 * np.pi))
            energy += float(w @ (1 / (2 * d) - 2 / (d + r) + 1 / (2 * r)))
        self.__dict__.update(saved)
        value = energy / 16 / self._mean_interval_s()
        self._natural = (key, value)
        return value

    def _remember(self) -> None:
        """Store this quantum's K-weighted power in the player's 10 s memory."""
        if self.LISTEN_RISE_DB is None:
            return
        h = self._hist
        h[:-1] = h[1:]
        h[-1] = self._ringing_power() if len(self._z) else 0.0

    def _sounding(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What rings now: ``(freq_hz, phasor, pan gains (m, 2))`` per sounding mode.

        A mode with an attack is stored as a decaying and a rising component at the same
        frequency; their sum is the mode's actual phasor.  Summing only the decaying
        halves (as an earlier version did) counted a rub that had barely begun at its
        full size, so a strike soon after it was let through too loud.
        """
        if not len(self._z):
            return self._freq, self._z, self._pan
        freq, inv, pan, _ = self._grouping()
        z = np.zeros(len(freq), dtype=np.complex128)
        np.add.at(z, inv, self._z)
        return freq, z, pan

    def _grouping(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The sounding modes grouped by frequency, kept while the set of modes is.

        Returns
        -------
        tuple of numpy.ndarray
            ``(freq_hz, inverse, pan, weight)``: the distinct frequencies (float64,
            ascending), each mode's index among them (int), the pan gains ``(f, 2)`` of
            each frequency's first mode and the K-weighting of each frequency (float64).
            Recomputed only when :attr:`_freq` or :attr:`_pan` is a new array (every
            change of the set of modes makes new ones; they are never changed in place),
            not every quantum.
        """
        cached = self._groups
        if cached is not None and cached[0] is self._freq and cached[1] is self._pan:
            return cached[2]
        freq, first, inv = np.unique(self._freq, return_index=True, return_inverse=True)
        groups = (freq, inv, self._pan[first], _weight(freq))
        self._groups = (self._freq, self._pan, groups)
        return groups

    def _gains(self) -> np.ndarray:
        """:func:`_row_gains` of :attr:`_pan`, made again only when the set of modes
        changes (every change makes a new :attr:`_pan` array; it is never changed in
        place), not every quantum."""
        cached = self._gains_of
        if cached is None or cached[0] is not self._pan:
            cached = (self._pan, _row_gains(self._pan))
            self._gains_of = cached
        return cached[1]

    def _ringing_power(self, *, building: bool = False) -> float:
        """K-weighted power of what rings now (the guard's weighting), phasor units.

        With ``building``, modes still in their attack count at the size they are
        heading for (their decaying component alone), not at their present size.
        """
        if building:
            r = self._ringing
            z, freq = self._z[r], self._freq[r]
            return float(np.sum((z.real**2 + z.imag**2) * _weight(freq)))
        if not len(self._z):
            return 0.0
        _, inv, _, weight = self._grouping()
        z = np.zeros(len(weight), dtype=np.complex128)
        np.add.at(z, inv, self._z)
        return float(np.sum((z.real**2 + z.imag**2) * weight))

    def _side_power(self) -> np.ndarray:
        """Energy still to come from what rings, left and right, float64 ``(2,)``.

        Each mode counts as ``|z|² / decay`` (its power integrated over the rest of its
        ring), so a bright strike whose upper modes die in a second weighs less than a
        fundamental that rings for forty: the balance heard over minutes.
        """
        r = self._ringing
        if not np.any(r):
            return np.zeros(2)
        z, step, pan = self._z[r], self._step[r], self._pan[r]
        decay = np.maximum(-np.log(np.maximum(np.abs(step), 1e-300)), 1e-9)
        return ((z.real**2 + z.imag**2) / decay) @ (pan**2)

    def _on_quieter_side(self, depth: float, rng: np.random.Generator) -> float:
        """Pan ``depth`` (0-1) from the centre, on the side where less still rings.

        Left and right stay balanced by construction: a fixed or freely random pan let
        a few loud strikes tilt a scene by 0.4-0.9 dB over minutes.  The side follows
        from what rings (:meth:`_side_power`), which a seek reproduces after
        ``warmup_s``; a tie is broken by ``rng``.
        """
        side_power = self._side_power()
        if abs(side_power[0] - side_power[1]) <= self.SIDE_TIE * (side_power[0] + side_power[1]):
            side = 1.0 if rng.random() < 0.5 else -1.0
        else:
            side = 1.0 if side_power[0] > side_power[1] else -1.0
        return float(np.clip(side * depth, -1.0, 1.0))

    def _extra(self, out: np.ndarray) -> None:
        """Add non-modal sound (friction noise) to ``out`` in place; default none."""

    def _quantum(self) -> np.ndarray:
        out = np.zeros((2, QUANTUM), dtype=np.float32)
        if len(self._z):
            out += _render(self._z, self._pan, self._tab, self._starts, self._gains())
            dying = self._dying
            if dying is not None:
                # Modes chosen for removal fade out over this quantum: no step.
                d = dying
                fading = _render(
                    self._z[d], self._pan[d], self._tab[np.concatenate([d, d])], self._starts[d]
                )
                out -= fading * _fade_out_ramp()
            self._z = self._z * self._step
            if dying is not None:
                self._drop(~dying)
                self._dying = None
        for onset, rng in self._onsets(self.frame, self.frame + QUANTUM):
            self._start_voice(onset - self.frame, out, rng)
        self._extra(out)
        self._remember()
        self._count += 1
        if self._count % self._PRUNE_EVERY == 0 and len(self._z):
            quiet = np.abs(self._z) <= self._floor
            if np.any(quiet):
                self._dying = quiet
        return out

    def _drop(self, keep: np.ndarray) -> None:
        self._tab = self._tab[np.concatenate([keep, keep])]
        self._starts = self._starts[keep]
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
