"""Render a mix's layers in a forked child process, the master stage here.

The layers and the shared reverb (:meth:`~sonora.engine.graph.Mix.source_quantum`)
are most of a render's work and hold the GIL most of the time (many small numpy
calls), so threads cannot share them out; a forked child can.  It runs the same code
on a copy of the same state, so every quantum is bit-for-bit what the parent would
have computed, and hands each one over a pipe (32 KB per quantum).  The parent runs
the master stage (gain, fades, startle guard, limiter) and whatever consumes the
output (encoder, meters) at the same time.  Where the child would carry clearly more
than the parent's main thread, :func:`source_feed` has the parent render some layers
too, a few quanta ahead, and send them to the child through a second pipe
(:mod:`sonora.engine.balance` picks them from CPU probes); the child still sums every
layer in the mix's order, so the samples do not change.

:func:`shared_source` is the same child read twice: a steady scene's loudness
calibration measures the start of the session on the very quanta the render then
writes (``sonora render``: the first 4 minutes of a 10-minute scene were rendered
twice before, once to calibrate and once to write).  The quanta read ahead wait in an
unlinked temporary file beside the output, never in memory.  There the child can also
prepare each layer before its first quantum (``sonora render`` measures the layers'
trims on their own sources: :func:`sonora.scenes.calibration.replayed_trim_db`) and
fork a helper of its own that prepares and renders some layers, so that the layers
have both cores while the parent waits for the calibration window.

POSIX only (``os.fork``); elsewhere, and with ``processes=1``, nothing changes.  The
child ignores SIGINT/SIGTERM/SIGHUP (the parent handles them, cleans up and kills
it) and exits on a broken pipe if the parent dies outright; a helper dies with the child
(Linux: a parent-death signal; elsewhere at its next write).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.graph import Mix

_T = TypeVar("_T")
_R = TypeVar("_R")

__all__ = ["SharedSource", "map_forked", "quanta_to_render", "shared_source", "source_feed"]


def quanta_to_render(mix: Mix) -> int:
    """Source quanta a mix at its start renders to produce all of its output."""
    return -(-(mix.total_frames + mix.latency_frames) // QUANTUM)


#: Bytes of one stereo float32 quantum.
_QUANTUM_BYTES = 2 * QUANTUM * 4
#: Pipe capacity asked for (Linux, ``F_SETPIPE_SZ``): ~32 quanta of slack between the
#: two processes.
_PIPE_BYTES = 1 << 20


@contextmanager
def source_feed(
    mix: Mix, processes: int, *, parent_threads_s: float | Callable[[], float] = 0.0
) -> Iterator[None]:
    """Render ``mix``'s source quanta in a forked child for the duration.

    Inside the ``with`` block, ``mix.process`` takes its source quanta (layers plus
    reverb return, :meth:`~sonora.engine.graph.Mix.source_quantum`) from a child
    process forked on entry, which renders every quantum the mix will need from its
    start; the parent runs the master stage.  When the child would carry clearly more
    than the parent, the parent also renders some layers
    (:func:`~sonora.engine.balance.parent_layers`), a few quanta ahead, and hands them
    to the child through a second pipe; the child sums every layer in the mix's order.
    Same samples as rendering here either way.  Nothing happens with
    ``processes < 2``, without ``os.fork``, or for a mix that is not at its start.  On
    exit the child is reaped, or killed if it is not done.

    Parameters
    ----------
    mix : Mix
        A mix at its start (after ``reset``), set up as it will be rendered (limiter
        on or off: the number of quanta depends on the latency).
    processes : int
        2 or more to fork.
    parent_threads_s : float or callable
        CPU seconds per quantum of the parent's threads fed from the mix (encoder,
        meter), for the balance; or a function measuring it (called in the child that
        probes, so that what it allocates stays out of this process).
    """
    if not _can_fork(mix, processes):
        yield
        return
    quanta = quanta_to_render(mix)
    mine = _parent_layers(mix, parent_threads_s)
    pid, r, w_in = _fork_renderer(mix, quanta, mine)
    src = os.fdopen(r, "rb", buffering=0)
    sink = None if w_in is None else os.fdopen(w_in, "wb", buffering=0)
    got = [0]
    sent = [0]
    ahead = _AHEAD_QUANTA if sink is None else _ahead_quanta(r, w_in, len(mine))
    first = mix._frame

    def stopped() -> RuntimeError:
        return RuntimeError(f"the render process stopped after {got[0]} of {quanta} quanta")

    def feed(start: int) -> np.ndarray:
        if sink is not None:  # the parent's layers, `ahead` quanta before they are summed
            while sent[0] < min(quanta, got[0] + ahead):
                at = first + sent[0] * QUANTUM
                for i in mine:
                    y = mix.layers[i].render_quantum(at, mix.sample_rate)
                    try:
                        _write_all(sink, np.ascontiguousarray(y, dtype=np.float32))
                    except BrokenPipeError:
                        raise stopped() from None
                sent[0] += 1
        q = np.empty((2, QUANTUM), dtype=np.float32)
        if not _read_exactly(src, memoryview(q).cast("B")):
            raise stopped()
        got[0] += 1
        return q

    mix._feed = feed
    try:
        yield
    finally:
        mix._feed = None
        src.close()  # a child still writing gets a broken pipe and exits
        if sink is not None:
            sink.close()  # a child waiting for a layer reads the end and exits
        _reap(pid, finished=got[0] >= quanta)


#: Quanta the parent renders its layers ahead of the source quanta it reads (at most).
_AHEAD_QUANTA = 16


def _parent_layers(mix: Mix, parent_threads_s: float | Callable[[], float]) -> tuple[int, ...]:
    """Layers the parent renders (none where pipe sizes cannot be read: not Linux).

    Chosen by :func:`~sonora.engine.balance.parent_layers` in a short-lived forked
    child, so that none of the probes' first-use allocations (BLAS buffers, filter
    tables, a second encoder: ~10 MB each) stay in this process; ``()`` if that child
    fails.
    """
    import fcntl
    import pickle

    if getattr(fcntl, "F_GETPIPE_SZ", None) is None or len(mix.layers) < 2:
        return ()
    from sonora.engine.balance import parent_layers

    def probe(m: Mix) -> tuple[int, ...]:
        threads_s = parent_threads_s() if callable(parent_threads_s) else parent_threads_s
        return parent_layers(m, parent_threads_s=threads_s)

    pid, r = _fork_call(probe, mix)
    data = b""
    try:
        while chunk := os.read(r, 1 << 16):
            data += chunk
    finally:
        os.close(r)
        ok = os.waitpid(pid, 0)[1] == 0
    split = pickle.loads(data) if ok and data else ()
    return tuple(int(i) for i in split)


def _ahead_quanta(r: int, w_in: int, layers: int) -> int:
    """How far ahead the parent may render its ``layers`` without ever blocking.

    Both pipes must hold what is in flight: the parent's layers up to ``ahead + 1``
    quanta past the last source quantum it read, and the child's source quanta up to
    ``ahead + 1`` past it too (the child stops where the parent's layers end).
    """
    import fcntl

    into_child = fcntl.fcntl(w_in, fcntl.F_GETPIPE_SZ) // (_QUANTUM_BYTES * layers)
    from_child = fcntl.fcntl(r, fcntl.F_GETPIPE_SZ) // _QUANTUM_BYTES
    return max(1, min(_AHEAD_QUANTA, into_child - 1, from_child - 1))


def _write_all(out: Any, block: np.ndarray) -> None:
    """Write ``block``'s bytes to the raw file ``out`` (blocking until all are in)."""
    view = memoryview(block).cast("B")
    while view:
        view = view[out.write(view) :]


def _can_fork(mix: Mix, processes: int) -> bool:
    forkable = hasattr(os, "fork") and sys.platform != "win32"
    return processes >= 2 and forkable and mix.position_frames == 0 and mix._frame == 0


def _read_exactly(src: object, view: memoryview) -> bool:
    """Fill ``view`` from the raw file ``src``; False at end of file."""
    done = 0
    while done < len(view):
        n = src.readinto(view[done:])  # type: ignore[attr-defined]
        if not n:
            return False
        done += n
    return True


def _reap(pid: int, *, finished: bool) -> None:
    """Wait for a child that sent everything, else kill it; never leave a zombie."""
    if finished:
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


def _fork_child(
    write: Callable[..., None],
    *,
    pipe_bytes: int | None = None,
    quiet: bool = False,
    inbound: bool = False,
) -> tuple[int, int, int | None]:
    """Fork a child that calls ``write(out)`` on the write end of a pipe, then exits.

    The one place that forks: the child ignores Ctrl+C, SIGTERM and SIGHUP (the parent
    owns them: it cleans up, then kills the child; a parent killed outright leaves the
    pipe broken and the next write ends the child), exits 0 when the parent stopped
    reading (or, with ``inbound``, stopped writing: ``write`` raises
    ``BrokenPipeError`` at the end of its input) and 1 on any other error (with a
    traceback unless ``quiet``: a caller that falls back to doing the work itself says
    nothing), and never returns into the caller.  With ``inbound`` a second pipe runs
    the other way and ``write(out, inp)`` also gets its read end.  Returns the child's
    pid, the pipe's read end (the parent's) and the second pipe's write end (``None``
    without ``inbound``).
    """
    r, w = os.pipe()
    ri, wi = os.pipe() if inbound else (-1, -1)
    if pipe_bytes is not None:
        try:
            import fcntl

            for fd in (w, wi) if inbound else (w,):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, pipe_bytes)  # Linux only
        except (ImportError, AttributeError, OSError):  # pragma: no cover - default pipe
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            if inbound:
                os.close(wi)
            for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    signal.signal(sig, signal.SIG_IGN)
            with os.fdopen(w, "wb", buffering=0) as out:
                if inbound:
                    with os.fdopen(ri, "rb", buffering=0) as inp:
                        write(out, inp)
                else:
                    write(out)
        except BrokenPipeError:  # the parent stopped reading: nothing to report
            code = 0
        except BaseException:
            if not quiet:
                import traceback

                traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    if inbound:
        os.close(ri)
    return pid, r, (wi if inbound else None)


