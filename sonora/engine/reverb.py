"""The hall reverb: a mono tail at half rate, split, decorrelated and upsampled to stereo.

It keeps its state between calls, and every output sample is computed by the same
operations whatever the chunk size.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ, Effect, as_block
from sonora.engine.design import load_sosfilt_kernel
from sonora.errors import check_number

__all__ = ["Reverb", "rt60_s"]

_kernels: list[Any] = []


def _kernel() -> Any:
    """scipy's compiled SOS kernel (loaded on first use), or ``None``."""
    if not _kernels:
        _kernels.append(load_sosfilt_kernel())
    return _kernels[0]


#: Mean loop delay (s) of the reverb the scenes were tuned with (JUCE's Freeverb,
#: combs of 1116-1617 frames at 44.1 kHz); with its feedback ``0.7 + 0.28 room_size``
#: it sets the RT60 that :func:`rt60_s` keeps.
_TUNED_LOOP_S = 0.0322


def rt60_s(room_size: float, damping: float) -> tuple[float, float]:
    """Reverberation time (s) at low frequencies and at 3 kHz for the given settings.

    The same decay the built-in scenes were tuned with: Freeverb's comb feedback
    ``0.7 + 0.28 room_size`` over its mean loop, and its in-loop one-pole low-pass
    (coefficient ``0.4 damping``) at 3 kHz at a 24 kHz inner rate.

    Parameters
    ----------
    room_size, damping : float
        0-1 each.

    Returns
    -------
    tuple of float
        ``(t_low_s, t_high_s)``, RT60 in seconds, ``t_high_s <= t_low_s``.
    """
    feedback = 0.7 + 0.28 * room_size
    pole = 0.4 * damping
    w = 2.0 * np.pi * 3000.0 / 24000.0
    lowpass = (1.0 - pole) / abs(1.0 - pole * np.exp(-1j * w))
    t_low = 3.0 * _TUNED_LOOP_S / -np.log10(feedback)
    t_high = 3.0 * _TUNED_LOOP_S / -np.log10(feedback * lowpass)
    return float(t_low), float(t_high)


