"""Effects: filters, reverb, and (from :mod:`sonora.engine.dynamics`) the limiter and
the startle guard.

Every effect keeps its state between calls so audio can be processed in chunks, and
every output sample is computed by the same operations whatever the chunk size.
"""

from __future__ import annotations

import numpy as np
import pedalboard

from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ, Effect, as_block
from sonora.engine.design import (
    biquad,
    k_weighting_sos,
)
from sonora.engine.dsp import SosFilter
from sonora.engine.dynamics import Limiter, StartleGuard
from sonora.errors import check_choice, check_number

# Limiter, StartleGuard (and k_weighting_sos) are imported from here by older code.
__all__ = ["Delay", "Filter", "Limiter", "Reverb", "StartleGuard", "k_weighting_sos"]


class Filter(Effect):
    """A Butterworth low-, high- or band-pass filter.

    Parameters
    ----------
    kind : {"lowpass", "highpass", "bandpass"}
        Filter type.
    cutoff_hz : float
        Cutoff (or centre, for band-pass) in Hz, 10 Hz to 0.45 × sample rate.
    order : int
        Butterworth order, 1–8.
    bandwidth_octaves : float
        Band-pass width in octaves (ignored otherwise).
    channels : int
        Number of channels processed.
    sample_rate : int
        Sample rate in Hz.
    """

    def __init__(
        self,
        kind: str = "lowpass",
        *,
        cutoff_hz: float,
        order: int = 2,
        bandwidth_octaves: float = 1.0,
        channels: int = 2,
        sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        self.kind = check_choice("kind", kind, ("lowpass", "highpass", "bandpass"))
        nyq = 0.45 * self.sample_rate
        self.cutoff_hz = check_number("cutoff_hz", cutoff_hz, low=10.0, high=nyq, unit=" Hz")
        self.order = int(check_number("order", order, low=1, high=8))
        self.channels = channels
        if self.kind != "bandpass" and self.order == 2:
            # The common case, without importing scipy.signal (see design.py).
            self.sos = biquad(self.kind, self.cutoff_hz, self.sample_rate)
        elif self.kind == "bandpass":
            from scipy import signal

            bw = check_number("bandwidth_octaves", bandwidth_octaves, low=0.05, high=6.0)
            lo = self.cutoff_hz / 2 ** (bw / 2)
            hi = min(self.cutoff_hz * 2 ** (bw / 2), nyq)
            self.sos = signal.butter(
                self.order, [lo, hi], "bandpass", fs=self.sample_rate, output="sos"
            )
        else:
            from scipy import signal

            self.sos = signal.butter(
                self.order, self.cutoff_hz, self.kind, fs=self.sample_rate, output="sos"
            )
        self.reset()

    def reset(self) -> None:
        self._filter = SosFilter(self.sos, channels=self.channels)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, self.channels)
        return self._filter.process(x).astype(np.float32)


class Delay(Effect):
    """A fixed delay line of ``delay_frames`` frames (exact in any chunking)."""

    def __init__(
        self, delay_frames: int, *, channels: int = 1, sample_rate: int = DEFAULT_SAMPLE_RATE_HZ
    ):
        super().__init__(sample_rate=sample_rate)
        self.delay_frames = int(delay_frames)
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        self._hist = np.zeros((self.channels, self.delay_frames), dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, self.channels)
        if self.delay_frames == 0:
            return x
        buf = np.concatenate([self._hist, x], axis=1)
        n = x.shape[1]
        self._hist = buf[:, n:].copy()
        return buf[:, :n]