#: Prepares layer ``index`` of a (forked) mix before its first quantum; one float back.
Prepare = Callable[[Mix, int], float]


def _fork_renderer(
    mix: Mix,
    quanta: int,
    parent_layers: tuple[int, ...] = (),
    prepare: Prepare | None = None,
    helper: bool = False,
) -> tuple[int, int, int | None]:
    """Fork a child that writes ``quanta`` source quanta of ``mix`` to a pipe.

    With ``parent_layers``, the child reads those layers' quanta (float32
    ``(2, QUANTUM)`` each, layer by layer, quantum by quantum) from a second pipe
    instead of rendering them.  With ``prepare``, the child first calls
    ``prepare(mix, i)`` for every layer and writes the results (float64, one per
    layer) to the pipe before the quanta.  With ``helper`` (and no ``parent_layers``)
    the child forks a helper of its own that prepares and renders the layers
    :func:`_helper_layers` picks (:func:`_fork_helper`).  Returns the child's pid,
    the pipe's read end (the parent's) and the second pipe's write end (``None``
    without ``parent_layers``).
    """

    def write(out: Any, inp: Any = None) -> None:
        start = mix._frame
        theirs: tuple[int, ...] = ()
        helper_pid = 0
        if helper and inp is None:
            theirs = _helper_layers(mix)
            if theirs:
                helper_pid, fd = _fork_helper(
                    mix, quanta, theirs, prepare, inherited=(out.fileno(),)
                )
                inp = os.fdopen(fd, "rb", buffering=0)
        if prepare is not None:
            values = np.zeros(len(mix.layers), dtype=np.float64)
            for i in range(len(mix.layers)):
                if i not in theirs:
                    values[i] = float(prepare(mix, i))
            if theirs:  # the helper's, first on its pipe
                got = np.empty(len(theirs), dtype=np.float64)
                if not _read_exactly(inp, memoryview(got).cast("B")):
                    raise RuntimeError("the helper process stopped")
                values[list(theirs)] = got
            _write_all(out, values)
        if inp is not None:
            wanted = set(parent_layers) | set(theirs)

            def layer_feed(index: int) -> np.ndarray | None:
                if index not in wanted:
                    return None
                y = np.empty((2, QUANTUM), dtype=np.float32)
                if not _read_exactly(inp, memoryview(y).cast("B")):
                    raise BrokenPipeError("the parent stopped sending layers")
                return y

            mix._layer_feed = layer_feed
        for i in range(quanta):
            _write_all(
                out, np.ascontiguousarray(mix.source_quantum(start + i * QUANTUM), np.float32)
            )
        if helper_pid:  # done: it has sent everything (else it dies with this process)
            os.waitpid(helper_pid, 0)

    return _fork_child(write, pipe_bytes=_PIPE_BYTES, inbound=bool(parent_layers))


