"""Streaming render of a :class:`~sonora.engine.graph.Mix` to a file.

Two threads share the work: one renders the graph, one encodes; they are joined by a
small bounded queue, so memory stays a few blocks deep whatever the duration.

(Rendering the layers of the next quantum in a third thread was tried and measured,
then removed: on this 2-core machine it made workload W ~20 % *slower*,
170x -> 135x real time, because both render threads hand the GIL back and forth
between many small numpy calls.  The encoder mostly runs inside libsndfile without the
GIL, so it overlaps well.)
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.encoders import Encoder
from sonora.engine.graph import Mix

#: Frames per block handed from the render thread to the encoder thread.
BLOCK_FRAMES = QUANTUM * 8


def render_to_file(
    mix: Mix,
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    compression_level: float | None = None,
    block_frames: int = BLOCK_FRAMES,
) -> Path:
    """Render ``mix`` from its current position to the end into ``path``.

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

    Returns
    -------
    pathlib.Path
        The written file.
    """
    enc = Encoder(
        path, sample_rate=mix.sample_rate, channels=2, compression_level=compression_level
    )
    q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=4)
    errors: list[BaseException] = []
    stop = threading.Event()

    def encode() -> None:
        try:
            while True:
                block = q.get()
                if block is None:
                    return
                enc.write(block)
        except BaseException as exc:
            errors.append(exc)
            stop.set()
            while q.get() is not None:  # drain so the producer never blocks
                pass

    worker = threading.Thread(target=encode, name="sonora-encode", daemon=True)
    worker.start()
    total = mix.total_frames
    try:
        while mix.remaining_frames > 0 and not stop.is_set():
            q.put(mix.process(block_frames))
            if progress is not None:
                progress(mix.position_frames, total)
    except BaseException:
        q.put(None)
        worker.join()
        enc.abort()
        raise
    q.put(None)
    worker.join()
    if errors:
        enc.abort()
        raise errors[0]
    out = enc.close()
    assert out is not None
    return out


def render_array(mix: Mix) -> np.ndarray:
    """Render the whole session into memory (tests, short excerpts).

    Returns
    -------
    numpy.ndarray
        float32 ``(2, frames)``.
    """
    return np.concatenate(list(mix.blocks()), axis=1)
