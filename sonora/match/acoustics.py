"""Measured acoustics of every arm and built-in scene (the reward model's brightness).

Each arm's sound is described by the spectral centroid of its rendered opening (a
3-second excerpt of a reference plan: unwinding, 20 minutes, seed 0) at three
starting intensities (0.1, 0.5 and 0.9: tension and energy 1, 5 and 9), and each
built-in scene by its excerpt played unchanged.  Measuring the audio
rather than trusting a brightness knob lets one personal coefficient capture "bright
sound puts me off" across very different sources (rain is bright even when dark for
rain; brown noise is dark even when bright for noise).

The table ships as ``acoustics.json`` next to this module; regenerate it with
``python -c "import sonora.match.acoustics as a; a.write_table()"`` after changing the engine's sources or the
recipes (``tests/test_match.py`` re-measures a few entries to catch drift).  Arms added
since the last full re-measure can be measured alone into ``acoustics_extra.json``
(``a.write_supplement()``), which fills only what the main table lacks; a full
``write_table()`` makes it redundant (delete it then).  A recipe missing from both is
measured on first use.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from sonora.plan.checkin import CheckIn
from sonora.plan.compose import compose, plan_from_scene
from sonora.plan.model import Plan
from sonora.plan.recipes import ARMS, get_arm
from sonora.plan.render import plan_excerpt, spectral_centroid_hz

TABLE_PATH = Path(__file__).with_name("acoustics.json")
#: Arms measured since the last full re-measure (read only for ids the table lacks).
SUPPLEMENT_PATH = Path(__file__).with_name("acoustics_extra.json")
#: Excerpt length measured, seconds.
SECONDS = 3.0
#: Reference centroid for the feature ``log2(centroid / REFERENCE_HZ)``.
REFERENCE_HZ = 500.0
#: Starting intensities measured (the tension and energy of the reference check-ins / 10).
INTENSITIES = (0.1, 0.5, 0.9)
_cache: dict[str, list[float]] = {}


def reference_plan(recipe: str, intensity: float = 0.5) -> Plan:
    """The plan measured for ``recipe`` (an arm id or ``"scene:<name>"``)."""
    if recipe.startswith("scene:"):
        from sonora.scenes import load_scene

        return plan_from_scene(load_scene(recipe[6:]), duration_s=1200.0, seed=0)
    level = round(10 * intensity)
    checkin = CheckIn(
        tension=level,
        energy=level,
        goal="unwind",
        minutes=20,
        output="headphones",
        local_time="20:00",
    )
    return compose(checkin, get_arm(recipe), seed=0)


def measure(recipe: str) -> list[float]:
    """Spectral centroids (Hz) of the reference excerpts of ``recipe``.

    Returns
    -------
    list of float
        One per :data:`INTENSITIES` for an arm; a single value for a scene.
    """
    levels = (0.5,) if recipe.startswith("scene:") else INTENSITIES
    return [
        spectral_centroid_hz(plan_excerpt(reference_plan(recipe, i), seconds=SECONDS), 48_000)
        for i in levels
    ]


def _read(path: Path) -> dict[str, list[float]]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: [float(x) for x in (v if isinstance(v, list) else [v])] for k, v in raw.items()}


@lru_cache(maxsize=1)
def _table() -> dict[str, list[float]]:
    return {**_read(SUPPLEMENT_PATH), **_read(TABLE_PATH)}


def centroids_hz(recipe: str) -> list[float] | None:
    """The measured centroids of ``recipe``; ``None`` for an unknown recipe id."""
    v = _table().get(recipe) or _cache.get(recipe)
    if v is not None:
        return v
    try:
        v = measure(recipe)
    except Exception:
        return None
    _cache[recipe] = v
    return v


def log_centroid(recipe: str, intensity: float = 0.5, fallback_brightness: float = 0.5) -> float:
    """``log2(centroid / 500 Hz)`` at a starting intensity, clipped to [-3, 3].

    Interpolates the measured octaves linearly in intensity (held beyond the ends).
    Falls back to an estimate from the plan's brightness (0–1) when the recipe cannot
    be measured.
    """
    c = centroids_hz(recipe)
    if not c or min(c) <= 0:
        return float(4.0 * (fallback_brightness - 0.45))
    octaves = [math.log2(x / REFERENCE_HZ) for x in c]
    v = octaves[0] if len(octaves) == 1 else float(np.interp(intensity, INTENSITIES, octaves))
    return float(min(3.0, max(-3.0, v)))


def measure_all() -> dict[str, list[float]]:
    """Measure every arm and built-in scene."""
    from sonora.scenes import builtin_names

    ids = [a.id for a in ARMS] + [f"scene:{n}" for n in builtin_names()]
    return {i: [round(x, 1) for x in measure(i)] for i in ids}


def _write(path: Path, table: dict[str, list[float]]) -> None:
    path.write_text(json.dumps(table, sort_keys=True).replace("], ", "],\n ") + "\n")
    _table.cache_clear()


def write_table(path: Path = TABLE_PATH) -> int:  # pragma: no cover - maintenance command
    """Re-measure everything and write the table; returns the number of entries."""
    table = measure_all()
    _write(path, table)
    return len(table)


def write_supplement(path: Path = SUPPLEMENT_PATH) -> int:  # pragma: no cover - maintenance
    """Measure the arms the main table lacks into the supplement; returns their number."""
    main = _read(TABLE_PATH)
    table = {a.id: [round(x, 1) for x in measure(a.id)] for a in ARMS if a.id not in main}
    _write(path, table)
    return len(table)
