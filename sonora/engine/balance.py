"""Which layers the parent renders when a render is split over two processes.

:func:`~sonora.engine.forked.source_feed` renders a mix's layers and its reverb in a
forked child while the parent runs the master stage and the encoder.  On workload W
the child carried about 60 % of the work and set the pace while the parent waited; the
parent can take some layers too (it renders them a few quanta ahead and hands them to
the child, which sums every layer in the mix's own order, so the bytes do not change).
:func:`parent_layers` picks those layers so that both processes carry about the same
CPU time per quantum, from short probes of each part on copies (the mix itself is
never touched).  A wrong guess costs speed only, never a sample.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Sequence

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.graph import Mix

__all__ = ["helper_layers", "parent_layers", "partition", "probe_cpu_s", "sink_cost_s"]

#: Quanta timed per probe (after one untimed call).
PROBE_QUANTA = 8
#: CPU seconds per quantum a layer rendered in the parent costs beyond its own render,
#: both processes together: 32 KB through a pipe and the waits on it (~25 us on
#: workload W under load, from the child's and the parent's CPU with and without a
#: layer moved).  Half is charged to each side.
TRANSFER_CPU_S = 25e-6
#: A layer rendered on the parent's main thread costs about this much more than its
#: probe (it shares the process with the encoder thread: measured 1.3-1.4 on W).
PARENT_LAYER_FACTOR = 1.3
#: CPU seconds per quantum the parent's main thread spends besides the master stage:
#: reading the child's quantum, handing blocks to the encoder and meter threads
#: (~30 us measured on workload W).
PARENT_HANDOFF_S = 30e-6
#: Most layers searched exhaustively (2^n subsets); beyond that, greedily.
EXHAUSTIVE_LAYERS = 12
#: Quanta a layer renders untimed before :func:`helper_layers` times it, and quanta
#: timed (mean CPU, not median).  A source's first strike (a bowl's, a gong's: ~5 ms in
#: one quantum) falls in the first few quanta and is not its running cost, while
#: sources that render in blocks (rain, waves, streams, drones: one costly quantum in
#: eight) are missed by a median: on the built-in scenes the median of 8 put rain at a
#: third of its running cost and a bowl at three times its own.
HELPER_PROBE_SKIP = 8
HELPER_PROBE_QUANTA = 24


def probe_cpu_s(call: Callable[[], object], quanta: int = PROBE_QUANTA) -> float:
    """Median CPU seconds of one ``call()`` over ``quanta`` calls, after an untimed one.

    Parameters
    ----------
    call : callable
        Does one quantum's work.
    quanta : int
        Calls timed.

    Returns
    -------
    float
        CPU seconds (this process, all threads) per call.
    """
    call()
    times = []
    for _ in range(quanta):
        t0 = time.process_time()
        call()
        times.append(time.process_time() - t0)
    return float(np.median(times))


def _overlap(params: dict[str, float]) -> float:
    """Strikes ringing at once in a steady state (a probe of the start hears one)."""
    decay = params.get("decay_s")
    if decay is None:
        return 1.0
    every_s = params.get("interval_s", 0.0)
    if not every_s and params.get("rate_per_min", 0.0) > 0:
        every_s = 60.0 / params["rate_per_min"]
    return max(1.0, float(decay) / float(every_s)) if every_s else 1.0


def _layer_cost_s(mix: Mix, index: int, *, mean: bool = False) -> tuple[float, np.ndarray]:
    """CPU seconds per quantum of layer ``index`` of ``mix`` (a copy: it is advanced),
    and the last quantum it rendered.

    By default the median of :data:`PROBE_QUANTA` after one untimed quantum (what
    :func:`parent_layers` was tuned on); with ``mean``, the mean over
    :data:`HELPER_PROBE_QUANTA` after :data:`HELPER_PROBE_SKIP` untimed ones.
    """
    layer = mix.layers[index]
    frame = [mix._frame]
    last = [np.zeros((2, QUANTUM), dtype=np.float32)]

    def one() -> None:
        last[0] = layer.render_quantum(frame[0], mix.sample_rate)
        frame[0] += QUANTUM

    params = getattr(layer.source, "params", {})
    if mean:
        for _ in range(HELPER_PROBE_SKIP):
            one()
        t0 = time.process_time()
        for _ in range(HELPER_PROBE_QUANTA):
            one()
        cost = (time.process_time() - t0) / HELPER_PROBE_QUANTA
    else:
        cost = probe_cpu_s(one)
    return cost * _overlap(dict(params)), last[0]


def _child_fixed_s(mix: Mix, ready: np.ndarray) -> float:
    """CPU seconds per quantum of a source quantum without its layers (reverb, sums).

    ``mix`` is a copy; every layer hands over ``ready`` instead of rendering.
    """
    mix._layer_feed = lambda index: ready.copy()
    frame = [mix._frame]

    def one() -> None:
        mix.source_quantum(frame[0])
        frame[0] += QUANTUM

    return probe_cpu_s(one)


def _parent_fixed_s(mix: Mix, ready: np.ndarray) -> float:
    """CPU seconds per quantum of the master stage of a copy ``mix`` fed ``ready``.

    Probed half way through the session (past a fade-in), as ``Mix.process`` runs it.
    """
    mix._feed = lambda start: ready.copy()
    middle = mix.total_frames // 2 // QUANTUM * QUANTUM
    mix._frame, mix._emitted, mix._skip = middle, middle, 0
    mix._fifo = np.zeros((2, 0), dtype=np.float32)
    return probe_cpu_s(lambda: mix.process(QUANTUM)) + PARENT_HANDOFF_S


def partition(
    child_fixed_s: float,
    parent_fixed_s: float,
    layers_s: Sequence[float],
    *,
    parent_threads_s: float = 0.0,
    moved_factor: float = PARENT_LAYER_FACTOR,
) -> tuple[int, ...]:
    """The layers to move to the parent so that the render is done soonest.

    On two cores the render takes at least as long as the child, as the parent's
    main thread, and as half of everything (the child, the main thread and the
    parent's other threads share the two cores).  The split chosen makes the largest
    of these smallest; a moved layer costs ``moved_factor`` times its probe in the
    parent, plus :data:`TRANSFER_CPU_S`.

    Parameters
    ----------
    child_fixed_s, parent_fixed_s : float
        CPU seconds per quantum each process spends whatever the split (the child:
        reverb and sums; the parent's main thread: master stage, handing over).
    layers_s : sequence of float
        Each layer's CPU seconds per quantum.
    parent_threads_s : float
        CPU seconds per quantum of the parent's other threads (encoder, meter).
    moved_factor : float
        What a moved layer costs in the parent, per second of its probe: default
        :data:`PARENT_LAYER_FACTOR` (the parent's main thread shares its process with
        the encoder thread); 1.0 for a process of its own (:func:`helper_layers`).

    Returns
    -------
    tuple of int
        Indices of the layers the parent renders (ascending; empty: none).  Among
        equally good splits, the one moving fewest layers.
    """
    n = len(layers_s)
    total = float(sum(layers_s))

    def load(moved: Sequence[int]) -> float:
        transfer = 0.5 * TRANSFER_CPU_S * len(moved)
        kept = total - sum(layers_s[i] for i in moved)
        child = child_fixed_s + kept + transfer
        main = parent_fixed_s + moved_factor * (total - kept) + transfer
        return max(child, main, 0.5 * (child + main + parent_threads_s))

    best: tuple[int, ...] = ()
    best_load = load(best)
    if n <= EXHAUSTIVE_LAYERS:
        for k in range(1, n):  # the child keeps at least one layer
            for moved in itertools.combinations(range(n), k):
                cost = load(moved)
                if cost < best_load:
                    best, best_load = moved, cost
        return best
    moved: list[int] = []
    for i in sorted(range(n), key=lambda j: -layers_s[j]):  # greedy, costliest first
        if len(moved) < n - 1 and load([*moved, i]) < best_load:
            moved.append(i)
            best_load = load(moved)
    return tuple(sorted(moved))


def parent_layers(mix: Mix, *, parent_threads_s: float = 0.0) -> tuple[int, ...]:
    """Layers of ``mix`` the parent should render in a two-process split.

    Parameters
    ----------
    mix : Mix
        The mix about to be split (not touched: every probe runs on a copy).
    parent_threads_s : float
        CPU seconds per quantum of the parent's threads besides the main one (the
        encoder, the meter).

    Returns
    -------
    tuple of int
        Indices into ``mix.layers`` (see :func:`partition`); empty if the probes fail
        (then the child renders every layer, as before).
    """
    try:
        probe = copy.deepcopy(mix)
        costs = [_layer_cost_s(probe, i) for i in range(len(mix.layers))]
        layers_s = [c for c, _ in costs]
        ready = np.sum([y for _, y in costs], axis=0, dtype=np.float32)
        child_fixed = _child_fixed_s(copy.deepcopy(mix), ready)
        parent_fixed = _parent_fixed_s(probe, ready)
    except Exception:  # a source that cannot be copied: keep the plain split
        return ()
    return partition(child_fixed, parent_fixed, layers_s, parent_threads_s=parent_threads_s)


def helper_layers(mix: Mix) -> tuple[int, ...]:
    """Layers of ``mix`` a render process hands to a helper process of its own.

    While the parent waits for a steady scene's calibration window
    (:func:`~sonora.engine.forked.shared_source`), the render process and its helper
    share the layers on the two cores: the split is :func:`partition`'s with the
    helper as the "parent", no master stage and no encoder thread beside it (a moved
    layer costs its probe, not :data:`PARENT_LAYER_FACTOR` times it), from probes on
    copies that skip each layer's first quanta and take the mean
    (:data:`HELPER_PROBE_SKIP`, :data:`HELPER_PROBE_QUANTA`).  Never every layer.

    (With 1.3x and the median of the first 8 quanta, a bowl bath's bowl, the costlier
    layer by four, stayed in the render process with the reverb: that process carried
    ~6 ms of CPU per second of audio while the parent carried ~3.4 and the helper 0.9.)

    Parameters
    ----------
    mix : Mix
        The mix at its start (not touched).

    Returns
    -------
    tuple of int
        Indices into ``mix.layers`` (ascending); empty for a single layer or when the
        probes fail (then no helper).
    """
    if len(mix.layers) < 2:
        return ()
    try:
        probe = copy.deepcopy(mix)
        costs = [_layer_cost_s(probe, i, mean=True) for i in range(len(mix.layers))]
        ready = np.sum([y for _, y in costs], axis=0, dtype=np.float32)
        fixed = _child_fixed_s(copy.deepcopy(mix), ready)
    except Exception:  # a source that cannot be copied: no helper
        return ()
    return partition(fixed, 0.0, [c for c, _ in costs], moved_factor=1.0)


def sink_cost_s(write: Callable[[np.ndarray], object], quanta: int = 4) -> float:
    """CPU seconds per quantum of ``write`` (an encoder's, a meter's) on low noise.

    Parameters
    ----------
    write : callable
        Takes float32 ``(2, frames)`` blocks, as the render hands them out.
    quanta : int
        Quanta per block written (one block untimed, two timed).

    Returns
    -------
    float
        CPU seconds per quantum.
    """
    x = np.random.default_rng(1).uniform(-0.05, 0.05, (2, quanta * QUANTUM)).astype(np.float32)
    return probe_cpu_s(lambda: write(x), 2) / quanta
