"""Each source's loudness as a function of its parameters, measured offline.

A stream that starts before its plan's loudness calibration needs each layer's trim
at once.  Measuring the source alone (:func:`sonora.plan.render.analysis_mix` does,
8 s per layer) costs a few hundred milliseconds per new parameter set, on the
request's critical path.  This table makes it free: for every registered source,
the loudness of 8 s rendered alone (seed 0, ungated BS.1770, as the excerpt
calibration measures) was measured offline at :data:`SAMPLES` random parameter sets
plus the defaults, and fitted by least squares to a straight line in the parameters
(frequencies on a log scale).  :func:`loudness_bound_lufs` returns the fit plus the
largest amount any measurement exceeded it (``margin_db``), an upper bound over the
measured sets, so a trim computed from it never makes a layer louder than its
reference.

The table ships as ``source_loudness.json`` next to this module; regenerate it with
``python -m sonora.scenes.source_loudness`` after changing a source
(``tests/scenes/test_source_loudness.py`` re-measures parameter sets to catch drift).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sonora.engine.loudness import ungated_lufs
from sonora.engine.registry import SOURCES, source_class
from sonora.errors import ParameterError

__all__ = ["SAMPLES", "TABLE_PATH", "loudness_bound_lufs", "measure_lufs", "write_table"]

TABLE_PATH = Path(__file__).with_name("source_loudness.json")
#: Random parameter sets measured per source (plus its defaults).
SAMPLES = 40
#: Seconds rendered per measurement (as :data:`sonora.plan.render.EXCERPT_CALIBRATION_S`).
SECONDS = 8.0
#: Sample rate of the measurements, Hz (loudness hardly depends on it).
SAMPLE_RATE_HZ = 48_000


def _features(source: str, params: dict[str, float]) -> np.ndarray:
    """The fit's inputs: each parameter in [0, 1] of its range (log for frequencies)."""
    specs = source_class(source).PARAMS
    out = []
    for name in sorted(specs):
        spec = specs[name]
        v = float(min(max(params.get(name, spec.default), spec.low), spec.high))
        if spec.low > 0 and spec.high / spec.low >= 8:  # Hz, seconds: a log scale
            x = math.log(v / spec.low) / math.log(spec.high / spec.low)
        else:
            x = (v - spec.low) / (spec.high - spec.low) if spec.high > spec.low else 0.0
        out.append(x)
    return np.asarray(out, dtype=np.float64)


def measure_lufs(source: str, params: dict[str, float]) -> float:
    """Ungated loudness (LUFS) of ``source`` alone: :data:`SECONDS` s, seed 0."""
    src = source_class(source)(sample_rate=SAMPLE_RATE_HZ, seed=0, **params)
    seconds = min(SECONDS, src.calibration_seconds())
    return float(ungated_lufs(src.process(round(seconds * SAMPLE_RATE_HZ)), SAMPLE_RATE_HZ))


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    try:
        return dict(json.loads(TABLE_PATH.read_text()))
    except (OSError, ValueError):  # pragma: no cover - the table ships with the package
        return {}


def loudness_bound_lufs(source: str, params: dict[str, float]) -> float | None:
    """An upper bound of ``source``'s loudness alone at ``params`` (LUFS), in microseconds.

    Parameters
    ----------
    source : str
        Registered source name.
    params : dict of str to float
        Its parameters (missing ones take their defaults; out-of-range ones are
        clipped).

    Returns
    -------
    float or None
        The fitted loudness plus the fit's largest excess over its measurements;
        ``None`` for a source the table does not know.
    """
    entry = _table().get(source)
    if entry is None:
        return None
    x = _features(source, params)
    coef = np.asarray(entry["coef"], dtype=np.float64)
    if coef.shape != x.shape:
        return None
    return float(entry["intercept"] + coef @ x + entry["margin_db"])


def _sample_params(source: str, rng: np.random.Generator) -> dict[str, float]:
    cls = source_class(source)
    out = {}
    for name, spec in cls.PARAMS.items():
        u = float(rng.random())
        if spec.low > 0 and spec.high / spec.low >= 8:
            out[name] = float(spec.low * (spec.high / spec.low) ** u)
        else:
            out[name] = float(spec.low + u * (spec.high - spec.low))
    for _ in range(len(out)):  # whole-number parameters (a melody's mode) are rounded
        try:
            cls(sample_rate=SAMPLE_RATE_HZ, seed=0, **out)
            break
        except ParameterError as exc:
            name = exc.field.rsplit(".", 1)[-1]
            if name not in out:
                raise
            out[name] = float(round(out[name]))
    return out


def fit_source(source: str, samples: int = SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Measure ``source`` at its defaults and ``samples`` random sets; fit the line."""
    rng = np.random.default_rng([seed, len(source)])
    sets = [{k: float(s.default) for k, s in source_class(source).PARAMS.items()}]
    sets += [_sample_params(source, rng) for _ in range(samples)]
    xs, ys = [], []
    for p in sets:
        y = measure_lufs(source, p)
        if math.isfinite(y):
            xs.append(_features(source, p))
            ys.append(y)
    x = np.column_stack([np.ones(len(xs)), np.asarray(xs)])
    y = np.asarray(ys)
    sol, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ sol
    return {
        "intercept": round(float(sol[0]), 3),
        "coef": [round(float(c), 3) for c in sol[1:]],
        "margin_db": round(float(max(resid.max(), 0.0)) + 0.05, 2),
        "rms_residual_db": round(float(np.sqrt(np.mean(resid**2))), 2),
        "n": len(ys),
    }


def write_table(path: Path = TABLE_PATH) -> dict[str, dict[str, Any]]:  # pragma: no cover
    """Measure every registered source and write the table (a maintenance command)."""
    table = {name: fit_source(name) for name in sorted(SOURCES)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    _table.cache_clear()
    return table


if __name__ == "__main__":  # pragma: no cover
    for name, entry in write_table().items():
        print(name, entry)
