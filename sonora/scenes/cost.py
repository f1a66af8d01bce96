"""How much work a scene is to render, estimated before rendering it.

A custom scene can ask for far more than a computer can do in reasonable time (twelve
bowl layers, each ringing dozens of overlapping strikes).  :func:`estimate_cost` says,
before any calibration or rendering starts, roughly how many CPU seconds a render will
take, from the scene's layers, their sources and parameters, and the duration:

* each layer's source is *probed*: :data:`PROBE_S` seconds rendered alone and timed
  (CPU time), which covers any source, including ones added later;
* struck sources build up: a strike rings for ``decay_s`` and a new one comes every
  ``interval_s`` (or ``60 / rate_per_min``) seconds, so in a steady state about
  ``decay_s / interval_s`` strikes ring together while the probe hears about one.  The
  probe's rate is scaled by that overlap (at least 1);
* the seconds rendered are the session, plus the loudness calibration (each layer
  alone for its calibration window, the whole mix for up to
  :data:`~sonora.scenes.build.MIX_CALIBRATION_S`, or five 60 s windows when something
  is automated).

The estimate is rough (within a factor of about two on this project's machines), and
it is meant to tell a render of minutes from one of hours.  ``sonora render`` refuses
an estimate above :func:`limit_cpu_s` unless given ``--force``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sonora.engine.base import QUANTUM
from sonora.scenes.spec import LayerSpec, Scene

#: Seconds of each layer's source rendered to time it.
PROBE_S = 1.0
#: The smallest limit, CPU seconds: anything estimated below it is never refused.
MIN_LIMIT_CPU_S = 300.0
#: Beyond the minimum, a render may cost this many CPU seconds per second of audio
#: (0.5: at least twice as fast as real time).
LIMIT_CPU_PER_AUDIO_S = 0.5
#: CPU seconds per second of audio for the mix itself (reverb, guard, limiter,
#: encoder), on top of the sources.
MIX_OVERHEAD_PER_S = 0.004


@dataclass(frozen=True)
class LayerCost:
    """One layer's share of :class:`CostEstimate`.

    Attributes
    ----------
    label : str
        The layer's label or ``"index: source"``.
    cpu_per_audio_s : float
        Estimated CPU seconds per second of this layer's audio in a steady state.
    overlap : float
        The build-up factor applied to the probe (1 for continuous sources).
    """

    label: str
    cpu_per_audio_s: float
    overlap: float


@dataclass(frozen=True)
class CostEstimate:
    """Estimated work of rendering a scene.

    Attributes
    ----------
    cpu_s : float
        Estimated CPU seconds for calibration and rendering together.
    audio_s : float
        The session's length, seconds.
    layers : tuple of LayerCost
        Per layer, most expensive first.
    """

    cpu_s: float
    audio_s: float
    layers: tuple[LayerCost, ...]

    @property
    def limit_cpu_s(self) -> float:
        """The most ``sonora render`` spends without ``--force``, CPU seconds."""
        return limit_cpu_s(self.audio_s)

    @property
    def over_limit(self) -> bool:
        """Whether the estimate exceeds :attr:`limit_cpu_s`."""
        return self.cpu_s > self.limit_cpu_s

    def describe(self) -> str:
        """One paragraph for a person: the estimate, the limit, what costs most."""
        worst = ", ".join(
            f"{c.label} ~{c.cpu_per_audio_s:.2f} s/s" for c in self.layers[:3] if c.cpu_per_audio_s
        )
        return (
            f"estimated render cost {_minutes(self.cpu_s)} of CPU for "
            f"{_minutes(self.audio_s)} of sound (limit {_minutes(self.limit_cpu_s)}: "
            f"{MIN_LIMIT_CPU_S / 60:g} min, or {LIMIT_CPU_PER_AUDIO_S:g} s per second of "
            f"sound for long sessions); costliest layers: {worst or '-'}"
        )


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def limit_cpu_s(audio_s: float) -> float:
    """Largest estimated CPU time rendered without ``--force``, seconds."""
    return max(MIN_LIMIT_CPU_S, LIMIT_CPU_PER_AUDIO_S * audio_s)


def _overlap(params: dict[str, float]) -> float:
    decay = params.get("decay_s")
    if decay is None:
        return 1.0
    if "interval_s" in params and params["interval_s"] > 0:
        every_s = params["interval_s"]
    elif params.get("rate_per_min", 0) > 0:
        every_s = 60.0 / params["rate_per_min"]
    else:
        return 1.0
    return max(1.0, float(decay) / float(every_s))


def _probe(spec: LayerSpec, index: int, seed: int, sample_rate: int) -> float:
    """CPU seconds per second of audio of the layer's source over its first seconds."""
    from sonora.scenes.build import _source

    src = _source(spec, seed, index, sample_rate)
    frames = round(PROBE_S * sample_rate)
    t0 = time.process_time()
    done = 0
    while done < frames:
        n = min(QUANTUM * 8, frames - done)
        src.process(n)
        done += n
    return (time.process_time() - t0) / PROBE_S


def estimate_cost(
    scene: Scene, *, duration_s: float, seed: int = 0, sample_rate: int = 48_000
) -> CostEstimate:
    """Estimate the CPU time of calibrating and rendering ``scene``.

    Parameters
    ----------
    scene : Scene
        A validated scene.
    duration_s : float
        Session length, seconds.
    seed : int
        The render's seed (the probe uses it, so it hears the same sources).
    sample_rate : int
        Hz.

    Returns
    -------
    CostEstimate
        Takes about ``PROBE_S`` seconds of audio per layer to compute.
    """
    from sonora.scenes.build import MAX_CALIBRATION_S, MIX_CALIBRATION_S, _is_automated, _source

    automated = _is_automated(scene)
    mix_cal_s = min(MIX_CALIBRATION_S, duration_s) if not automated else 5 * 60.0
    costs = []
    total = duration_s * MIX_OVERHEAD_PER_S + mix_cal_s * MIX_OVERHEAD_PER_S
    for i, spec in enumerate(scene.layers):
        params = dict(spec.params)
        for name, curve in spec.automation.items():
            params[name] = float(max(curve.values))
        overlap = _overlap(params)
        rate = _probe(spec, i, seed, sample_rate) * overlap
        cal_s = min(MAX_CALIBRATION_S, _source(spec, seed, i, sample_rate).calibration_seconds())
        total += rate * (duration_s + cal_s + mix_cal_s)
        costs.append(LayerCost(spec.label or f"{i}: {spec.source}", rate, overlap))
    costs.sort(key=lambda c: -c.cpu_per_audio_s)
    return CostEstimate(cpu_s=float(total), audio_s=float(duration_s), layers=tuple(costs))