def _helper_layers(mix: Mix) -> tuple[int, ...]:
    """Layers a render process hands to a helper of its own (none: render them all;
    :func:`~sonora.engine.balance.helper_layers`)."""
    from sonora.engine.balance import helper_layers

    return helper_layers(mix)


def _fork_helper(
    mix: Mix,
    quanta: int,
    layers: tuple[int, ...],
    prepare: Prepare | None,
    *,
    inherited: tuple[int, ...] = (),
) -> tuple[int, int]:
    """Fork a helper that renders ``layers`` of ``mix`` for ``quanta`` quanta.

    It writes ``prepare(mix, i)`` for each of ``layers`` (float64, when ``prepare`` is
    given), then each quantum's layers in order (float32 ``(2, QUANTUM)`` each), to a
    pipe; dies with the process that forked it (Linux) or at its next write.  It
    closes the file descriptors ``inherited`` first (its forker's pipe ends, which
    must reach end of file when the forker ends).  Returns its pid and the pipe's
    read end.
    """
    start = mix._frame
    parent = os.getpid()

    def write(out: Any) -> None:
        for fd in inherited:
            os.close(fd)
        _die_with_parent()
        if os.getppid() != parent:  # it ended before the line above took effect
            return
        if prepare is not None:
            _write_all(out, np.array([prepare(mix, i) for i in layers], dtype=np.float64))
        for q in range(quanta):
            at = start + q * QUANTUM
            for i in layers:
                y = mix.layers[i].render_quantum(at, mix.sample_rate)
                _write_all(out, np.ascontiguousarray(y, dtype=np.float32))

    pid, r, _ = _fork_child(write, pipe_bytes=_PIPE_BYTES)
    return pid, r


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent ends (elsewhere: nothing)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, TypeError):  # pragma: no cover - not Linux
        pass


