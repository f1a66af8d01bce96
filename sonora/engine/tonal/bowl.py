"""Singing bowls, struck and rubbed (see :class:`SingingBowl`)."""

from __future__ import annotations

from functools import cache
from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, make_rng
from sonora.engine.tonal.modal import (
    _contact,
    _Modal,
    _modes,
    _pan_gains,
    _ticks,
)


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
    is ringing, so a strike never towers over the room (``LISTEN_RISE_DB``).

    **Rub.** A stick circling the rim builds the fundamental and low modes over
    1–2.5 s, with friction noise (narrow noise around the rubbed modes plus a faint
    scratch) that swells and fades with the rub.
    """

    FAMILY = "bowls"
    LISTEN_RISE_DB = 3.5
    RATIOS: ClassVar[tuple[float, ...]] = (1.0, 2.76, 5.20, 8.30, 12.1, 16.5)
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(196.0, 60.0, 700.0, "Hz", "fundamental of the lowest bowl"),
        "bowls": Param(3.0, 1.0, 5.0, "", "number of bowls (pentatonic steps above the first)"),
        "interval_s": Param(9.0, 2.0, 120.0, "s", "mean time between events"),
        "rub": Param(0.25, 0.0, 1.0, "", "share of events that are rubs rather than strikes"),
        "brightness": Param(0.5, 0.0, 1.0, "", "mallet hardness and strength of upper modes"),
        "decay_s": Param(30.0, 3.0, 60.0, "s", "T60 of the fundamental"),
        "spread": Param(0.6, 0.0, 1.0, "", "stereo spread of the bowls"),
        "opening_s": Param(
            30.0,
            0.0,
            60.0,
            "s",
            "seconds the player takes to bring the bowls in over a bed (0: the bowls are"
            " the bed, at their level from the first rub)",
        ),
    }
    _STEPS = (0, 2, 4, 7, 9)  # pentatonic semitone steps for bowls 2..5
    #: T60 of mode k is decay_s · ratio_k ** -DECAY_EXP.
    DECAY_EXP = 0.75
    MAX_MODE_HZ = 12_000.0
    #: Brightness under which strikes use a soft mallet, and its extra roll-off (dB per
    #: mode index per unit of brightness below it).  Built-in scenes sit above it.
    SOFT_BELOW = 0.35
    SOFT_MALLET_DB = 40.0
    #: How strongly a soft stick favours the lower bowls (per unit below SOFT_BELOW).
    SOFT_LOW_BOWLS = 12.0
    #: Slow random pitch drift of each bowl: SD (cents) and knot spacing (s).
    DRIFT_CENTS = 1.0
    DRIFT_KNOT_S = 30.0
    warmup_s = 60.0
    #: With ``opening_s`` 0 (bowls alone, their own bed), every event of the first
    #: :attr:`RUB_OPENING_S` seconds is a rub: it builds over 1.2-2.5 s instead of
    #: striking into the quiet of a fade-in.
    RUB_OPENING_S = 15.0
    #: With ``opening_s`` 0, the opening rub sings alone for this long (s): the 8 s
    #: fade-in of scenes and plans.  Rubs at full size while the session still faded
    #: in rose over what the listener had heard (the guard cut up to 7.8 dB at 4-12 s
    #: of an unwind plan, seed 1).
    ALONE_S = 8.0
    #: Roll-off of a rub's modes, dB per mode index (the fundamental leads).
    RUB_TILT_DB = 14.0
    #: In the opening of bowls alone, the rub's roll-off falls by this much (dB per
    #: mode) per unit of brightness above 0.5 (:meth:`_rub_tilt_db`).
    OPENING_RUB_DB_PER_BRIGHT = 24.0
    #: ... and its scratch grows by this share per unit of brightness above 0.5.
    OPENING_EDGE = 1.5

    def calibration_seconds(self) -> float:
        p = self.params
        return float(min(240.0, max(40.0, 6 * p["interval_s"], 3 * p["decay_s"])))

    def _mean_interval_s(self) -> float:
        return self.params["interval_s"]

    def _setup(self) -> None:
        super()._setup()
        self._primed = False  # the player has sized its first event
        self._rubs: list[tuple[int, int, float, float, np.ndarray, float, float]] = []
        #: Friction control draws by quantum (see :meth:`_friction_ctrl`).
        self._friction: dict[int, np.ndarray] = {}

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        n_bowls = round(p["bowls"])
        soft = max(0.0, self.SOFT_BELOW - p["brightness"])
        if soft > 0.0 and n_bowls > 1:
            # with a soft stick (a dark or settling session) the player reaches for the
            # larger, lower bowls more and more (exp(-SOFT_LOW_BOWLS * soft * index))
            w = np.exp(-self.SOFT_LOW_BOWLS * soft * np.arange(n_bowls))
            bowl = int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"))
            bowl = min(bowl, n_bowls - 1)
        else:
            bowl = int(rng.integers(0, n_bowls))
        # Each bowl of this set is one object: its own slight detuning, the spacing of
        # its beating pairs and its decay are fixed by the seed, so striking a bowl
        # that still rings adds to the very modes that ring (they do not beat against
        # a copy of themselves, and the player can hear what the strike will add).
        own_rng = make_rng(self.seed, "SingingBowl", "bowl", bowl)
        own = own_rng.normal(0.0, 8.0) + self._drift_cents(bowl)
        f0 = p["pitch_hz"] * 2 ** ((self._STEPS[bowl] * 100 + own) / 1200)
        ratios = _shell_ratios(16)
        beat_all = own_rng.uniform(0.3, 2.5, len(ratios)) * np.sqrt(ratios)
        t60_all = own_rng.uniform(0.85, 1.15, len(ratios))
        freqs = f0 * ratios
        ok = freqs < min(self.MAX_MODE_HZ, 0.45 * self.sample_rate)
        ratios, freqs = ratios[ok], freqs[ok]
        n = len(freqs)
        bright = p["brightness"]
        rub = rng.random() < p["rub"] or self._opening()
        velocity = rng.uniform(0.75, 1.0) if rub else rng.uniform(0.45, 1.0)
        self._velocity = velocity
        # Contact time: hard mallet and firm strike -> short contact -> bright.
        contact = (2.2 - 1.9 * bright) * 1e-3 * (1.35 - 0.5 * velocity)
        # Where the strike lands changes the balance of modes (+-4 dB, smooth in k).
        place = rng.uniform(0.0, 2 * np.pi)
        shape_db = 4.0 * np.sin(place + 0.9 * np.arange(n)) + rng.normal(0, 1.5, n)
        coupling = ratios**-0.25 * 10 ** (shape_db / 20)
        t60 = p["decay_s"] * ratios**-self.DECAY_EXP * t60_all[:n]
        if rub:
            # Rubbing feeds the fundamental (and a little of the next modes) slowly.
            amps = velocity * coupling * 10 ** (-self._rub_tilt_db() * np.arange(n) / 20)
            attack = np.full(n, rng.uniform(1.2, 2.5))
        else:
            # Below SOFT_BELOW the player takes a felted mallet: the upper modes fall
            # off much faster.  A sleep plan lowers brightness as it descends, and its
            # strikes grow sparser, so the fundamental's ringing thins out and each
            # fresh strike would otherwise sound brighter late than early.
            soft_db = self.SOFT_MALLET_DB * max(0.0, self.SOFT_BELOW - bright)
            tilt = 10 ** (-((1.0 - bright) * 1.5 + soft_db) * np.arange(n) / 20)
            amps = velocity * coupling * tilt * _contact(freqs, contact)
            attack = np.full(n, contact)
        beat_hz = beat_all[:n]
        # How the pair shares the strike depends on where it lands (the two modes of a
        # pair have orthogonal shapes).
        split = rng.uniform(0.3, 0.7, n)
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
        pan = self._place(self._bowl_pan(bowl, n_bowls), rng)
        if rub:
            dur = int(rng.uniform(4.0, 8.0) * self.sample_rate)
            level = 0.012 * velocity
            # a soft stick (brightness under SOFT_BELOW) rubs with less friction noise,
            # scratches less and excites less of the second mode, as the strikes' upper
            # modes are softer; unchanged above it
            hard = min(1.0, bright / self.SOFT_BELOW)
            pans = _pan_gains(pan).astype(np.float64)
            # the opening's stick scratches as its brightness calls for (_rub_tilt_db)
            edge = 1.0 + self.OPENING_EDGE * max(0.0, bright - 0.5) if self._opening() else 1.0
            self._pending_rub = (dur, float(f0), level, pans, hard, edge)
        return s, a * 0.25, pan

    def _rub_tilt_db(self) -> float:
        """Roll-off of a rub's modes, dB per mode index.

        A rub is :attr:`RUB_TILT_DB` whatever the brightness, except in the opening
        of bowls alone (:meth:`_opening`), where the rubs stand in for the strikes
        the session's brightness would have played: there the player takes the stick
        that brightness calls for (a bare wooden stick for a bright session sings
        more of the upper modes than a suede one), :attr:`OPENING_RUB_DB_PER_BRIGHT`
        dB per mode less for each unit of brightness above 0.5.  Without it, the
        opening of a bright bowls plan sounded the same at every intensity (the
        match table's bowls/bright read 233/233/233 Hz at intensities 0.1/0.5/0.9,
        docs/sound.md round 10).
        """
        if not self._opening():
            return self.RUB_TILT_DB
        bright = self.params["brightness"]
        return max(0.0, self.RUB_TILT_DB - self.OPENING_RUB_DB_PER_BRIGHT * (bright - 0.5))

    def _opening_s(self) -> float:
        return self.params["opening_s"]

    def _listen(self, s: np.ndarray, amp: np.ndarray, offset: int) -> float:
        """As :meth:`_Modal._listen`; how the player opens the session.

        Over a bed (``opening_s`` > 0) the player brings the bowls in softly: its
        memory starts silent and the room level rises 20 dB over ``opening_s``, so the
        bowls grow under the bed for about as long.  Alone, the bowls are the bed
        (``opening_s`` 0): that slow rise was a crescendo from silence in which each
        strike rose over a quieter past (the startle guard cut > 1 dB for 4.5-12 % of
        a 5-minute bowls plan, all in its first ~40 s: docs/sound.md, round 10), so
        the player starts at the level the session keeps -- its memory primed at the
        bowls' natural mean power (:meth:`_natural_power`), no rising room level --
        and rubs the bowls that open it (:meth:`_opening`).
        """
        if not self._primed and self._opening_s() <= 0.0:
            self._hist[:] = self._natural_power()
        self._primed = True
        return super()._listen(s, amp, offset)

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        out = super()._onsets(start, end)
        if self.params["opening_s"] <= 0.0 and start < self.ALONE_S * self.sample_rate:
            first = self._first_onset()
            out = [(o, g) for o, g in out if o == first or o >= self.ALONE_S * self.sample_rate]
        return out

    def _opening(self) -> bool:
        """Whether the event being made opens a session of bowls alone (``opening_s``
        0, onset in the first :attr:`RUB_OPENING_S` seconds): then it is a rub."""
        onset = self._event_frame
        return (
            onset is not None
            and self.params["opening_s"] <= 0.0
            and onset < self.RUB_OPENING_S * self.sample_rate
        )

    def _drift_cents(self, bowl: int) -> float:
        """Slow pitch drift of bowl ``bowl`` now (cents): warmth and rim pressure.

        A real bowl's pitch moves a little with its temperature and how it rests, so
        strikes minutes apart differ by up to a cent or two while strikes ~9 s apart
        (which add to the modes that ring) differ by ~0.2 cent, 0.6 at most: at 196 Hz
        a beat of 15 s or slower.  Smooth random knots :attr:`DRIFT_KNOT_S`
        apart (cosine-joined, SD :attr:`DRIFT_CENTS`), a function of absolute time,
        so a seek plays the same bowls.  Bowls of fixed frequencies repeated their
        waveform (normalised correlation 0.50-0.52 at seeds 1 and 3; limit 0.5).
        """
        t = self.frame / (self.sample_rate * self.DRIFT_KNOT_S)
        k = int(np.floor(t))
        u = t - k
        a, b = (
            make_rng(self.seed, "SingingBowl", "drift", bowl, j).normal(0.0, self.DRIFT_CENTS)
            for j in (k, k + 1)
        )
        return float(a + (b - a) * (0.5 - 0.5 * np.cos(np.pi * u)))

    def _place(self, bowl_pan: float, rng: np.random.Generator) -> float:
        """Pan of a strike: the bowl's distance from centre, on the side that rings less.

        The bowls stand in a ring around the listener, so a bowl sounds at its own
        distance from the centre but on whichever side its ringing neighbours leave
        quieter (as :class:`~sonora.engine.tonal.chimes.Chimes` places its tubes):
        left and right stay balanced by construction.  Fixed places (low bowl left,
        high bowl right) let a run of strikes on one bowl tilt the image by up to
        0.9 dB over minutes (benchmarks/sound.py, seeds 0 and 3).  The choice comes
        from what still rings, which a seek reproduces after ``warmup_s``.
        """
        return self._on_quieter_side(abs(bowl_pan) + abs(rng.normal(0, 0.05)), rng)

    def _bowl_pan(self, bowl: int, n_bowls: int) -> float:
        """Where bowl ``bowl`` of ``n_bowls`` stands, -1 (left) to 1 (right)."""
        return 0.0 if n_bowls == 1 else self.params["spread"] * (2 * bowl / (n_bowls - 1) - 1) * 0.8

    def _start_voice(self, offset: int, out: np.ndarray, rng: np.random.Generator) -> None:
        self._pending_rub = None
        super()._start_voice(offset, out, rng)
        if self._pending_rub is not None:
            dur, f0, level, pan, hard, edge = self._pending_rub
            # The friction is as soft as the rub the player chose.
            self._rubs.append((self.frame + offset, dur, f0, level * self._scale, pan, hard, edge))

    def _friction_ctrl(self, q: int) -> np.ndarray:
        """Narrow-noise control points of quantum ``q``: float64 ``(QUANTUM // 32 + 1,)``.

        The first row of ``make_rng(seed, "SingingBowl", "friction", q)``'s
        ``standard_normal((2, QUANTUM // 32))`` (a generator fills row by row, so it is
        its first ``QUANTUM // 32`` draws), then the first draw of quantum ``q + 1``'s.
        Each quantum's draws are made once and kept for the next quantum, which starts
        with them (stateless: a function of the seed and ``q`` only).
        """
        pts = QUANTUM // _GRID
        cache = self._friction
        rows = []
        for j in (q, q + 1):
            row = cache.get(j)
            if row is None:
                row = make_rng(self.seed, "SingingBowl", "friction", j).standard_normal(pts)
                cache[j] = row
            rows.append(row)
        for j in [j for j in cache if j < q]:
            del cache[j]
        ctrl = np.empty(pts + 1)
        ctrl[:pts] = rows[0]
        ctrl[pts] = rows[1][0]
        return ctrl

    def _extra(self, out: np.ndarray) -> None:
        """Friction noise of the rubs that sound in this quantum (stateless per quantum).

        The same samples as the plain formula in tests/engine/test_modal.py (a test checks), with the
        quantum's fixed tables computed once and each quantum's noise drawn once.
        """
        if not self._rubs:
            return
        sr = self.sample_rate
        start, end = self.frame, self.frame + QUANTUM
        self._rubs = [r for r in self._rubs if r[0] + r[1] > start]
        if not self._rubs:
            return
        q = self.frame // QUANTUM
        i0, w, one_minus_w, frames = _friction_tables()
        ctrl = self._friction_ctrl(q)
        narrow = ctrl[i0] * one_minus_w
        narrow += ctrl[i0 + 1] * w
        scratch = make_rng(self.seed, "SingingBowl", "scratch", q).standard_normal(QUANTUM)
        absolute = frames + start
        t = absolute / sr
        y = np.empty(QUANTUM)
        tmp = np.empty(QUANTUM)
        y32 = np.empty((2, QUANTUM), dtype=np.float32)
        for onset, dur, f0, level, pan, hard, edge in self._rubs:
            if end - 1 - onset < 0:
                continue
            k = absolute - onset
            # env = sin(pi * clip(k / dur, 0, 1)) ** 2 * (k >= 0)
            np.divide(k, dur, out=y)
            np.clip(y, 0.0, 1.0, out=y)
            np.multiply(np.pi, y, out=y)
            np.sin(y, out=y)
            np.square(y, out=y)
            if onset > start:
                y[: onset - start] *= 0.0
            # carrier = sin(2 pi f0 t) + 0.4 hard sin(2 pi 2.76 f0 t)
            np.multiply(2 * np.pi * f0, t, out=tmp)
            carrier = np.sin(tmp)
            np.multiply(2 * np.pi * 2.76 * f0, t, out=tmp)
            np.sin(tmp, out=tmp)
            tmp *= 0.4 * hard
            carrier += tmp
            # y = level * hard * env * (narrow * carrier + 0.15 * hard * edge * scratch)
            np.multiply(level * hard, y, out=y)
            carrier *= narrow
            np.multiply(0.15 * hard * edge, scratch, out=tmp)
            carrier += tmp
            y *= carrier
            np.multiply(pan[:, None], y[None, :], out=y32, casting="unsafe")
            out += y32


#: Frames between the friction noise's control points: ~700 Hz wide sidebands.
_GRID = 32


@cache
def _friction_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-quantum constants of the friction noise (cached).

    Returns
    -------
    tuple of numpy.ndarray
        ``(i0, w, 1 - w, frames)``: each frame's control point before it (int64
        ``(QUANTUM,)``), its linear-interpolation weight and one minus it (float64
        ``(QUANTUM,)``), and the frame indices ``0 .. QUANTUM - 1`` (int64).
    """
    x = np.arange(QUANTUM) / _GRID
    i0 = x.astype(np.int64)
    w = x - i0
    return i0, w, 1 - w, np.arange(QUANTUM)
