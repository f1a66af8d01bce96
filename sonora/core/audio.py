"""Live audio for the web app: calibration, stream renderers and the live mixer.

* :class:`Calibrator` measures a plan's loudness once, in background threads, as
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

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonora.core.database import Database
from sonora.engine.base import QUANTUM
from sonora.engine.encoders import ChunkSink, Encoder
from sonora.engine.graph import Mix
from sonora.plan import Plan
from sonora.plan.render import plan_mix
from sonora.scenes.build import build_mix
from sonora.store import plan_key

__all__ = ["FORMATS", "Calibrator", "Renderer", "StreamHub"]

#: Stream formats: name -> (encoder format, media type, file extension).
FORMATS: dict[str, tuple[str, str, str]] = {
    "opus": ("opus", "audio/ogg; codecs=opus", "opus"),
    "mp3": ("mp3", "audio/mpeg", "mp3"),
}
#: Frames rendered per step of a stream.
CHUNK_FRAMES = QUANTUM
#: Live gain range (linear): 0 (off) to 2 (+6 dB).
MAX_USER_GAIN = 2.0


class Calibrator:
    """Loudness calibration of plans, computed once in background threads.

    Parameters
    ----------
    store : Database
        Where results are kept (``plans.calibration``).
    sample_rate : int
        Render sample rate, Hz.
    target_lufs : float
        Integrated loudness target.
    workers : int
        Threads measuring at once.
    """

    def __init__(
        self, store: Database, *, sample_rate: int, target_lufs: float, workers: int
    ) -> None:
        self.store = store
        self.sample_rate = sample_rate
        self.target_lufs = target_lufs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sonora-calib")
        self._lock = threading.Lock()
        self._jobs: dict[str, Future[dict[str, Any]]] = {}

    def key(self, plan: dict[str, Any]) -> str:
        """Key of a calibration: the plan content, sample rate and target."""
        return f"{plan_key(plan)}:{self.sample_rate}:{self.target_lufs:g}"

    def ensure(
        self, plan_id: str, plan: dict[str, Any], stored: dict[str, Any] | None
    ) -> Future[dict[str, Any]]:
        """A future for the calibration of ``plan`` (done at once when already stored)."""
        key = self.key(plan)
        if stored is not None and stored.get("key") == key:
            f: Future[dict[str, Any]] = Future()
            f.set_result(stored)
            return f
        with self._lock:
            job = self._jobs.get(key)
            if job is None or (job.done() and job.exception() is not None):
                job = self._pool.submit(self._measure, plan_id, plan, key)
                self._jobs[key] = job
                if len(self._jobs) > 512:  # forget finished jobs (results are in the store)
                    for k in [k for k, j in self._jobs.items() if j.done()][:256]:
                        self._jobs.pop(k, None)
            return job

    def _measure(self, plan_id: str, plan: dict[str, Any], key: str) -> dict[str, Any]:
        p = Plan.from_dict(plan)
        if p.quiet_rest:
            result: dict[str, Any] = {"key": key, "plan_key": plan_key(plan), "quiet": True}
        else:
            # The plan's own calibration: it knows its trajectory (a sleep descent), so
            # the session lands on the target, not 1-2 LU above it.
            mix = plan_mix(p, sample_rate=self.sample_rate, target_lufs=self.target_lufs)
            result = {
                "key": key,
                "plan_key": plan_key(plan),
                "trims": [float(layer.trim) for layer in mix.layers],
                "master_gain_db": float(mix.master_gain_db),
            }
        self.store.set_calibration(plan_id, result)
        return result

    def close(self) -> None:
        """Stop accepting work; running measurements finish in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def build_stream_mix(
    plan: Plan, calibration: dict[str, Any], *, sample_rate: int, gains: list[float] | None
) -> Mix:
    """The plan's graph with a stored calibration and the listener's mixer gains."""
    mix = build_mix(
        plan.to_scene(),
        duration_s=plan.duration_s,
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
        self.mix = mix
        self.sample_rate = mix.sample_rate
        self._keep = int(history_s * self.sample_rate)
        self._recent: collections.deque[np.ndarray] = collections.deque()
        self._recent_frames = 0
        self._cursor = 0  # next frame to hand out (may lag the mix when resuming)

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
        """Move to ``offset_s`` (must be ``>= earliest_s``), rendering forward if needed."""
        target = min(round(offset_s * self.sample_rate), self.total_frames)
        while self.mix.position_frames < target and not should_stop():
            self._render(min(QUANTUM * 16, target - self.mix.position_frames))
        self._cursor = max(target, self.mix.position_frames - self._recent_frames)

    def _render(self, frames: int) -> np.ndarray:
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

    def next_chunk(self, *, min_bytes: int = 1, max_frames: int = CHUNK_FRAMES * 4) -> bytes:
        """Encode audio until at least ``min_bytes`` are ready (``b""`` at the very end)."""
        assert self.encoder is not None
        out = bytearray(self.sink.drain())
        rendered = 0
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
