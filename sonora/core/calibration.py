"""Loudness calibration queue: measures each plan's loudness once, off the event loop.

:class:`Calibrator` runs background threads that take plans off a priority queue
(plays before plans measured ahead, a few per listener and overall), cache the result
in the database and hand it to streams through futures; it was split out of
:mod:`sonora.core.audio`, which keeps the renderers and the stream hub.

The measuring itself (seconds of CPU per plan) runs in separate worker processes at
a lower scheduling priority (``nice`` +10) when ``processes`` is on (the server's
default, ``SONORA_CALIBRATION_PROCESSES``): a thread of the server process would hold
the interpreter lock for most of those seconds, and every stream's encoder and the
event loop would wait behind it.  The queue's threads only wait for the result.
"""

from __future__ import annotations

import heapq
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from sonora.listening.store import ListeningStore
from sonora.plan import Plan
from sonora.plan.render import CalibrationStopped, plan_mix
from sonora.store import plan_key

__all__ = ["CalibrationStopped", "Calibrator", "measure_plan"]


#: Calibration priorities: a plan being played goes before plans measured ahead.
PLAY, AHEAD = 0, 1
#: Plans of one listener waiting to be measured ahead at once (older ones are dropped;
#: they are measured when played).
MAX_AHEAD_PER_LISTENER = 2
#: Plans of everyone waiting to be measured ahead at once (the oldest are dropped).
MAX_AHEAD_WAITING = 16
#: Scheduling priority added to the measuring processes (streams come first).
MEASURE_NICENESS = 10