class SharedSource:
    """A forked child's source quanta, readable twice: once ahead, once for output.

    Made by :func:`shared_source`.  A thread drains the child's pipe into a ring of
    quanta kept in an unlinked temporary file (page cache, not this process's memory),
    so the child never waits while the parent reads the start of the session twice:
    first through :meth:`tap` (a calibration pass over the first ``ahead_quanta``),
    then as the mix's own source.  Both sides move several quanta per system call
    when they are there (:attr:`DRAIN_QUANTA`, :attr:`READ_QUANTA`): the drain thread
    shares the GIL with the master stage, and catches up in one read.

    Parameters
    ----------
    src_fd : int
        Read end of the child's pipe (owned from now on).
    quanta : int
        Quanta the child sends.
    ahead_quanta : int
        Most quanta :meth:`tap` reads before the mix consumes any.
    spool_dir : str or None
        Folder for the temporary file (``None``: the system's).
    """

    #: Quanta the child may run ahead of the mix once the tap is done (~5.5 s at 48 kHz).
    SLACK_QUANTA = 64
    #: Most quanta the drain thread moves from the pipe to the ring per read.
    DRAIN_QUANTA = 16
    #: Most quanta :meth:`get` reads from the ring at once (those already there; the
    #: next calls take them without a lock or a read).
    READ_QUANTA = 8
    #: What the child's ``prepare`` gave (:func:`shared_source`), one float per layer.
    prepared: tuple[float, ...] = ()

    def __init__(self, src_fd: int, quanta: int, ahead_quanta: int, spool_dir: str | None) -> None:
        self.quanta = quanta
        self._cap = max(1, min(quanta, ahead_quanta + self.SLACK_QUANTA))
        try:
            self._file = tempfile.TemporaryFile(dir=spool_dir, prefix=".sonora-spool-")
        except OSError:
            self._file = tempfile.TemporaryFile(prefix=".sonora-spool-")
        self._fd = self._file.fileno()
        self._src = os.fdopen(src_fd, "rb", buffering=0)
        self._cond = threading.Condition()
        self._written = 0  # quanta in the ring so far (drain thread)
        self._released = 0  # quanta the mix has taken (its ring slots are free again)
        self._error: BaseException | None = None
        self._stop = False
        #: Quanta read ahead by :meth:`get`: the index of the first, and the quanta.
        self._batch: tuple[int, np.ndarray] = (0, np.empty((0, 2, QUANTUM), dtype=np.float32))
        self._thread = threading.Thread(target=self._drain, name="sonora-spool", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        # Reads whatever the pipe holds (up to DRAIN_QUANTA quanta) per call and writes
        # the whole quanta to the ring: when this thread waits for the GIL (the main
        # thread runs the master stage), it catches up in one read instead of one
        # read, one write and two locks per quantum.
        q_bytes = _QUANTUM_BYTES
        buf = np.empty(self.DRAIN_QUANTA * q_bytes, dtype=np.uint8)
        view = memoryview(buf)
        have = 0  # bytes read and not yet in the ring
        i = 0  # quanta in the ring
        try:
            while i < self.quanta:
                with self._cond:
                    while i - self._released >= self._cap and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    room = self._cap - (i - self._released)
                want = min(room, self.quanta - i, self.DRAIN_QUANTA) * q_bytes
                if have < q_bytes:  # one read: whatever the pipe holds, up to `want`
                    n = self._src.readinto(view[have:want])
                    if not n:
                        raise RuntimeError(
                            f"the render process stopped after {i} of {self.quanta} quanta"
                        )
                    have += n
                    if have < q_bytes:
                        continue
                k = min(have, want) // q_bytes
                self._put(i, view[: k * q_bytes])
                rest = have - k * q_bytes
                if rest:
                    buf[:rest] = buf[k * q_bytes : have]
                have = rest
                i += k
                with self._cond:
                    self._written = i
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the reader
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def _put(self, first: int, data: memoryview) -> None:
        """Write whole quanta ``first, first + 1...`` to their ring slots."""
        while data:
            slot = first % self._cap
            k = min(len(data) // _QUANTUM_BYTES, self._cap - slot)  # up to the wrap
            chunk, data = data[: k * _QUANTUM_BYTES], data[k * _QUANTUM_BYTES :]
            offset = slot * _QUANTUM_BYTES
            done = 0
            while done < len(chunk):
                done += os.pwrite(self._fd, chunk[done:], offset + done)
            first += k

    def get(self, index: int) -> np.ndarray:
        """Quantum ``index`` (float32 ``(2, QUANTUM)``, handed out once), waiting for it."""
        if not 0 <= index < self.quanta:
            raise RuntimeError(f"quantum {index} is past the {self.quanta} the child renders")
        first, batch = self._batch
        if first <= index < first + len(batch):  # read with an earlier quantum
            self._batch = (index + 1, batch[index + 1 - first :])
            return batch[index - first]
        with self._cond:
            while self._written <= index and self._error is None and not self._stop:
                self._cond.wait()
            if self._written <= index:
                if isinstance(self._error, OSError):  # e.g. the disk is full: say so
                    raise self._error
                if self._error is not None:
                    raise RuntimeError(f"source render failed: {self._error}") from self._error
                raise RuntimeError("the source render was stopped")
            if index < self._released or index - self._released >= self._cap:
                raise RuntimeError(f"quantum {index} is no longer in the ring")
            slot = index % self._cap
            # the quanta already here, up to READ_QUANTA and the ring's wrap, in one read
            k = min(self.READ_QUANTA, self._written - index, self._cap - slot)
        batch = np.empty((k, 2, QUANTUM), dtype=np.float32)
        view = memoryview(batch).cast("B")
        offset = slot * _QUANTUM_BYTES
        done = 0
        while done < len(view):
            n = os.preadv(self._fd, [view[done:]], offset + done)
            if n <= 0:  # pragma: no cover - a temporary file cannot shrink
                raise RuntimeError("the source spool was truncated")
            done += n
        self._batch = (index + 1, batch[1:])
        return batch[0]

    def tap(self) -> Callable[[int], np.ndarray]:
        """A feed for another mix: quanta 0, 1, 2... of the stream, left in the ring."""
        at = [0]

        def feed(start: int) -> np.ndarray:
            q = self.get(at[0])
            at[0] += 1
            return q

        return feed

    def consume(self) -> Callable[[int], np.ndarray]:
        """The mix's own feed: quanta 0, 1, 2... each freed once read."""
        at = [0]

        def feed(start: int) -> np.ndarray:
            q = self.get(at[0])
            at[0] += 1
            with self._cond:
                self._released = at[0]
                self._cond.notify_all()
            return q

        return feed

    def close(self) -> bool:
        """Stop the drain thread and drop the ring; whether every quantum arrived."""
        with self._cond:
            self._stop = True
            complete = self._written >= self.quanta and self._error is None
            self._cond.notify_all()
        return complete

    def _finish(self) -> None:
        """After :meth:`close` (and the child's end): join the thread, close files."""
        self._thread.join(timeout=5.0)
        self._src.close()
        self._file.close()


@contextmanager
def shared_source(
    mix: Mix,
    processes: int,
    *,
    ahead_quanta: int,
    spool_dir: str | os.PathLike[str] | None = None,
    prepare: Prepare | None = None,
    helper: bool = False,
) -> Iterator[SharedSource | None]:
    """Render ``mix``'s source quanta once in a forked child, readable ahead of the mix.

    Like :func:`source_feed` (same child, same samples, ``mix`` takes its quanta from
    it inside the ``with`` block), but the first ``ahead_quanta`` can also be read
    before the mix starts, through :meth:`SharedSource.tap`: a calibration pass over
    the session's own start costs no second render.  Yields ``None`` (and changes
    nothing) where :func:`source_feed` would not fork.

    Parameters
    ----------
    mix : Mix
        A mix at its start.
    processes : int
        2 or more to fork.
    ahead_quanta : int
        Quanta the tap may read before the mix reads any (their 32 KB each are kept
        in a temporary file in ``spool_dir``).
    spool_dir : path-like, optional
        Folder for that file (the output's, so a small ``/tmp`` is never filled).
    prepare : callable, optional
        Called as ``prepare(mix, i)`` for each layer ``i`` in the process that renders
        it, before its first quantum (e.g. to set the layer's trim on that process's
        copy of the mix); it returns a float, read here before anything else and kept
        as :attr:`SharedSource.prepared` (one per layer).
    helper : bool
        The child forks a helper that prepares and renders some of the layers
        (picked from CPU probes): while this process waits for the calibration
        window, the layers have both cores.  Same samples.
    """
    if not _can_fork(mix, processes):
        yield None
        return
    quanta = quanta_to_render(mix)
    pid, r, _ = _fork_renderer(mix, quanta, prepare=prepare, helper=helper)
    try:
        prepared: tuple[float, ...] = ()
        if prepare is not None:
            values = np.empty(len(mix.layers), dtype=np.float64)
            with os.fdopen(r, "rb", buffering=0, closefd=False) as head:
                if not _read_exactly(head, memoryview(values).cast("B")):
                    raise RuntimeError("the render process stopped before its first quantum")
            prepared = tuple(float(v) for v in values)
        shared = SharedSource(
            r, quanta, ahead_quanta, None if spool_dir is None else str(spool_dir)
        )
        shared.prepared = prepared
    except BaseException:
        os.close(r)
        _reap(pid, finished=False)
        raise
    complete = False
    try:
        mix._feed = shared.consume()
        yield shared
    finally:
        mix._feed = None
        complete = shared.close()
        # a child still writing gets a broken pipe (or is killed): the drain thread's
        # read then ends
        if not complete:
            _reap(pid, finished=False)
        shared._finish()
        if complete:
            _reap(pid, finished=True)


def map_forked(fn: Callable[[_T], _R], items: Sequence[_T], processes: int) -> list[_R]:
    """``[fn(item) for item in items]``, up to ``processes`` at a time.

    The first item is computed here, each of the others (at most ``processes - 1`` at
    once) in a forked child that sends its pickled result back through a pipe: the
    same code on the same data, so the results are exactly what one process computes
    (``sonora render`` calibrates each layer of a scene this way, before the render
    forks its own child).  A child that fails leaves its item to this process (same
    result, its error raised here if it recurs).  Serial with ``processes < 2``, one
    item or no ``os.fork``.  Children left at an error or interrupt are killed.

    Parameters
    ----------
    fn : callable
        A deterministic function of one item, returning something picklable.
    items : sequence
        Its arguments.
    processes : int
        Most computations at once.

    Returns
    -------
    list
        ``fn(item)`` for each item, in order.
    """
    forkable = hasattr(os, "fork") and sys.platform != "win32"
    if processes < 2 or len(items) < 2 or not forkable:
        return [fn(item) for item in items]
    import pickle

    results: list[_R] = [None] * len(items)  # type: ignore[list-item]
    done = [False] * len(items)
    running: dict[int, tuple[int, int]] = {}  # item index -> (pid, read end)
    try:
        for start in range(1, len(items), processes - 1):
            for i in range(start, min(start + processes - 1, len(items))):
                running[i] = _fork_call(fn, items[i])
            if start == 1:
                results[0], done[0] = fn(items[0]), True
            for i in list(running):
                pid, r = running[i]
                data = b""
                while chunk := os.read(r, 1 << 16):
                    data += chunk
                os.close(r)
                del running[i]
                if os.waitpid(pid, 0)[1] == 0 and data:
                    results[i], done[i] = pickle.loads(data), True
        for i, ok in enumerate(done):  # a child failed: compute it here
            if not ok:
                results[i] = fn(items[i])
        return results
    finally:
        for pid, r in running.values():
            os.close(r)  # a child still writing gets a broken pipe; it is killed anyway
            _reap(pid, finished=False)


def _fork_call(fn: Callable[[_T], _R], item: _T) -> tuple[int, int]:
    """Fork a child that writes ``pickle(fn(item))`` to a pipe; its pid and read end."""

    def write(out: Any) -> None:
        import pickle

        data = memoryview(pickle.dumps(fn(item)))
        while data:
            data = data[out.write(data) :]

    pid, r, _ = _fork_child(write, quiet=True)
    return pid, r