class Reverb(Effect):
    """A smooth hall reverb returning only the wet signal, stereo.

    The input's mid (mono) signal drives pedalboard's (JUCE/Freeverb) reverb; above
    :attr:`SPLIT_HZ` the right channel is the same tail delayed by 11.3 ms more than the
    left, which decorrelates a diffuse tail at a fraction of the cost of a true stereo
    reverb.  The left high tail's delay wanders slowly over :attr:`MOD_RANGE_MS`
    (smooth random knots :attr:`MOD_KNOT_S` apart, a function of the absolute frame,
    read as straight lines between its values every :attr:`MOD_GRID_FRAMES`), and the
    right high tail is the left one 11.3 ms later, wander and all: with a fixed delay a
    sustained tone met its own delayed tail at a fixed phase on one side and another on
    the other, and leaned a scene by up to 0.5 dB; with the phase turning over seconds
    both sides average the same power.  The wander bends the tail's pitch by at most a
    few cents; it costs one two-tap fractional read per frame (the right side is a
    plain delay of the left).  Below
    it both channels get the same tail: a delay there is a large phase turn (0.8 cycle
    at 73 Hz) that adds to a sustained low tone on one side and cancels on the other,
    which made a drone's right channel up to 0.5 dB louder than its left.  At 44.1 kHz and above the tail is
    computed at half the sample rate, as classic hardware hall reverbs did (a 2-tap
    average before, linear interpolation after: a damped hall tail has little energy
    up there, and the wet signal sits well below the dry one).  That nearly halves
    the reverb's cost, the largest single cost in a typical scene.  The tail starts
    :attr:`latency_frames` after its input (about 85 ms): a hall's pre-delay.

    Parameters
    ----------
    room_size : float
        0–1; larger rooms ring longer.
    damping : float
        0–1; more damping darkens the tail.
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
        self.reset()

    #: Crossover (Hz) below which both channels carry the same, undelayed tail.
    SPLIT_HZ = 250.0
    #: Delay of the right high tail after the left one (ms).
    SIDE_DELAY_MS = 11.3
    #: Shortest delay of the left high tail (ms) and how far both wander above it (ms).
    MOD_MIN_MS = 0.5
    MOD_RANGE_MS = 8.0
    #: Spacing of the wander's random knots (s); joined by smoothstep.
    MOD_KNOT_S = 5.0
    _MOD_TABLE = np.random.default_rng(0x50D0).random(4096)

    #: pedalboard's reverb gives slightly different samples for different call
    #: patterns, so it is always called with blocks of this many (inner-rate) frames.
    INNER_BLOCK = 2048

    @property
    def latency_frames(self) -> int:
        """Delay of the tail relative to the input, in frames (acts as pre-delay)."""
        return self.INNER_BLOCK * self.factor + (self.factor - 1)

    def reset(self) -> None:
        self._reverb = pedalboard.Reverb(
            room_size=self.room_size, damping=self.damping, wet_level=1.0, dry_level=0.0, width=0.0
        )
        self._side_frames = round(self.SIDE_DELAY_MS * 1e-3 * self.sample_rate)
        longest = (self.MOD_MIN_MS + self.MOD_RANGE_MS) * 1e-3 * self.sample_rate
        self._hist = np.zeros(int(np.ceil(longest)) + 2, dtype=np.float32)
        self._left_hist = np.zeros(self._side_frames, dtype=np.float32)  # right = left, later
        self._frame = 0  # absolute output frame of the next block (see start_at)
        self._grid_offsets = np.arange(self.MOD_GRID_FRAMES, dtype=np.float64)
        self._knot_cache = (-1, 0.0)  # (grid index, delay): the last knot computed
        # read index of frame k in a block, before subtracting the whole delay
        self._read_base = np.arange(len(self._hist) - 1, len(self._hist) - 1 + self.MOD_GRID_FRAMES)
        # Power-complementary split around SPLIT_HZ from one first-order allpass A:
        # low = (1 + A)/2, high = (1 - A)/2, |low|² + |high|² = 1 at every frequency, so
        # delaying only the high part leaves the right channel's average power equal to
        # the left's (a Butterworth low-pass and "wet minus low" would add ~3 dB near
        # the crossover on the right).
        k = float(np.tan(np.pi * self.SPLIT_HZ / self.sample_rate))
        a = (k - 1.0) / (k + 1.0)
        self._allpass = SosFilter(np.array([[a, 1.0, 0.0, 1.0, a, 0.0]]), channels=1)
        self._prev_in = np.zeros(1, dtype=np.float32)  # last input frame (decimation)
        self._prev_wet = np.zeros(1, dtype=np.float32)  # last inner wet sample (upsampling)
        self._phase = 0  # absolute input frame count modulo factor
        self._pending = np.zeros((1, 0), dtype=np.float32)  # inner-rate samples
        self._out = np.zeros((1, self.latency_frames), dtype=np.float32)

    def _wet_mono(self, mid: np.ndarray) -> np.ndarray:
        n = mid.shape[1]
        if self.factor == 2:
            # Decimate by averaging each inner-grid frame with the one before it (a
            # 2-tap low-pass with its zero at the input's Nyquist).
            x = np.concatenate([self._prev_in, mid[0]])
            self._prev_in = x[-1:]
            first = (-self._phase) % 2  # index in `mid` of the first frame on the grid
            m = (n - first + 1) // 2  # grid frames in this block
            stop = first + 2 * m
            inner = ((x[first + 1 : stop + 1 : 2] + x[first:stop:2]) * np.float32(0.5))[None, :]
            self._phase = (self._phase + n) % 2
        else:
            inner = mid.astype(np.float32)
        buf = np.concatenate([self._pending, inner], axis=1)
        usable = buf.shape[1] - buf.shape[1] % self.INNER_BLOCK
        self._pending = buf[:, usable:]
        parts = [self._out]
        for i in range(0, usable, self.INNER_BLOCK):
            wet = self._reverb.process(
                buf[:, i : i + self.INNER_BLOCK], self._inner_rate, reset=False
            )
            if self.factor == 2:
                # Linear interpolation back up: the new frames sit halfway between.
                w = wet[0]
                prev = np.concatenate([self._prev_wet, w[:-1]])
                self._prev_wet = w[-1:]
                up = np.empty(2 * len(w), dtype=np.float32)
                up[0::2] = (prev + w) * np.float32(0.5)
                up[1::2] = w
                wet = up[None, :]
            parts.append(wet)
        buf_out = np.concatenate(parts, axis=1) if len(parts) > 1 else self._out
        out, self._out = buf_out[:, :n], buf_out[:, n:]
        return out

    def start_at(self, frame: int) -> None:
        """Set the absolute frame of the next block (after :meth:`reset`, for a seek).

        Parameters
        ----------
        frame : int
            Absolute output frame, >= 0.
        """
        self._frame = int(frame)

    #: The wander is read as straight lines between its values on a fixed grid of
    #: absolute frames (a multiple of the mix's quantum, so a mix's blocks take the
    #: one-segment path); within ~85 ms a smoothstep over 5 s is a straight line to
    #: within a millionth of a frame.
    MOD_GRID_FRAMES = 4096

    def _mod_knot(self, g: int) -> float:
        """Delay of the left high tail (frames) at absolute frame ``g * MOD_GRID_FRAMES``.

        Parameters
        ----------
        g : int
            Index of the grid point, >= 0.
        """
        if g == self._knot_cache[0]:
            return self._knot_cache[1]
        t = g * (self.MOD_GRID_FRAMES / (self.sample_rate * self.MOD_KNOT_S))
        k = int(t)  # t >= 0: truncation is the floor
        u = t - k
        table = self._MOD_TABLE
        a = float(table[k % len(table)])
        b = float(table[(k + 1) % len(table)])
        v = a + (b - a) * (u * u * (3.0 - 2.0 * u))  # smoothstep join
        d = (self.MOD_MIN_MS + self.MOD_RANGE_MS * v) * (1e-3 * self.sample_rate)
        self._knot_cache = (g, d)
        return d

    def _mod_delay_frames(self, n: int) -> np.ndarray:
        """Delay of the left high tail (frames, float64, shape ``(n,)``) for the next block.

        A function of the absolute frame only: each frame's value is
        ``knot + slope * offset`` from the same three operands whatever the chunking.
        """
        grid = self.MOD_GRID_FRAMES
        first, start = divmod(self._frame, grid)
        segments = (start + n + grid - 1) // grid
        if start == 0 and n == grid:  # a mix's quantum: one whole segment
            k0 = self._mod_knot(first)
            slope = (self._mod_knot(first + 1) - k0) * (1.0 / grid)
            return k0 + slope * self._grid_offsets
        knots = np.array([self._mod_knot(first + s) for s in range(segments + 1)])
        slopes = (knots[1:] - knots[:-1]) * (1.0 / grid)
        off = start + np.arange(n, dtype=np.int64)
        seg = off // grid
        return knots[seg] + slopes[seg] * (off - seg * grid).astype(np.float64)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, 2)
        n = x.shape[1]
        mid = ((x[0] + x[1]) * (0.5 * self.wet_level))[None, :]
        wet = self._wet_mono(mid)
        turned = self._allpass.process(wet).astype(np.float32)
        low = (wet + turned) * np.float32(0.5)
        high = (wet - low)[0]
        h = len(self._hist)
        buf = np.concatenate([self._hist, high])
        self._hist = buf[n:].copy()
        # buf[j] is the high tail at absolute frame self._frame - h + j.  Whole and
        # fractional delay come from the absolute-time delay alone, so every chunking
        # reads the same samples with the same weights: tail(t - d) is
        # buf[i] + frac * (buf[i - 1] - buf[i]) with i = h + k - floor(d).
        delay = self._mod_delay_frames(n)
        whole_f = np.floor(delay)
        frac = (delay - whole_f).astype(np.float32)
        step = buf[:-1] - buf[1:]  # step[j] = buf[j] - buf[j + 1]
        ahead = buf[1:]  # ahead[j] = buf[j + 1]
        # im = i - 1 indexes both: ahead[im] = buf[i], step[im] = buf[i - 1] - buf[i]
        base = self._read_base if n == len(self._read_base) else np.arange(h - 1, h - 1 + n)
        im = base - whole_f.astype(np.int64)
        left = ahead[im] + frac * step[im]
        # The right high tail is the left one SIDE_DELAY_MS later (wander and all).
        both = np.concatenate([self._left_hist, left])
        right = both[:n]
        self._left_hist = both[n:].copy()
        self._frame += n
        out = np.empty((2, n), dtype=np.float32)
        np.add(low[0], left, out=out[0])
        np.add(low[0], right, out=out[1])
        return out
