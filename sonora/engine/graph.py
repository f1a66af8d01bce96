"""The mix graph: layers -> sum -> reverb send -> master gain, fades -> limiter.

A :class:`Layer` is one source with its gain, pan/width, optional filter, reverb send
and automation curves for any numeric source parameter.  A :class:`Mix` sums layers,
adds the reverb return, applies the master gain and the session fades, and limits to a
true-peak ceiling.  ``Mix.process(frames)`` streams any block size; internally the
graph runs in fixed quanta aligned to absolute frame positions, so the output does not
depend on the block size.

Examples
--------
>>> from sonora.engine.noise import PinkNoise
>>> mix = Mix([Layer(PinkNoise(seed=1), gain_db=-20.0)], duration_s=2.0)
>>> a = mix.process(96_000); mix.reset()
>>> b = np.concatenate([mix.process(n) for n in (1, 65, 8193, 87_741)], axis=1)
>>> bool(np.array_equal(a, b))
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sonora.engine.automation import Curve
from sonora.engine.base import QUANTUM, Source
from sonora.engine.effects import Filter, Limiter, Reverb, StartleGuard
from sonora.errors import ParameterError, check_number

#: Longest session Sonora renders: 12 hours.
MAX_DURATION_S = 12 * 3600.0
#: Warm-up after a seek for sources that declare none (filters and noise beds settle).
DEFAULT_WARMUP_S = 4.0
#: Warm-up the master chain renders after a seek, seconds: the startle guard's
#: reference window (10 s); the reverb's tail and the limiter settle within it.  The
#: guard decides only once it has 5 s of history, so for a second or two after a seek
#: it can soften a strike a little differently than the continuous render did (at
#: most ~1 dB over 50 ms, measured in tests/engine/test_seek.py); from then on the
#: samples are the same.  (16 s, with a 3 s fade-in, made even that vanish, at 1.6x
#: the cost of the chain's warm-up.)
MASTER_WARMUP_S = 10.0
#: The warm-up after a seek fades in over this long (seconds): no click into the
#: chain, and short enough to leave the guard's history at the sound's level.
WARMUP_RAMP_S = 0.5
#: Longest warm-up a seek renders (a 60 s bowl decay is cut to this).
MAX_WARMUP_S = 40.0


@dataclass
class Layer:
    """One source in the mix.

    Parameters
    ----------
    source : Source
        The sound source.
    gain_db : float or Curve
        Layer gain in dB (automatable).
    pan : float
        Stereo position, -1 (left) to 1 (right).
    width : float
        Stereo width, 0 (mono) to 1 (as generated).
    reverb_send : float
        Linear amount sent to the shared reverb, 0–1.
    filter : Filter or None
        Optional filter applied to the layer.
    automation : mapping of str to Curve
        Curves for the source's parameters.
    name : str
        Label used in messages and mixer UIs.
    """

    source: Source
    gain_db: float | Curve = 0.0
    pan: float = 0.0
    width: float = 1.0
    reverb_send: float = 0.0
    filter: Filter | None = None
    automation: Mapping[str, Curve] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or type(self.source).__name__
        self.name = label
        self.gain_curve = Curve.from_spec(self.gain_db, field=f"{label}.gain_db")
        lo, hi = self.gain_curve.range()
        if hi > 24.0 or lo < -120.0:
            raise ParameterError(f"{label}.gain_db", "must stay within [-120, 24] dB")
        self.pan = check_number(f"{label}.pan", self.pan, low=-1.0, high=1.0)
        self.width = check_number(f"{label}.width", self.width, low=0.0, high=1.0)
        self.reverb_send = check_number(f"{label}.reverb_send", self.reverb_send, low=0.0, high=1.0)
        for pname, curve in self.automation.items():
            spec = type(self.source).PARAMS.get(pname)
            if spec is None:
                allowed = ", ".join(sorted(type(self.source).PARAMS)) or "none"
                raise ParameterError(
                    f"{label}.automation.{pname}",
                    f"not a parameter of this source; allowed: {allowed}",
                )
            clo, chi = curve.range()
            if clo < spec.low or chi > spec.high:
                raise ParameterError(
                    f"{label}.automation.{pname}",
                    f"curve leaves the allowed range [{spec.low:g}, {spec.high:g}] "
                    f"{spec.unit}".rstrip(),
                )
        theta = (self.pan + 1.0) * np.pi / 4
        self._pan_gains = np.array(
            [[np.cos(theta)], [np.sin(theta)]], dtype=np.float32
        ) * np.float32(np.sqrt(2.0))
        #: Extra linear gain set by loudness calibration (1.0 = none).
        self.trim = 1.0
        #: Live mixer gain (linear) set by a listener; applied from the next quantum.
        self.user_gain = 1.0
        self._last_gain = None
        # The gain curve's linear value while it is constant (evaluating it costs ~10 us
        # a quantum); recomputed whenever ``gain_curve`` is replaced.
        self._const_curve: Curve | None = None
        self._const_gain = 1.0

    def reset(self) -> None:
        """Return the layer to the session start."""
        self.source.reset()
        if self.filter is not None:
            self.filter.reset()
        self._last_gain = None

    def seek(self, frame: int) -> None:
        """Jump to absolute ``frame`` (a quantum boundary); see :meth:`Mix.seek`."""
        self.source.seek(frame)
        if self.filter is not None:
            self.filter.reset()
        self._last_gain = None

    def warmup_s(self) -> float:
        """Seconds this layer must render after a seek to sound as it would have.

        The source's ``warmup_s`` when it declares one; otherwise its ``decay_s``
        parameter (ringing sources: earlier strikes still sound) or
        :data:`DEFAULT_WARMUP_S`, whichever is longer.
        """
        declared = getattr(self.source, "warmup_s", None)
        if declared is not None:
            return float(declared)
        decay = self.source.params.get("decay_s", 0.0) if hasattr(self.source, "params") else 0.0
        return float(max(DEFAULT_WARMUP_S, decay))

    def render_quantum(self, start_frame: int, sample_rate: int) -> np.ndarray:
        """Render one quantum of this layer as stereo float32 ``(2, QUANTUM)``."""
        t0 = start_frame / sample_rate
        for pname, curve in self.automation.items():
            self.source.set_param(pname, float(curve.at(t0)))
        x = self.source.process(QUANTUM)
        if x.shape[0] == 1:
            x = np.repeat(x, 2, axis=0) * np.float32(np.sqrt(0.5))
        elif self.width < 1.0:
            mid = (x[0] + x[1]) * 0.5
            side = (x[0] - x[1]) * (0.5 * self.width)
            x = np.stack([mid + side, mid - side])
        if self.pan != 0.0:
            x = x * self._pan_gains
        if self.filter is not None:
            x = self.filter.process(x)
        # Gain: the curve sampled at quantum edges, interpolated linearly per sample.
        curve = self.gain_curve
        if curve is self._const_curve:  # a constant curve: its linear gain, kept
            g_end = self._const_gain
        else:
            g_end = float(10 ** (curve.at((start_frame + QUANTUM) / sample_rate) / 20))
            if curve.is_constant:
                self._const_curve, self._const_gain = curve, g_end
        g_end *= self.trim * self.user_gain
        g_start = g_end if self._last_gain is None else self._last_gain
        self._last_gain = g_end
        if g_start == g_end:
            return (x * np.float32(g_end)).astype(np.float32, copy=False)
        ramp = np.linspace(g_start, g_end, QUANTUM, endpoint=False, dtype=np.float64)
        return (x * ramp.astype(np.float32)).astype(np.float32, copy=False)


def fade_gain(
    frames: np.ndarray, *, sample_rate: int, duration_s: float, fade_in_s: float, fade_out_s: float
) -> np.ndarray:
    """Equal-power fade-in / fade-out gain at absolute frame indices (float64).

    A fade none of ``frames`` is in is not computed: its factor would be
    ``sin(pi / 2) == 1.0`` at every frame (the clipped ratio is 1.0 wherever it is at
    least 1, and rounding is monotonic, so the smallest ratio decides), and multiplying
    by 1.0 changes nothing, so the gain is the same to the bit.
    """
    t = frames / sample_rate
    g = np.ones(t.shape)
    if t.size == 0:
        return g
    if fade_in_s > 0 and float(np.min(t)) / fade_in_s < 1.0:
        g *= np.sin(0.5 * np.pi * np.clip(t / fade_in_s, 0.0, 1.0))
    if fade_out_s > 0 and (duration_s - float(np.max(t))) / fade_out_s < 1.0:
        g *= np.sin(0.5 * np.pi * np.clip((duration_s - t) / fade_out_s, 0.0, 1.0))
    return g


class Mix:
    """Sum of layers with a shared reverb, master gain, fades and a limiter.

    Parameters
    ----------
    layers : sequence of Layer
        The layers; all sources must share one sample rate.
    duration_s : float
        Session length in seconds (0 < d <= 12 h); output ends there.
    master_gain_db : float
        Gain applied after summing (set by loudness calibration).
    fade_in_s, fade_out_s : float
        Equal-power fades at the start and end, in seconds.
    reverb : Reverb or None
        Shared reverb fed by each layer's ``reverb_send``.
    ceiling_dbtp : float or None
        Limiter ceiling in dBTP; ``None`` disables the limiter.
    startle_guard : bool
        Enforce the no-startle rule on the mix after the fades (see
        :class:`~sonora.engine.effects.StartleGuard`).
    """

    channels = 2

    def __init__(
        self,
        layers: Sequence[Layer],
        *,
        duration_s: float,
        master_gain_db: float = 0.0,
        fade_in_s: float = 0.0,
        fade_out_s: float = 0.0,
        reverb: Reverb | None = None,
        ceiling_dbtp: float | None = -1.5,
        startle_guard: bool = True,
    ) -> None:
        if not layers:
            raise ParameterError("layers", "a mix needs at least one layer")
        rates = {layer.source.sample_rate for layer in layers}
        if len(rates) != 1:
            raise ParameterError(
                "layers", f"all layers must share one sample rate, got {sorted(rates)}"
            )
        self.sample_rate = rates.pop()
        self.layers = list(layers)
        self.duration_s = check_number(
            "duration_s", duration_s, low=0.0, high=MAX_DURATION_S, low_inclusive=False, unit=" s"
        )
        self.total_frames = round(self.duration_s * self.sample_rate)
        if self.total_frames < 1:
            raise ParameterError("duration_s", "must be at least one frame long")
        self.master_gain_db = check_number("master_gain_db", master_gain_db, low=-120.0, high=60.0)
        self.fade_in_s = check_number("fade_in_s", fade_in_s, low=0.0, high=self.duration_s)
        self.fade_out_s = check_number("fade_out_s", fade_out_s, low=0.0, high=self.duration_s)
        self.reverb = reverb
        if reverb is not None and reverb.sample_rate != self.sample_rate:
            raise ParameterError("reverb", "reverb sample rate differs from the layers'")
        self.guard = StartleGuard(sample_rate=self.sample_rate) if startle_guard else None
        self.limiter = (
            None
            if ceiling_dbtp is None
            else Limiter(ceiling_dbtp=ceiling_dbtp, sample_rate=self.sample_rate)
        )
        self.reset()

    @property
    def latency_frames(self) -> int:
        """Internal delay of guard and limiter (compensated: output starts at frame 0)."""
        return self._guard_latency + (0 if self.limiter is None else self.limiter.latency_frames)

    @property
    def _guard_latency(self) -> int:
        return 0 if self.guard is None else self.guard.latency_frames

    def reset(self) -> None:
        """Return to the start of the session."""
        for layer in self.layers:
            layer.reset()
        if self.reverb is not None:
            self.reverb.reset()
        if self.limiter is not None:
            self.limiter.reset()
        if self.guard is not None:
            self.guard.reset()
        self._frame = 0  # next internal quantum start (pre-limiter time)
        self._emitted = 0  # frames handed to the caller
        self._fifo = np.zeros((2, 0), dtype=np.float32)
        self._skip = self.latency_frames  # limiter delay to drop from the output start
        self._warm_ramp: tuple[int, int] | None = None  # (start, frames) after a seek
        #: Where source quanta come from when not rendered here: ``feed(start)``.
        self._feed: Callable[[int], np.ndarray] | None = None
        #: Where some layers' quanta come from when not rendered here:
        #: ``layer_feed(index)``, ``None`` for the layers rendered here.
        self._layer_feed: Callable[[int], np.ndarray | None] | None = None

    @property
    def position_frames(self) -> int:
        """Frames already returned by :meth:`process`."""
        return self._emitted

    @property
    def remaining_frames(self) -> int:
        """Frames left until the end of the session."""
        return self.total_frames - self._emitted

    def warmup_s(self) -> float:
        """Seconds :meth:`seek` renders before its target (layers and master chain)."""
        w = max([layer.warmup_s() for layer in self.layers], default=DEFAULT_WARMUP_S)
        if self.guard is not None or self.reverb is not None:
            w = max(w, MASTER_WARMUP_S)
        return float(min(w, MAX_WARMUP_S))

    def seek(self, frame: int, *, warmup_s: float | None = None) -> None:
        """Move to absolute output ``frame`` at the cost of a short warm-up, not a replay.

        Sources compute on absolute frame positions, so the mix restarts every layer at
        a quantum ``warmup_s`` seconds before ``frame`` (:meth:`Layer.seek`), renders
        from there through the whole chain (layers, reverb, fades, startle guard,
        limiter) and discards it, so filters, reverb tails, ringing voices and the
        guard's loudness history are in place when the output reaches ``frame``.
        What a warm-up cannot recreate is randomness drawn in order (the exact noise
        samples, which bowl is struck): after a seek those are a different draw with
        the same statistics.  Seeking to within ``warmup_s`` of the start renders from
        the start (exactly the continuous output).

        Parameters
        ----------
        frame : int
            Output frame to continue from, 0 to ``total_frames``.
        warmup_s : float, optional
            Override of :meth:`warmup_s`.
        """
        target = int(min(max(int(frame), 0), self.total_frames))
        warm = round((self.warmup_s() if warmup_s is None else float(warmup_s)) * self.sample_rate)
        # The master chain (reverb, guard, limiter) warms up for MASTER_WARMUP_S; a layer
        # that needs longer (a bowl still ringing) warms up alone before that, so the
        # whole mix is never rendered for the longest warm-up.
        master = min(warm, round(MASTER_WARMUP_S * self.sample_rate))
        start = (target + self.latency_frames - master) // QUANTUM * QUANTUM
        if self.position_frames <= target <= self.position_frames + warm:
            pass  # close ahead: rendering forward is cheaper and exact
        elif (target + self.latency_frames - warm) // QUANTUM * QUANTUM <= self.latency_frames:
            self.reset()  # near the start: render from it (exact)
        else:
            self.reset()
            for layer in self.layers:
                own = round(min(layer.warmup_s(), warm / self.sample_rate) * self.sample_rate)
                first = min(start, (target + self.latency_frames - own) // QUANTUM * QUANTUM)
                layer.seek(first)
                for f in range(first, start, QUANTUM):  # the layer alone, discarded
                    layer.render_quantum(f, self.sample_rate)
            self._frame = start
            if self.reverb is not None:
                self.reverb.start_at(start)  # its slow delay wander follows absolute time
            self._skip = 0
            self._emitted = start - self.latency_frames
            # Fade the warm-up in, as the session itself fades in, so the startle
            # guard's 10 s history rises gently instead of jumping from silence.
            self._warm_ramp = (start, round(WARMUP_RAMP_S * self.sample_rate))
        while self._emitted < target:
            self.process(min(QUANTUM * 16, target - self._emitted))

    def _layer_quantum(self, index: int, layer: Layer, start: int) -> np.ndarray:
        """Layer ``index``'s quantum at ``start``: rendered here, or handed over by
        :attr:`_layer_feed` (another process renders that layer: sonora.engine.forked)."""
        if self._layer_feed is not None:
            y = self._layer_feed(index)
            if y is not None:
                return y
        return layer.render_quantum(start, self.sample_rate)

    def _source_stage(self, start: int) -> tuple[np.ndarray, np.ndarray | None]:
        acc = np.zeros((2, QUANTUM), dtype=np.float32)
        if self.reverb is not None and all(layer.reverb_send == 1.0 for layer in self.layers):
            # Everything goes to the reverb at full level (common): the send is the sum.
            for i, layer in enumerate(self.layers):
                acc += self._layer_quantum(i, layer, start)
            return acc, acc.copy()
        send = np.zeros((2, QUANTUM), dtype=np.float32) if self.reverb is not None else None
        for i, layer in enumerate(self.layers):
            y = self._layer_quantum(i, layer, start)
            acc += y
            if send is not None and layer.reverb_send > 0:
                send += y * np.float32(layer.reverb_send)
        return acc, send

    def source_quantum(self, start: int) -> np.ndarray:
        """The layers' sum plus the reverb return for the quantum at ``start``.

        What the master stage (gain, fades, startle guard, limiter) works on; it does
        not depend on the master gain.  Rendered in order, one quantum after another
        (the layers and the reverb keep their state).

        Returns
        -------
        numpy.ndarray
            float32 ``(2, QUANTUM)``, a new array.
        """
        acc, send = self._source_stage(start)
        if send is not None:
            acc += self.reverb.process(send)
        return acc

    def _render_quantum(self) -> np.ndarray:
        start = self._frame
        # With a feed (another process renders the layers: sonora.engine.render), the
        # quantum arrives ready; otherwise it is rendered here.
        acc = self._feed(start) if self._feed is not None else self.source_quantum(start)
        master = 10 ** (self.master_gain_db / 20)
        end = start + QUANTUM
        fade_in_end = self.fade_in_s * self.sample_rate
        fade_out_start = self.total_frames - self.fade_out_s * self.sample_rate
        if start >= fade_in_end and end <= fade_out_start:
            acc *= np.float32(master)
        else:
            idx = np.arange(start, end, dtype=np.float64)
            gain = (
                fade_gain(
                    idx,
                    sample_rate=self.sample_rate,
                    duration_s=self.duration_s,
                    fade_in_s=self.fade_in_s,
                    fade_out_s=self.fade_out_s,
                )
                * master
            )
            gain[idx >= self.total_frames] = 0.0
            acc *= gain.astype(np.float32)
        if self._warm_ramp is not None:  # a seek's warm-up starts with a fade-in too
            ramp_start, ramp_frames = self._warm_ramp
            if start < ramp_start + ramp_frames:
                idx = np.arange(start, end, dtype=np.float64) - ramp_start
                acc *= (np.sin(0.5 * np.pi * np.clip(idx / ramp_frames, 0.0, 1.0)) ** 2).astype(
                    np.float32
                )
            else:
                self._warm_ramp = None
        if self.guard is not None:  # after the fades: it also sees a fade-in as history
            acc = self.guard.process(acc)
        if self.limiter is not None:
            acc = self.limiter.process(acc)
        self._frame += QUANTUM
        return acc

    def process(self, frames: int) -> np.ndarray:
        """Return the next ``frames`` frames (fewer at the end of the session).

        Returns
        -------
        numpy.ndarray
            float32 ``(2, n)`` with ``n = min(frames, remaining_frames)``.
        """
        if frames < 0:
            raise ParameterError("frames", f"must be >= 0, got {frames}")
        frames = min(frames, self.remaining_frames)
        # Each quantum is copied once, straight into the output (no concatenation and
        # second copy); what is left of the last one waits for the next call.
        out = np.empty((2, frames), dtype=np.float32)
        have = min(self._fifo.shape[1], frames)
        out[:, :have] = self._fifo[:, :have]
        rest = self._fifo[:, have:]
        while have < frames:
            q = self._render_quantum()
            if self._skip:
                drop = min(self._skip, q.shape[1])
                q = q[:, drop:]
                self._skip -= drop
            take = min(q.shape[1], frames - have)
            out[:, have : have + take] = q[:, :take]
            rest = q[:, take:]
            have += take
        self._fifo = rest
        self._emitted += frames
        return out

    def blocks(self, block_frames: int = QUANTUM * 4):
        """Yield the whole session as consecutive float32 ``(2, n)`` blocks."""
        while self.remaining_frames > 0:
            yield self.process(block_frames)
