"""Live audio for the web app: stream renderers and the live mixer.

* :class:`~sonora.core.calibration.Calibrator` (in :mod:`sonora.core.calibration`) measures a plan's loudness once, in background threads, as
  soon as the plan exists (while the listener reads it), and keeps the result in the
  store; a stream then starts from a graph built *without* calibration
  (``build_mix(..., target_lufs=None)``) with the stored per-layer trims and master
  gain applied, which takes milliseconds.
* :class:`Renderer` owns one :class:`~sonora.engine.graph.Mix` and turns it into
  encoded chunks (Ogg Opus or MP3) with :class:`~sonora.engine.encoders.ChunkSink`.
  It keeps the last few seconds of rendered audio so a dropped connection can resume
  exactly where the listener was.
* :class:`StreamHub` tracks the renderers of every plan: live gain changes reach the
  ones playing, and a renderer whose client went away is parked for
  ``resume_grace_s`` so a resume does not render from the start again.
"""

from __future__ import annotations

import asyncio
import collections
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.encoders import ChunkSink, Encoder
from sonora.engine.graph import Mix
from sonora.plan import Plan
from sonora.scenes.build import LAYER_REFERENCE_LUFS, build_mix
from sonora.scenes.source_loudness import loudness_bound_lufs

__all__ = [
    "FORMATS",
    "Renderer",
    "StreamHub",
    "StreamJob",
    "build_stream_mix",
    "glide_when_calibrated",
    "provisional_calibration",
    "wait_for_future",
]

#: Stream formats: name -> (encoder format, media type, file extension).
FORMATS: dict[str, tuple[str, str, str]] = {
    "opus": ("opus", "audio/ogg; codecs=opus", "opus"),
    "mp3": ("mp3", "audio/mpeg", "mp3"),
}
#: Frames rendered per step of a stream.
CHUNK_FRAMES = QUANTUM
#: Live gain range (linear): 0 (off) to 2 (+6 dB).
MAX_USER_GAIN = 2.0

#: A provisional calibration (stream started before the measurement) stays this many
#: dB below the estimate, so the glide to the measured gain goes up, never down hard.
PROVISIONAL_MARGIN_DB = 4.0
#: Seconds over which a stream glides from its provisional to its calibrated gain.
GLIDE_S = 4.0


def provisional_calibration(plan: Plan, *, sample_rate: int, target_lufs: float) -> dict[str, Any]:
    """A safe calibration in microseconds, for a stream that cannot wait for the real one.

    Nothing is rendered: each layer's trim comes from its source's measured loudness
    table (:func:`~sonora.scenes.source_loudness.loudness_bound_lufs`, an upper bound
    of the source's loudness at its starting parameters, so the layer is at or below
    -23 LUFS at 0 dB); a source the table does not know is measured as
    :func:`~sonora.plan.render.analysis_mix` does.  The master gain assumes every
    layer at its loudest gain, summed in power, and stays :data:`PROVISIONAL_MARGIN_DB`
    below that, so the provisional stream is never louder than the calibrated one is
    meant to be.  ``sample_rate`` only matters for the fallback measurement.

    Returns
    -------
    dict
        ``trims`` (linear), ``master_gain_db`` and ``provisional: True``.
    """
    scene = plan.to_scene()
    trims_db, powers = [], []
    for spec in scene.layers:
        start = dict(spec.params)
        for name, curve in spec.automation.items():
            start[name] = float(curve.at(0.0))
        bound = loudness_bound_lufs(spec.source, start)
        if bound is None or not math.isfinite(bound):
            trims_db.append(_measured_trim_db(spec.source, start, sample_rate))
        else:
            trims_db.append(LAYER_REFERENCE_LUFS - bound)
        powers.append(10 ** ((LAYER_REFERENCE_LUFS + spec.gain_db.range()[1]) / 10))
    predicted = 10 * math.log10(sum(powers)) if powers else LAYER_REFERENCE_LUFS
    return {
        "trims": [float(10 ** (t / 20.0)) for t in trims_db],
        "master_gain_db": float(target_lufs - predicted - PROVISIONAL_MARGIN_DB),
        "provisional": True,
    }


def _measured_trim_db(source: str, params: dict[str, float], sample_rate: int) -> float:
    """The excerpt calibration's trim (dB) of a source the loudness table lacks."""
    from sonora.plan.render import excerpt_trim_db

    return excerpt_trim_db(source, params, sample_rate)