class _HallTail:
    """A mono hall tail: an 8-line feedback delay network (FDN), vectorised by blocks.

    Written here rather than taken from a library: the well-kept reverbs on PyPI are
    GPL (pedalboard) or loop per sample in Python; this one is a handful of
    whole-array operations per block.  Eight delay lines of 85.5-180 ms (distinct
    primes, so mutually prime) are mixed by an orthonormal Hadamard matrix.  Each
    line's broadband gain gives the low-frequency RT60 for its length; every line
    shares one low-pass (a one-pole truncated to 4 or 8 taps, applied by doubling
    steps) whose loss per pass of the mean line gives the RT60 at :attr:`HIGH_HZ`.
    The input enters every line at the lags :attr:`INPUT_MS` (signs differing per
    line), and the output reads the lines at :attr:`OUTPUT_AHEAD` of the shortest line
    before their ends through orthogonal rows of the Hadamard matrix: 8 x 8 x 3 first
    arrivals from ~13 ms on, so the tail starts soft and fills in without a per-sample
    diffuser.

    The lines live in one buffer ``(9, width)`` laid out by *read* time: column ``t``
    of row ``i`` is what line ``i`` delivers at frame ``t``; row 8 is the input.  A
    sub-block of ``sub`` frames (no longer than the shortest line, so nothing it
    writes is read within it) is then plain slices, the low-pass and one ``(8, 8)``
    matrix product plus the input's share, written ``d_i`` columns ahead; the output
    is one product of the output taps with the block's columns.  No per-sample Python
    loop, and the same samples for any sequence of calls (every call is one whole
    :attr:`block`).

    Parameters
    ----------
    t_low_s, t_high_s : float
        Target RT60 (s) at low frequencies and at :attr:`HIGH_HZ`, ``t_high_s <= t_low_s``.
    sample_rate : int
        Rate of the tail in Hz (the reverb's inner rate).
    block : int
        Frames per call to :meth:`process`.
    input_gain : float
        Linear gain applied to the input.
    """

    LINES = 8
    #: Shortest and longest delay line (ms); the lengths spread geometrically between.
    DELAY_MS = (85.5, 180.0)
    #: Lags (ms) at which the input enters the lines.
    INPUT_MS = (0.0, 3.1, 7.3, 11.9, 17.3, 23.9, 31.1, 39.7)
    #: Output reads, as fractions of the shortest line ahead of the lines' ends, and
    #: their weights.
    OUTPUT_AHEAD = (0.0, 0.45, 0.85)
    OUTPUT_WEIGHTS = (1.0, 0.8, 0.5)
    #: Frequency (Hz) at which the high-frequency RT60 is matched.
    HIGH_HZ = 3000.0
    #: Output gain: the tail's level is that of the reverb the scenes were tuned with
    #: (impulse-response energy at room 0.8, damping 0.5, within 0.3 dB).
    OUTPUT_GAIN = 1.72

    def __init__(
        self,
        t_low_s: float,
        t_high_s: float,
        *,
        sample_rate: int,
        block: int,
        input_gain: float = 1.0,
    ) -> None:
        n = self.LINES
        lo, hi = self.DELAY_MS
        self.delays = _primes_from(sample_rate * 1e-3 * lo * (hi / lo) ** (np.arange(n) / (n - 1)))
        self.block = block
        self.sub = block
        while self.sub > int(self.delays[0]) or block % self.sub:
            self.sub //= 2
        # Loss at HIGH_HZ relative to DC per pass of the mean line, then the pole whose
        # truncated low-pass has that loss (bisection: the loss grows with the pole).
        w1 = 2.0 * np.pi * min(self.HIGH_HZ, 0.4 * sample_rate) / sample_rate
        mean_s = float(np.mean(self.delays)) / sample_rate
        loss = 10.0 ** (-3.0 * mean_s * (1.0 / t_high_s - 1.0 / t_low_s))
        # Four taps (two doubling steps) reach a loss of 3.7 dB at 3 kHz (24 kHz inner
        # rate), enough for damping up to ~0.9; beyond that, eight.
        self.taps = 4 if loss > 1.02 * self._truncated_gain(0.999, 4, w1) else 8
        k = np.arange(self.taps)
        lo_p, hi_p = 0.0, 0.999
        for _ in range(40):
            p = 0.5 * (lo_p + hi_p)
            if self._truncated_gain(p, self.taps, w1) > loss:
                lo_p = p
            else:
                hi_p = p
        self.pole = 0.5 * (lo_p + hi_p)
        dc = float(np.sum(self.pole**k))
        gains = 10.0 ** (-3.0 * self.delays / (sample_rate * t_low_s)) / dc
        signs = np.where(np.random.default_rng(0x7A11).random((2, n)) < 0.5, -1.0, 1.0)
        rng = np.random.default_rng(0x7A11)
        hadamard = _hadamard(n)
        # Input: every line takes the input at INPUT_MS (a different signed mix of the
        # taps per line), so the first pass already brings 8 x 4 arrivals.
        self._in_lags = np.array([round(ms * 1e-3 * sample_rate) for ms in self.INPUT_MS])
        taps_in = len(self._in_lags)
        signs = np.where(rng.random((n, taps_in)) < 0.5, -1.0, 1.0)
        self._mix = (hadamard * gains[None, :]).astype(np.float32)
        self._mix_in = (signs * (input_gain / np.sqrt(n * taps_in))).astype(np.float32)
        # Output: the lines (before the low-pass, as a comb's output) read at
        # OUTPUT_AHEAD of the shortest line ahead of their ends, each through another
        # row of the Hadamard matrix (orthogonal: the reads add no comb colouring),
        # weighted by OUTPUT_WEIGHTS (the earliest reads softest: a soft onset).
        self._out_ahead = [int(f * (self.delays[0] - 1)) for f in self.OUTPUT_AHEAD]
        weights = np.array(self.OUTPUT_WEIGHTS) / np.sqrt(np.sum(np.square(self.OUTPUT_WEIGHTS)))
        rows = hadamard[1 : 1 + len(weights)] * np.sqrt(n)  # +-1 entries
        self._out_taps = (rows * (weights * self.OUTPUT_GAIN / np.sqrt(n))[:, None]).astype(
            np.float32
        )
        self._hist = max(8, int(self._in_lags.max()))
        self._p = [np.float32(self.pole ** (2**j)) for j in range(3)]
        self._max_delay = int(self.delays[-1])
        # Room for 8 blocks past what is still to be read: the live part (~160 KB) is
        # moved back to the front once every 8 blocks instead of every other one
        # (each block only touches its own ~230 KB, so the wider buffer costs no cache).
        self._width = self._hist + self._max_delay + 8 * block
        self.reset()

    def __deepcopy__(self, memo: dict[int, Any]) -> _HallTail:
        """A copy with its own buffer; the input windows are a view of it again.

        (Copied as an array, the strided view would become a ~160 MB one.)
        """
        import copy

        new = object.__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key != "_windows":
                setattr(new, key, copy.deepcopy(value, memo))
        new._windows = np.lib.stride_tricks.sliding_window_view(new._buf[self.LINES], self.block)
        return new

    @staticmethod
    def _truncated_gain(pole: float, taps: int, w: float) -> float:
        """Gain at ``w`` (rad/frame) relative to DC of ``sum_{k<taps} pole^k z^-k``."""
        k = np.arange(taps)
        weights = pole**k
        return float(abs(np.sum(weights * np.exp(-1j * w * k))) / np.sum(weights))

    def reset(self) -> None:
        """Silence the tail."""
        self._buf = np.zeros((self.LINES + 1, self._width), dtype=np.float32)
        self._t = self._hist  # column of the next frame (input taps read before it)
        n, sub = self.LINES, self.sub
        self._damped = np.empty((n, sub), dtype=np.float32)
        # windows[c] = the input row's `block` frames from column c (a view)
        self._windows = np.lib.stride_tricks.sliding_window_view(self._buf[n], self.block)
        self._work = (
            np.empty((n, sub + 6), dtype=np.float32),
            np.empty((n, sub + 4), dtype=np.float32),
        )

    def process(self, x: np.ndarray) -> np.ndarray:
        """Feed :attr:`block` frames of input and return as many frames of the tail.

        Parameters
        ----------
        x : numpy.ndarray
            float32, shape ``(block,)``.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(block,)``.
        """
        n, sub, h = self.LINES, self.sub, self.taps
        t = self._t
        if t + self.block + self._max_delay > self._width:
            # Move what is still to be read (and the low-pass's history) to the front.
            # (The source lies 7 blocks on, past the live span: the copy never overlaps.)
            live = self._buf[:, t - self._hist : t + self._max_delay]
            self._buf[:, : live.shape[1]] = live
            t = self._hist
        buf, damped, (p1, p2, p4) = self._buf, self._damped, self._p
        buf[n, t : t + self.block] = x
        delays = self.delays.tolist()
        # What the input adds to every line over the block (it needs no feedback).
        feed = self._mix_in @ self._windows[t - self._in_lags]
        for s in range(t, t + self.block, sub):
            # sum_{k<h} pole^k line[s - k] = (1 + p z^-1)(1 + p^2 z^-2)[(1 + p^4 z^-4)]
            a = buf[:n, s - h + 1 : s + sub]
            w1 = self._work[0][:, : sub + h - 2]
            np.multiply(a[:, :-1], p1, out=w1)
            w1 += a[:, 1:]
            if h == 4:
                np.multiply(w1[:, :-2], p2, out=damped)
                damped += w1[:, 2:]
            else:
                w2 = self._work[1]
                np.multiply(w1[:, :-2], p2, out=w2)
                w2 += w1[:, 2:]
                np.multiply(w2[:, :-4], p4, out=damped)
                damped += w2[:, 4:]
            v = self._mix @ damped
            v += feed[:, s - t : s - t + sub]
            for i, d in enumerate(delays):
                buf[i, s + d : s + d + sub] = v[i]
        # Every column up to t + block + delays[0] is written now.  Each output read
        # (a row of taps) is taken over the whole span, then added at its offset.
        ahead = self._out_ahead
        reads = self._out_taps @ buf[:n, t : t + self.block + ahead[-1]]
        out = reads[0, : self.block].copy()
        for j in range(1, len(ahead)):
            out += reads[j, ahead[j] : ahead[j] + self.block]
        self._t = t + self.block
        return out