def _measure_process_init() -> None:
    """Set up a measuring process: a lower priority, one BLAS thread."""
    try:
        os.nice(MEASURE_NICENESS)
    except (AttributeError, OSError):  # pragma: no cover - not on this platform
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def measure_plan(
    plan: dict[str, Any],
    sample_rate: int,
    target_lufs: float,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """The calibration of a plan with sound: ``trims`` (linear) and ``master_gain_db``.

    A plain function of its arguments, so it can run in a worker process (there without
    ``stop``; in a thread, ``stop`` set by a closing process ends it early with
    :class:`~sonora.plan.render.CalibrationStopped`).
    """
    # The plan's own calibration: it knows its trajectory (a sleep descent), so the
    # session lands on the target, not 1-2 LU above it.
    mix = plan_mix(
        Plan.from_dict(plan), sample_rate=sample_rate, target_lufs=target_lufs, stop=stop
    )
    return {
        "trims": [float(layer.trim) for layer in mix.layers],
        "master_gain_db": float(mix.master_gain_db),
    }


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    key: str = field(compare=False)
    plan_id: str = field(compare=False)
    plan: dict[str, Any] = field(compare=False)
    owner: str | None = field(compare=False)
    future: Future[dict[str, Any]] = field(compare=False)
    running: bool = field(default=False, compare=False)
    players: int = field(default=0, compare=False)  # streams waiting for it now


class Calibrator:
    """Loudness calibration of plans in background threads, plays first.

    A plan is measured ahead (priority :data:`AHEAD`) when it is made, and with
    priority :data:`PLAY` when someone presses play before that finished: a played
    plan jumps every queued ahead job (an ahead job of the same plan is promoted).
    Each listener has at most :data:`MAX_AHEAD_PER_LISTENER` plans waiting to be
    measured ahead; making more drops their oldest waiting one (it is measured if it
    is ever played), so no listener can fill the queue.  Streams never wait on a
    thread for it: they await the future for at most ``calibration_wait_s`` and
    otherwise start at :func:`provisional_calibration`.

    Parameters
    ----------
    store : ListeningStore
        Where results are kept (``plans.calibration``).
    sample_rate : int
        Render sample rate, Hz.
    target_lufs : float
        Integrated loudness target.
    workers : int
        Plans measured at once.
    processes : bool
        Measure in worker processes at a lower priority (see the module docstring);
        ``False``: in the queue's threads.
    """

    def __init__(
        self,
        store: ListeningStore,
        *,
        sample_rate: int,
        target_lufs: float,
        workers: int,
        processes: bool = False,
    ) -> None:
        self.store = store
        self.sample_rate = sample_rate
        self.target_lufs = target_lufs
        self.workers = workers
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._cv = threading.Condition()
        self._heap: list[_Job] = []
        self._jobs: dict[str, _Job] = {}
        self._seq = 0
        self._closed = False
        self._stop = threading.Event()  # set by close(): a measurement in a thread stops
        self._threads = [
            threading.Thread(target=self._work, name=f"sonora-calib-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def key(self, plan: dict[str, Any]) -> str:
        """Key of a calibration: the plan content, sample rate and target."""
        return f"{plan_key(plan)}:{self.sample_rate}:{self.target_lufs:g}"

    def ensure(
        self,
        plan_id: str,
        plan: dict[str, Any],
        stored: dict[str, Any] | None,
        *,
        owner: str | None = None,
        play: bool = False,
    ) -> Future[dict[str, Any]]:
        """A future for the calibration of ``plan`` (done at once when already stored).

        Parameters
        ----------
        plan_id, plan, stored
            The plan's id, content and stored calibration (if any).
        owner : str, optional
            The listener (bounds how many of their plans wait to be measured ahead).
        play : bool
            Someone is playing it: measure it before everything measured ahead.
        """
        key = self.key(plan)
        if stored is not None and stored.get("key") == key:
            f: Future[dict[str, Any]] = Future()
            f.set_result(stored)
            return f
        with self._cv:
            job = self._jobs.get(key)
            if job is not None and job.future.done():
                if job.future.cancelled() or job.future.exception() is not None:
                    job = None
            if job is not None:
                if play:
                    job.players += 1
                if play and job.priority != PLAY and not job.running:
                    self._seq += 1
                    job.priority, job.seq = PLAY, self._seq  # promote, as pressed now
                    heapq.heapify(self._heap)
                return job.future
            self._seq += 1
            job = _Job(PLAY if play else AHEAD, self._seq, key, plan_id, plan, owner, Future())
            job.players = 1 if play else 0
            if self._closed:
                job.future.cancel()
                return job.future
            self._jobs[key] = job
            heapq.heappush(self._heap, job)
            if not play:
                self._bound(owner)
            if len(self._jobs) > 512:  # forget finished jobs (results are in the store)
                for k in [k for k, j in self._jobs.items() if j.future.done()][:256]:
                    self._jobs.pop(k, None)
            self._cv.notify()
            return job.future

    def stopped(self, plan: dict[str, Any]) -> None:
        """A stream of ``plan`` ended (it called :meth:`ensure` with ``play=True``).

        When no other stream waits for a measurement that has not started, it goes
        back to the measured-ahead queue (bounded per listener and overall, so it may
        be dropped; it is measured when played again): under load, nobody's CPU goes
        to a session that stopped playing before its turn came.
        """
        with self._cv:
            job = self._jobs.get(self.key(plan))
            if job is None or job.future.done():
                return
            job.players = max(0, job.players - 1)
            if job.players == 0 and job.priority == PLAY and not job.running:
                job.priority = AHEAD
                heapq.heapify(self._heap)
                self._bound(job.owner)

    def _bound(self, owner: str | None) -> None:
        waiting = sorted(
            (j for j in self._heap if owner and j.owner == owner and j.priority == AHEAD),
            key=lambda j: j.seq,
        )
        drop = waiting[: max(0, len(waiting) - MAX_AHEAD_PER_LISTENER)]
        everyone = sorted((j for j in self._heap if j.priority == AHEAD), key=lambda j: j.seq)
        drop += everyone[: max(0, len(everyone) - MAX_AHEAD_WAITING)]  # many listeners
        for old in {id(j): j for j in drop}.values():
            self._heap.remove(old)
            self._jobs.pop(old.key, None)
            old.future.cancel()
        heapq.heapify(self._heap)

    def pending(self) -> int:
        """Jobs waiting (not running)."""
        with self._cv:
            return len(self._heap)

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
                job.running = True
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(self._measure(job.plan_id, job.plan, job.key))
            except Exception as exc:  # handed to whoever waits
                job.future.set_exception(exc)

    def _measure(
        self,
        plan_id: str,
        plan: dict[str, Any],
        key: str,
        *,
        in_process: bool = False,
        stop: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Measure ``plan`` (in a worker process unless ``in_process``), store, return.

        In this process the measurement stops (:class:`CalibrationStopped`) when
        ``stop`` is set (by default: when :meth:`close` is called).
        """
        if Plan.from_dict(plan).quiet_rest:
            result: dict[str, Any] = {"key": key, "plan_key": plan_key(plan), "quiet": True}
        else:
            args = (plan, self.sample_rate, self.target_lufs)
            if self.processes and not in_process:
                gains = self._in_worker(*args)
            else:
                gains = measure_plan(*args, stop=self._stop if stop is None else stop)
            result = {"key": key, "plan_key": plan_key(plan), **gains}
        self.store.set_calibration(plan_id, result)
        return result

    def _in_worker(self, *args: Any) -> dict[str, Any]:
        for attempt in (0, 1):
            with self._pool_lock:
                if self._closed:
                    raise RuntimeError("the calibrator is closed")
                if self._pool is None:
                    import multiprocessing

                    self._pool = ProcessPoolExecutor(
                        max_workers=self.workers,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_measure_process_init,
                    )
                pool = self._pool
            try:
                future = pool.submit(measure_plan, *args)
                while True:  # the process is not told; this thread stops waiting
                    try:
                        return future.result(timeout=0.25)
                    except FutureTimeout:
                        if self._stop.is_set():
                            raise CalibrationStopped(
                                "the loudness calibration was stopped"
                            ) from None
            except BrokenProcessPool:  # a worker died (killed, out of memory): a new pool
                with self._pool_lock:
                    if self._pool is pool:
                        self._pool = None
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop accepting work; waiting jobs are cancelled, a running one measured in a
        thread stops at its next quantum (its future gets :class:`CalibrationStopped`),
        and the queue's threads are joined (for at most ``timeout_s`` seconds each)."""
        self._stop.set()
        with self._cv:
            self._closed = True
            for job in self._heap:
                job.future.cancel()
            self._heap.clear()
            self._cv.notify_all()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout_s)