def _read_outcome(fut: asyncio.Future[Any]) -> None:
    """Mark a finished future's exception as retrieved (its waiter may have gone)."""
    if not fut.cancelled():
        fut.exception()


async def wait_for_future(
    future: Future[dict[str, Any]], timeout_s: float | None
) -> dict[str, Any] | None:
    """The calibration, awaited without blocking a thread; ``None`` after ``timeout_s``
    (or when the measurement failed or was dropped)."""
    if future.done():
        if future.cancelled() or future.exception() is not None:
            return None
        return future.result()
    wrapped = asyncio.wrap_future(future)
    # After a timeout nobody awaits the shielded future: read its outcome when it ends, so
    # a measurement stopped at shutdown (or failed) logs no "exception never retrieved".
    wrapped.add_done_callback(_read_outcome)
    try:
        return await asyncio.wait_for(asyncio.shield(wrapped), timeout_s)
    except TimeoutError:
        return None
    except Exception:  # the measurement failed
        if not future.done() or future.cancelled():
            return None
        if future.exception() is not None:
            return None
        return future.result()


def glide_when_calibrated(renderer: Renderer, future: Future[dict[str, Any]]) -> None:
    """When the measurement arrives, glide ``renderer`` from its provisional gain to it."""

    def done(f: Future[dict[str, Any]]) -> None:
        if not f.cancelled() and f.exception() is None:
            renderer.glide_to(f.result())

    future.add_done_callback(done)


def build_stream_mix(
    plan: Plan,
    calibration: dict[str, Any],
    *,
    sample_rate: int,
    gains: list[float] | None,
    duration_s: float | None = None,
) -> Mix:
    """The plan's graph with a stored calibration and the listener's mixer gains.

    ``duration_s`` longer than the plan renders on with the plan's final state held
    (the endless mode for sleep); by default the plan's own length.
    """
    mix = build_mix(
        plan.to_scene(),
        duration_s=plan.duration_s if duration_s is None else duration_s,
        seed=plan.seed,
        sample_rate=sample_rate,
        target_lufs=None,
    )
    trims = calibration.get("trims") or []
    if len(trims) == len(mix.layers):
        for layer, trim in zip(mix.layers, trims, strict=True):
            layer.trim = float(trim)
    mix.master_gain_db = float(calibration.get("master_gain_db", 0.0))
    if gains is not None and len(gains) == len(mix.layers):
        for layer, g in zip(mix.layers, gains, strict=True):
            layer.user_gain = float(min(max(g, 0.0), MAX_USER_GAIN))
    return mix


