"""Streaming render of a :class:`~sonora.engine.graph.Mix` to a file.

Threads share the work: one renders the graph, one encodes and, when the render is
checked, one measures loudness and true peak; the renderer hands each block to the
others through small bounded queues, so memory stays a few blocks deep whatever the
duration.  Encoding (inside libsndfile) and measuring (inside scipy's filter kernel and
numpy's matrix product) mostly run without the GIL, so on two cores they overlap with
the rendering instead of queueing behind it: measured on ``sonora render`` of a
10-minute scene, the encoder plus the meter on one thread took longer than the
renderer and set the pace.

(Rendering the layers of the next quantum in a third thread was tried and measured,
then removed: on this 2-core machine it made workload W ~20 % *slower*,
170x -> 135x real time, because both render threads hand the GIL back and forth
between many small numpy calls.  The encoder mostly runs inside libsndfile without the
GIL, so it overlaps well.)

With ``processes=2`` (what ``sonora render`` uses on a machine with two or more
cores) the layers and the reverb, which hold the GIL most of the time, render in a
forked child process that hands each quantum to the parent through a pipe; the parent
runs the master stage (gain, fades, startle guard, limiter), the encoder and the
meter, and, when that leaves the child clearly the busier, a few of the layers too
(:func:`~sonora.engine.forked.source_feed`).  The child runs the very same code on
the very same state, so the file is bit-for-bit the one a single process writes
(``tests/engine/test_forked.py``, ``tests/engine/test_forked_split.py``).  Only
a mix that starts at its beginning is split, and only where ``os.fork`` exists; the
child dies with its parent (a broken pipe) and is killed when the render stops.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.effects import Limiter
from sonora.engine.encoders import LOSSY_CEILING_DBTP, Encoder
from sonora.engine.forked import source_feed
from sonora.engine.graph import Mix
from sonora.engine.loudness import LoudnessMeter, measure_file

#: Frames per block handed from the render thread to the encoder thread.
BLOCK_FRAMES = QUANTUM * 8


def render_to_file(
    mix: Mix,
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    compression_level: float | None = None,
    block_frames: int = BLOCK_FRAMES,
    meter: LoudnessMeter | None = None,
    tags: dict[str, str] | None = None,
    processes: int = 1,
) -> Path:
    """Render ``mix`` from its current position to the end into ``path``.

    For a lossy format (Opus, MP3) the mix's limiter ceiling is lowered to
    :data:`~sonora.engine.encoders.LOSSY_CEILING_DBTP` when it is higher (and the
    render starts at the beginning), so that the *decoded* true peak stays at or
    below -1 dBTP.

    Parameters
    ----------
    mix : Mix
        The session graph (rendered from wherever it stands; call ``reset`` first
        to start over).
    path : path-like
        Output file; the format follows the extension.  Written atomically.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each block.
    compression_level : float, optional
        Encoder compression, 0 to 1; by default the format's own (FLAC: 0, fastest;
        Opus: 0.8, about 110 kbit/s; MP3: 0.6, about 115 kbit/s).
    block_frames : int
        Frames per block passed between threads.
    meter : LoudnessMeter, optional
        Fed every block as it is encoded (clipped to [-1, 1], as the encoder writes
        it): loudness and true peak measured in the stream, in constant memory.  For
        a lossy format, measure the decoded file instead (:func:`measure_decoded`).
    tags : mapping of str to str, optional
        File metadata (see :data:`~sonora.engine.encoders.TAG_NAMES`).
    processes : int
        2 (or more) renders the layers in a forked child process (see the module
        docstring; same bytes); 1 keeps everything in this process.  Falls back to 1
        where ``os.fork`` is missing or the mix does not start at its beginning.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    enc = Encoder(
        path,
        sample_rate=mix.sample_rate,
        channels=2,
        compression_level=compression_level,
        tags=tags,
    )
    if enc.lossy:
        lower_ceiling(mix, LOSSY_CEILING_DBTP)
    # Fork (when asked) before any thread of ours exists: the child gets a quiet copy.
    feed = ExitStack()
    try:
        feed.enter_context(
            source_feed(
                mix,
                processes,
                parent_threads_s=lambda: _sink_cost_s(
                    enc, mix.sample_rate, compression_level, meter
                ),
            )
        )
    except BaseException:
        enc.abort()
        raise
    with feed:
        stop = threading.Event()
        errors: list[BaseException] = []

        def consume(q: queue.Queue[np.ndarray | None], use: Callable[[np.ndarray], None]) -> None:
            try:
                while True:
                    block = q.get()
                    if block is None:
                        return
                    use(block)
            except BaseException as exc:
                errors.append(exc)
                stop.set()
                while q.get() is not None:  # drain so the producer never blocks
                    pass

        def measure(block: np.ndarray) -> None:
            assert meter is not None
            # what the encoder writes: clipped to [-1, 1]
            over = float(block.max()) > 1.0 or float(block.min()) < -1.0
            meter.add(np.clip(block, -1.0, 1.0) if over else block)

        queues: list[queue.Queue[np.ndarray | None]] = []
        workers = []
        for name, use in (("encode", enc.write), ("measure", measure)):
            if name == "measure" and meter is None:
                continue
            q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=4)
            t = threading.Thread(target=consume, args=(q, use), name=f"sonora-{name}", daemon=True)
            t.start()
            queues.append(q)
            workers.append(t)

        def finish() -> None:
            for q in queues:
                q.put(None)
            for t in workers:
                t.join()

        total = mix.total_frames
        try:
            while mix.remaining_frames > 0 and not stop.is_set():
                block = mix.process(block_frames)
                for q in queues:  # read-only for both consumers
                    q.put(block)
                if progress is not None:
                    progress(mix.position_frames, total)
        except BaseException:
            finish()
            enc.abort()
            raise
        finish()
        if errors:
            enc.abort()
            raise errors[0]
        out = enc.close()
        assert out is not None
        return out