def _primes_from(targets: np.ndarray) -> np.ndarray:
    """The smallest distinct primes at or above each of the ascending ``targets``."""
    out: list[int] = []
    for target in targets:
        d = max(int(np.ceil(target)), out[-1] + 1 if out else 2)
        while any(d % k == 0 for k in range(2, int(d**0.5) + 1)):
            d += 1
        out.append(d)
    return np.array(out, dtype=np.int64)


def _hadamard(n: int) -> np.ndarray:
    """The orthonormal Hadamard matrix of order ``n`` (a power of two), float64."""
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h / np.sqrt(n)


class Reverb(Effect):
    """A smooth hall reverb returning only the wet signal, stereo.

    The input's mid (mono) signal drives a hall tail of Sonora's own
    (:class:`_HallTail`, a feedback delay network); above :attr:`SPLIT_HZ` one channel
    is the same tail :attr:`SIDE_DELAY_MS` later than the other, which decorrelates a
    diffuse tail at a fraction of the cost of a true stereo reverb.  Both high tails'
    delay wanders slowly over :attr:`MOD_RANGE_MS` (smooth random knots
    :attr:`MOD_KNOT_S` apart, a function of the absolute frame, read as a straight
    line across each inner block): with a fixed delay a sustained tone met its own
    delayed tail at a fixed phase on one side and another on the other, and leaned a
    scene by up to 0.5 dB.  Which side is late moves steadily from one to the other
    and back (:meth:`_side_share`, :attr:`SIDE_SWAP_S` each way, a straight line: the
    two always differ by the full side delay).  With the right side always the late
    one, a tone near the split, where the tail's low and high parts overlap, met them
    at different phases on each side, and the wander (1.4 cycles at 174 Hz) did not
    average it out: bowls at 174 Hz leaned left by 0.24 dB, steady tones of 100-400 Hz
    by up to 0.9 dB (docs/sound.md, round 10).  Sweeping each side's delay evenly
    over the same span, both average the same power.  Below :attr:`SPLIT_HZ` both
    channels get the same tail: a delay there is a large phase turn (0.8 cycle at
    73 Hz) that adds to a sustained low tone on one side and cancels on the other.

    At 44.1 kHz and above everything is computed at half the sample rate, as classic
    hardware hall reverbs did (a 2-tap average before, linear interpolation after: a
    damped hall tail has little energy up there, and the wet signal sits well below
    the dry one), in fixed blocks of :attr:`INNER_BLOCK` inner frames, so the output
    is the same for any caller's block size.  The tail starts :attr:`latency_frames`
    after its input (about 85 ms): a hall's pre-delay.

    Parameters
    ----------
    room_size : float
        0–1; larger rooms ring longer (RT60 1.2 s at 0.5, 2.8 s at 0.8: :func:`rt60_s`).
    damping : float
        0–1; more damping darkens the tail (the highs die sooner).
    wet_level : float
        0–1 linear gain of the tail.
    sample_rate : int
        Sample rate in Hz.
    """

    channels = 2

    def __init__(
        self,
        *,
        room_size: float = 0.8,
        damping: float = 0.5,
        wet_level: float = 0.3,
        sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        self.room_size = check_number("room_size", room_size, low=0.0, high=1.0)
        self.damping = check_number("damping", damping, low=0.0, high=1.0)
        self.wet_level = check_number("wet_level", wet_level, low=0.0, high=1.0)
        self.factor = 2 if self.sample_rate >= 44_100 else 1
        self._inner_rate = self.sample_rate // self.factor
        t_low_s, t_high_s = rt60_s(self.room_size, self.damping)
        # The tail's input is x0 + x1 (summed over `factor` frames): scale to the mid.
        self._tail = _HallTail(
            t_low_s,
            t_high_s,
            sample_rate=self._inner_rate,
            block=self.INNER_BLOCK,
            input_gain=0.5 * self.wet_level / self.factor,
        )
        # Power-complementary split around SPLIT_HZ from one first-order allpass A:
        # low = (1 + A)/2, high = (1 - A)/2, |low|² + |high|² = 1 at every frequency, so
        # delaying only the high part leaves the right channel's average power equal to
        # the left's (a Butterworth low-pass and "wet minus low" would add ~3 dB near
        # the crossover on the right).
        k = float(np.tan(np.pi * self.SPLIT_HZ / self._inner_rate))
        a = (k - 1.0) / (k + 1.0)
        self._allpass_sos = np.array([[a, 1.0, 0.0, 1.0, a, 0.0]])
        self._allpass_sos32 = self._allpass_sos.astype(np.float32)
        self._side = self.SIDE_DELAY_MS * 1e-3 * self._inner_rate
        longest = (self.MOD_MIN_MS + self.MOD_RANGE_MS + self.SIDE_DELAY_MS) * 1e-3
        longest *= self._inner_rate
        self._hist_len = int(np.ceil(longest)) + 2
        self._steps = np.arange(self.INNER_BLOCK, dtype=np.float64)
        self._start = 0
        self.reset()

    #: Crossover (Hz) below which both channels carry the same, undelayed tail.
    SPLIT_HZ = 250.0
    #: How much later one side's high tail is than the other's (ms).
    SIDE_DELAY_MS = 11.3
    #: Seconds over which the late side moves across to the other (a straight line).
    #: The delay moves 11.3 ms in 4 s: each high tail's pitch is 4.9 cents off while
    #: it moves (the wander adds up to 4.2).
    SIDE_SWAP_S = 4.0
    #: Shortest delay of the early high tail (ms) and how far both wander above it (ms).
    MOD_MIN_MS = 0.5
    MOD_RANGE_MS = 8.0
    #: Spacing of the wander's random knots (s); joined by smoothstep.
    MOD_KNOT_S = 5.0
    _MOD_TABLE = np.random.default_rng(0x50D0).random(4096)

    #: The tail and everything after it run in blocks of this many inner frames.
    INNER_BLOCK = 2048

    @property
    def latency_frames(self) -> int:
        """Delay of the tail relative to the input, in frames (acts as pre-delay)."""
        return self.INNER_BLOCK * self.factor + (self.factor - 1)

    def reset(self) -> None:
        self._tail.reset()
        self._allpass_zi = np.zeros((1, 1, 2), dtype=np.float32)
        m, h = self.INNER_BLOCK, self._hist_len
        self._high = np.zeros(h + m, dtype=np.float32)  # high tail, h frames of history
        self._lr = np.zeros((2, m + 1), dtype=np.float32)  # column 0: the last block's end
        self._inner_done = 0  # inner frames the tail has produced since the reset
        self._prev_in = np.float32(0.0)  # last input mid frame (decimation)
        self._phase = 0  # absolute input frame count modulo factor
        self._pending = np.zeros(0, dtype=np.float32)  # inner-rate input
        # Output blocks not yet returned (the first is the latency's silence).
        self._queue = deque([np.zeros((2, self.latency_frames), dtype=np.float32)])
        self._queue_at = 0  # frames of queue[0] already returned

    def start_at(self, frame: int) -> None:
        """Set the absolute frame of the next block (after :meth:`reset`, for a seek).

        Parameters
        ----------
        frame : int
            Absolute output frame, >= 0.
        """
        self._start = int(frame) - self._inner_done * self.factor

    def _mod_delay(self, frame: float) -> float:
        """Delay of the early high tail (inner frames) at absolute output ``frame``.

        Parameters
        ----------
        frame : float
            Absolute output frame, >= 0.
        """
        t = max(frame, 0.0) / (self.sample_rate * self.MOD_KNOT_S)
        k = int(t)  # t >= 0: truncation is the floor
        u = t - k
        table = self._MOD_TABLE
        a = float(table[k % len(table)])
        b = float(table[(k + 1) % len(table)])
        v = a + (b - a) * (u * u * (3.0 - 2.0 * u))  # smoothstep join
        return (self.MOD_MIN_MS + self.MOD_RANGE_MS * v) * (1e-3 * self._inner_rate)

    def _side_share(self, frame: float) -> float:
        """Share (0-1) of :attr:`SIDE_DELAY_MS` by which the left high tail is late.

        The right high tail is late by the rest, so the two always differ by the full
        side delay, and which side is late moves from one to the other and back at
        a steady rate (:attr:`SIDE_SWAP_S` each way), a function of the absolute
        frame.  At a steady rate each side's delay covers the same span evenly in
        each sweep, so a held tone's phase against the undelayed low tail averages
        out alike on both sides.

        Parameters
        ----------
        frame : float
            Absolute output frame, >= 0.
        """
        t = max(frame, 0.0) / (self.sample_rate * self.SIDE_SWAP_S)
        k = int(t)
        u = t - k
        return u if k % 2 == 0 else 1.0 - u

    def _stereo(self, inner: np.ndarray) -> np.ndarray:
        """One inner block of mid input -> the stereo tail at the inner rate.

        Returns a view ``(2, m + 1)`` whose column 0 is the previous block's last frame
        (for the upsampling), valid until the next call.
        """
        m, h = self.INNER_BLOCK, self._hist_len
        wet = self._tail.process(inner)
        turned = wet[None, :].copy()
        kernel = _kernel()
        if kernel is not None:  # scipy's compiled SOS kernel, in place, float32
            kernel(self._allpass_sos32, turned, self._allpass_zi)
        else:  # pragma: no cover - unusual scipy layouts
            turned = self._allpass_fallback(turned)
        # Twice low and high: wet + A wet and wet - A wet (the 1/2 is in the upsampling).
        hbuf = self._high
        hbuf[:h] = hbuf[m:]
        high = hbuf[h:]
        np.subtract(wet, turned[0], out=high)
        low = np.add(wet, turned[0], out=turned[0])
        # Absolute output frame of this block's tail (the output is latency_frames later).
        frame = self._start + self._inner_done * self.factor + self.latency_frames
        self._inner_done += m
        # hbuf[j] is the high tail at inner frame j - h of this block.  Each side's
        # delay d(t) is a straight line over the block between its values at both
        # ends; tail(k - d) is hbuf[i] + frac * (hbuf[i + 1] - hbuf[i]),
        # i = floor(h + k - d).
        span = m * self.factor
        base0, base1 = self._mod_delay(frame), self._mod_delay(frame + span)
        late0, late1 = self._side_share(frame), self._side_share(frame + span)
        lr = self._lr
        lr[:, 0] = lr[:, m]
        for ch, (a0, a1) in enumerate(((late0, late1), (1.0 - late0, 1.0 - late1))):
            d0 = base0 + self._side * a0
            d1 = base1 + self._side * a1
            pos = self._steps * (1.0 - (d1 - d0) / m)
            pos += h - d0
            i = pos.astype(np.int64)  # pos > 0: truncation is the floor
            frac = (pos - i).astype(np.float32)
            here = hbuf[i]
            side = lr[ch, 1:]
            np.subtract(hbuf[1:][i], here, out=side)
            side *= frac
            side += here
            side += low
        return lr

    def _allpass_fallback(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        from scipy import signal

        # The kernel's state is (channels, sections, 2); sosfilt's (sections, channels, 2).
        zi0 = self._allpass_zi.transpose(1, 0, 2).astype(np.float64)
        y, zi = signal.sosfilt(self._allpass_sos, x, axis=-1, zi=zi0)
        self._allpass_zi = np.ascontiguousarray(zi.transpose(1, 0, 2), dtype=np.float32)
        return y.astype(np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, 2)
        n = x.shape[1]
        # The mid signal x0 + x1; its 1/2, the decimation's 1/2 and wet_level are in
        # the tail's input gain.  mid[0] is the last frame of the previous block.
        mid = np.empty(n + 1, dtype=np.float32)
        mid[0] = self._prev_in
        np.add(x[0], x[1], out=mid[1:])
        self._prev_in = mid[-1]
        if self.factor == 2:
            # Decimate by summing each inner-grid frame with the one before it (a
            # 2-tap low-pass with its zero at the input's Nyquist).
            first = (-self._phase) % 2  # index in the block of the first grid frame
            m = (n - first + 1) // 2  # grid frames in this block
            stop = first + 2 * m
            lhs, rhs = mid[first + 1 : stop + 1 : 2], mid[first:stop:2]
            self._phase = (self._phase + n) % 2
        else:
            m = n
            lhs, rhs = mid[1:], None
        k = len(self._pending)
        buf = np.empty(k + m, dtype=np.float32)
        buf[:k] = self._pending
        if rhs is None:
            buf[k:] = lhs
        else:
            np.add(lhs, rhs, out=buf[k:])
        size = self.INNER_BLOCK
        usable = len(buf) - len(buf) % size
        self._pending = buf[usable:]
        queue = self._queue
        for i in range(0, usable, size):
            lr = self._stereo(buf[i : i + size])  # twice the tail (see _stereo)
            if self.factor == 2:
                # Linear interpolation back up: the new frames sit halfway between.
                # (The sums scaled contiguously, then interleaved: strided arithmetic
                # costs more than one strided copy.)
                pairs = np.empty((2, size, 2), dtype=np.float32)
                even = np.add(lr[:, :-1], lr[:, 1:])
                even *= np.float32(0.25)
                pairs[:, :, 0] = even
                np.multiply(lr[:, 1:], np.float32(0.5), out=pairs[:, :, 1])
                up = pairs.reshape(2, 2 * size)
            else:
                up = lr[:, 1:] * np.float32(0.5)
            queue.append(up)
        out = np.empty((2, n), dtype=np.float32)
        done = 0
        while done < n:  # the queue always holds at least latency_frames + n frames
            head = queue[0]
            take = min(n - done, head.shape[1] - self._queue_at)
            out[:, done : done + take] = head[:, self._queue_at : self._queue_at + take]
            done += take
            self._queue_at += take
            if self._queue_at == head.shape[1]:
                queue.popleft()
                self._queue_at = 0
        return out