class Renderer:
    """Renders one plan's mix; encoders come and go with connections.

    Parameters
    ----------
    mix : Mix
        The graph, at its start.
    history_s : float
        Seconds of recent audio kept for resuming.
    """

    def __init__(self, mix: Mix, *, history_s: float) -> None:
        from sonora.engine.encoders import LOSSY_CEILING_DBTP
        from sonora.engine.render import lower_ceiling

        lower_ceiling(mix, LOSSY_CEILING_DBTP)  # streams are Opus or MP3: decoded <= -1 dBTP
        self.mix = mix
        self.sample_rate = mix.sample_rate
        self._keep = int(history_s * self.sample_rate)
        self._recent: collections.deque[np.ndarray] = collections.deque()
        self._recent_frames = 0
        self._cursor = 0  # next frame to hand out (may lag the mix when resuming)

        self._glide: tuple[list[float], int] | None = None
        self._glide_plan: list[list[float]] | None = None
        self._glide_step = 0

    @property
    def total_frames(self) -> int:
        return self.mix.total_frames

    @property
    def position_s(self) -> float:
        """Where the next chunk starts, seconds into the session."""
        return self._cursor / self.sample_rate

    @property
    def earliest_s(self) -> float:
        """Earliest offset this renderer can still serve without starting over."""
        return (self.mix.position_frames - self._recent_frames) / self.sample_rate

    def can_serve(self, offset_s: float) -> bool:
        """Whether a stream can start at ``offset_s`` from here."""
        return offset_s + 1e-9 >= self.earliest_s

    def seek(self, offset_s: float, *, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Move to ``offset_s``.

        From audio kept for a resume when it is there; by rendering forward when the
        offset is a little ahead; otherwise by the mix's warm-up seek
        (:meth:`~sonora.engine.graph.Mix.seek`: a few seconds rendered before the
        offset, never the whole session before it), so any offset starts in well
        under a second.
        """
        target = min(round(offset_s * self.sample_rate), self.total_frames)
        pos = self.mix.position_frames
        kept_from = pos - self._recent_frames
        if target < kept_from or target > pos + round(self.mix.warmup_s() * self.sample_rate):
            self.mix.seek(target)
            self._recent.clear()
            self._recent_frames = 0
        while self.mix.position_frames < target and not should_stop():
            self._render(min(QUANTUM * 16, target - self.mix.position_frames))
        self._cursor = max(target, self.mix.position_frames - self._recent_frames)

    def glide_to(self, calibration: dict[str, Any], *, glide_s: float = GLIDE_S) -> None:
        """Move smoothly to ``calibration`` (trims and master gain) over ``glide_s``.

        The master gain stays where it is; the change is folded into each layer's
        trim, which the layer interpolates sample by sample, and the trims move in
        equal dB steps per quantum, so the level glides without a step.
        """
        trims = calibration.get("trims") or []
        if len(trims) != len(self.mix.layers):
            return
        fold = 10 ** (
            (float(calibration.get("master_gain_db", 0.0)) - self.mix.master_gain_db) / 20
        )
        targets = [max(float(t) * fold, 1e-9) for t in trims]
        steps = max(1, round(glide_s * self.sample_rate / QUANTUM))
        self._glide = (targets, steps)  # picked up by the rendering thread

    def _step_glide(self) -> None:
        glide, self._glide = self._glide, None
        if glide is not None:
            targets, steps = glide
            starts = [max(layer.trim, 1e-9) for layer in self.mix.layers]
            self._glide_plan = [
                [s * (t / s) ** (k / steps) for k in range(1, steps + 1)]
                for s, t in zip(starts, targets, strict=True)
            ]
            self._glide_step = 0
        plan = self._glide_plan
        if plan is None:
            return
        for layer, values in zip(self.mix.layers, plan, strict=True):
            layer.trim = float(values[self._glide_step])
        self._glide_step += 1
        if self._glide_step >= len(plan[0]):
            self._glide_plan = None

    def _render(self, frames: int) -> np.ndarray:
        if self._glide is not None or self._glide_plan is not None:
            # One quantum at a time while gliding (the trim changes per quantum).
            parts = []
            while frames > 0 and self.mix.remaining_frames > 0:
                n = min(frames, QUANTUM - (self.mix.position_frames % QUANTUM) or QUANTUM)
                self._step_glide()
                parts.append(self.mix.process(n))
                frames -= n
            block = np.concatenate(parts, axis=1) if parts else self.mix.process(0)
        else:
            block = self.mix.process(frames)
        if self._keep > 0 and block.shape[1]:
            self._recent.append(block)
            self._recent_frames += block.shape[1]
            while self._recent and self._recent_frames - self._recent[0].shape[1] >= self._keep:
                self._recent_frames -= self._recent.popleft().shape[1]
        return block

    def next_block(self, frames: int = CHUNK_FRAMES) -> np.ndarray:
        """The next ``frames`` of audio from the cursor (fewer at the end)."""
        behind = self.mix.position_frames - self._cursor
        if behind > 0:  # serve from the kept audio first
            kept = np.concatenate(list(self._recent), axis=1)
            start = kept.shape[1] - behind
            out = kept[:, start : start + frames]
        else:
            out = self._render(frames)
        self._cursor += out.shape[1]
        return out

    @property
    def finished(self) -> bool:
        return self._cursor >= self.total_frames


@dataclass
class StreamJob:
    """One connection's encoder over a :class:`Renderer`."""

    renderer: Renderer
    fmt: str
    compression: float
    opus_complexity: int = 10
    sink: ChunkSink = field(default_factory=ChunkSink)
    encoder: Encoder | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        self.encoder = Encoder(
            self.sink,
            sample_rate=self.renderer.sample_rate,
            channels=2,
            format=FORMATS[self.fmt][0],
            compression_level=self.compression,
            opus_complexity=self.opus_complexity,
        )

    def next_chunk(
        self, *, min_bytes: int = 1, max_frames: int = CHUNK_FRAMES * 4, min_frames: int = 0
    ) -> bytes:
        """Encode audio until at least ``min_bytes`` are ready (``b""`` at the very end).

        ``min_frames`` > 0 encodes at least that many frames (whole chunks of
        :data:`CHUNK_FRAMES`; fewer at the end) in this call, whatever ``min_bytes``
        and ``max_frames`` say: one trip to a worker thread for a second of audio
        rather than a dozen.
        """
        assert self.encoder is not None
        out = bytearray(self.sink.drain())
        rendered = 0
        if min_frames > 0:
            min_bytes, max_frames = 1 << 62, min_frames
        while len(out) < min_bytes and not self.closed:
            if self.renderer.finished:
                self.encoder.close()
                self.closed = True
                out += self.sink.drain()
                break
            block = self.renderer.next_block(CHUNK_FRAMES)
            self.encoder.write(block)
            rendered += block.shape[1]
            out += self.sink.drain()
            if rendered >= max_frames and out:
                break
        return bytes(out)

    def abort(self) -> None:
        if not self.closed and self.encoder is not None:
            self.encoder.abort()
            self.closed = True


class StreamHub:
    """Every renderer in use or parked, by plan.

    Parameters
    ----------
    grace_s : float
        How long a renderer whose client left is kept for a resume.
    max_parked : int
        Most renderers kept for resuming at once (each holds its graph and a few
        seconds of audio, about 3 MB); the oldest goes first.
    """

    def __init__(self, *, grace_s: float, max_parked: int = 64) -> None:
        self.grace_s = grace_s
        self.max_parked = max_parked
        self._lock = threading.Lock()
        self._active: dict[str, list[Renderer]] = {}
        self._parked: dict[tuple[str, str], tuple[Renderer, float]] = {}
        self._short = 0

    @property
    def short(self) -> int:
        """Streams whose listener has a thin cushion right now (see :meth:`set_short`)."""
        return self._short

    def set_short(self, short: bool) -> None:
        """Count a stream in (``True``) or out of the ones with a thin cushion.

        A stream starting, or fallen behind, is *short*; streams well ahead give way to
        it before their next refill (:mod:`sonora.web.stream`), so under load the
        machine's time goes first to the listeners about to run dry.  Each ``True``
        must be matched by a ``False``.
        """
        with self._lock:
            self._short += 1 if short else -1

    def active_count(self) -> int:
        """Renderers streaming right now."""
        with self._lock:
            return sum(len(v) for v in self._active.values())

    def take(self, plan_id: str, key: str, offset_s: float) -> Renderer | None:
        """A parked renderer of this plan content that can serve ``offset_s``."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            item = self._parked.get((plan_id, key))
            if item is None or not item[0].can_serve(offset_s):
                return None
            del self._parked[(plan_id, key)]
            return item[0]

    def activate(self, plan_id: str, renderer: Renderer) -> None:
        with self._lock:
            self._active.setdefault(plan_id, []).append(renderer)

    def release(self, plan_id: str, key: str, renderer: Renderer, *, park: bool) -> None:
        """A connection ended; keep its renderer for a resume if ``park``."""
        with self._lock:
            lst = self._active.get(plan_id, [])
            if renderer in lst:
                lst.remove(renderer)
            if not lst:
                self._active.pop(plan_id, None)
            if park and self.grace_s > 0 and not renderer.finished:
                self._parked.pop((plan_id, key), None)
                self._parked[(plan_id, key)] = (renderer, time.monotonic())
            self._expire(time.monotonic())
            while len(self._parked) > self.max_parked:  # dicts keep insertion order
                del self._parked[next(iter(self._parked))]

    def set_gains(self, plan_id: str, gains: list[float]) -> int:
        """Apply mixer gains (linear, per layer) to every renderer of the plan, live.

        Returns
        -------
        int
            Renderers that took the change.
        """
        with self._lock:
            targets = list(self._active.get(plan_id, []))
            targets += [r for (pid, _), (r, _) in self._parked.items() if pid == plan_id]
        n = 0
        for r in targets:
            if len(r.mix.layers) == len(gains):
                for layer, g in zip(r.mix.layers, gains, strict=True):
                    layer.user_gain = float(g)
                n += 1
        return n

    def forget_plan(self, plan_id: str) -> None:
        """Drop parked renderers of a plan (its content changed or it was deleted)."""
        with self._lock:
            for k in [k for k in self._parked if k[0] == plan_id]:
                del self._parked[k]

    def _expire(self, now: float) -> None:
        for k in [k for k, (_, t) in self._parked.items() if now - t > self.grace_s]:
            del self._parked[k]