def _sink_cost_s(
    enc: Encoder, sample_rate: int, compression_level: float | None, meter: LoudnessMeter | None
) -> float:
    """CPU seconds per quantum of the render's encoder and meter threads (probed).

    For the balance of a two-process render
    (:func:`~sonora.engine.balance.parent_layers`; called in the child that probes):
    an encoder of the same kind writing into memory, and a copy of the meter; 0 if
    the probe fails.
    """
    import copy
    import io

    from sonora.engine.balance import sink_cost_s

    try:
        probe = Encoder(io.BytesIO(), sample_rate=sample_rate, channels=2, format=enc.format_name)
        try:
            cost = sink_cost_s(probe.write)
        finally:
            probe.abort()
        if meter is not None:
            cost += sink_cost_s(copy.deepcopy(meter).add)
    except Exception:  # only an estimate
        return 0.0
    return cost


def lower_ceiling(mix: Mix, ceiling_dbtp: float) -> None:
    """Give ``mix`` a limiter ceiling no higher than ``ceiling_dbtp`` (dBTP).

    Only before the first block (a limiter swapped mid-stream would click); a mix
    without a limiter is left as it is.
    """
    lim = mix.limiter
    if lim is None or lim.ceiling_dbtp <= ceiling_dbtp or mix.position_frames > 0:
        return
    new = Limiter(ceiling_dbtp=ceiling_dbtp, channels=lim.channels, sample_rate=mix.sample_rate)
    if new.latency_frames != lim.latency_frames:  # pragma: no cover - same look-ahead
        raise RuntimeError("limiter latency changed")
    mix.limiter = new


def measure_decoded(path: str | os.PathLike[str]) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a file as a decoder plays it.

    One streaming decode pass (memory a block deep whatever the length): what
    listeners of a lossy file hear, codec overshoot included.
    """
    return measure_file(str(path))


def render_array(mix: Mix) -> np.ndarray:
    """Render the whole session into memory (tests, short excerpts).

    Returns
    -------
    numpy.ndarray
        float32 ``(2, frames)``.
    """
    return np.concatenate(list(mix.blocks()), axis=1)
