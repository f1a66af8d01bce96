"""Render a mix's layers in a forked child process, the master stage here.

The layers and the shared reverb (:meth:`~sonora.engine.graph.Mix.source_quantum`)
are most of a render's work and hold the GIL most of the time (many small numpy
calls), so threads cannot share them out; a forked child can.  It runs the same code
on a copy of the same state, so every quantum is bit-for-bit what the parent would
have computed, and hands each one over a pipe (32 KB per quantum).  The parent runs
the master stage (gain, fades, startle guard, limiter) and whatever consumes the
output (encoder, meters) at the same time.

POSIX only (``os.fork``); elsewhere, and with ``processes=1``, nothing changes.  The
child ignores SIGINT/SIGTERM/SIGHUP (the parent handles them, cleans up and kills
it) and exits on a broken pipe if the parent dies outright.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.graph import Mix

__all__ = ["quanta_to_render", "source_feed"]


def quanta_to_render(mix: Mix) -> int:
    """Source quanta a mix at its start renders to produce all of its output."""
    return -(-(mix.total_frames + mix.latency_frames) // QUANTUM)


#: Bytes of one stereo float32 quantum.
_QUANTUM_BYTES = 2 * QUANTUM * 4
#: Pipe capacity asked for (Linux, ``F_SETPIPE_SZ``): ~32 quanta of slack between the
#: two processes.
_PIPE_BYTES = 1 << 20


@contextmanager
def source_feed(mix: Mix, processes: int) -> Iterator[None]:
    """Render ``mix``'s source quanta in a forked child for the duration.

    Inside the ``with`` block, ``mix.process`` takes its source quanta (layers plus
    reverb return, :meth:`~sonora.engine.graph.Mix.source_quantum`) from a child
    process forked on entry, which renders every quantum the mix will need from its
    start; the parent runs only the master stage.  Same samples as rendering here.
    Nothing happens with ``processes < 2``, without ``os.fork``, or for a mix that
    is not at its start.  On exit the child is reaped, or killed if it is not done.

    Parameters
    ----------
    mix : Mix
        A mix at its start (after ``reset``), set up as it will be rendered (limiter
        on or off: the number of quanta depends on the latency).
    processes : int
        2 or more to fork.
    """
    forkable = hasattr(os, "fork") and sys.platform != "win32"
    if processes < 2 or not forkable or mix.position_frames != 0 or mix._frame != 0:
        yield
        return
    quanta = quanta_to_render(mix)
    r, w = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)  # Linux only
    except (ImportError, AttributeError, OSError):  # pragma: no cover - default pipe
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: render, write, exit (never return into the caller)
        code = 0
        try:
            os.close(r)
            # The parent owns Ctrl+C and SIGTERM/SIGHUP (it cleans up, then kills this
            # child); a parent killed outright leaves the pipe broken: the next write
            # ends this process.
            for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    signal.signal(sig, signal.SIG_IGN)
            out = os.fdopen(w, "wb", buffering=0)
            start = mix._frame
            for i in range(quanta):
                q = np.ascontiguousarray(mix.source_quantum(start + i * QUANTUM), np.float32)
                view = memoryview(q).cast("B")
                while view:
                    view = view[out.write(view) :]
        except BrokenPipeError:  # the parent stopped reading: nothing to report
            code = 0
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    src = os.fdopen(r, "rb", buffering=0)
    got = [0]

    def feed(start: int) -> np.ndarray:
        q = np.empty((2, QUANTUM), dtype=np.float32)
        view = memoryview(q).cast("B")
        done = 0
        while done < _QUANTUM_BYTES:
            n = src.readinto(view[done:])
            if not n:
                raise RuntimeError(f"the render process stopped after {got[0]} of {quanta} quanta")
            done += n
        got[0] += 1
        return q

    mix._feed = feed
    try:
        yield
    finally:
        mix._feed = None
        src.close()  # a child still writing gets a broken pipe and exits
        finished = False
        if got[0] >= quanta:
            finished = os.waitpid(pid, 0)[1] == 0
        if not finished:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
