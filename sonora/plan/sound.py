"""How plan knobs and the trajectory's intensity become engine source parameters.

A plan layer carries a few *knobs* — ``brightness`` (0 dark … 1 bright), ``density``
(0 sparse … 1 dense), ``pitch_hz`` (pitch centre) and ``event_rate_per_min`` (strikes
or notes per minute) — set for the listener's resting state.  The trajectory's
*intensity* ``I`` (0 deeply calm … 1 activated) then shapes them over time:

* effective brightness ``b · (0.4 + 1.2 I)`` (0.4 b when fully calm, 1.6 b at the
  most activated; a dark sound stays dark);
* effective density ``d · (0.4 + 1.2 I)``;
* event rate ``r · 2^(I − 0.5)`` (0.7× at rest, 1.4× when activated);
* pitch centres do not move, except a melody's, which settles up to a fifth lower;
* roles: as the intensity falls below where the session started, a layer's gain
  moves by its role (:data:`ROLE_DB_PER_UNIT`, dB per unit of intensity): the bed
  rises a little (+3), textures stay, events recede (-6) -- on top of
* a spectral tilt: as the intensity falls below where the session started, brighter
  sources are turned down more than darker ones (up to 8 dB × the source's
  :data:`SOURCE_BRIGHTNESS` per unit of intensity), so a mix of a bright bed and dark
  accents (rain with bowls) darkens as a whole, not only layer by layer.

Each source turns these into its own parameters (all clipped to the source's ranges):

=============== ================================================================
source          parameters
=============== ================================================================
rain            density, brightness
ocean_waves     intensity ← density, brightness, swell_s = 13 − 6 I
stream          flow ← density, brightness
wind            strength ← density, pitch_hz = 150 · 2^(3.3 b), gustiness = 0.1 + 0.6 I
brown/pink      cutoff_hz = 200 · 2^(5.3 b)  (200 Hz … 7.8 kHz)
singing_bowl    pitch_hz, interval_s = 60 / rate, brightness
gong            pitch_hz, interval_s = 60 / rate, brightness
chimes          pitch_hz, rate_per_min, brightness
drone           pitch_hz, brightness, movement = 0.15 + 0.5 I
melody          pitch_hz · 2^((I − 0.5) / 2), note_rate_hz = rate / 60, brightness,
                register_spread = 0.3
binaural        carrier_hz ← pitch_hz, beat_hz = 4 + 6 I
breath_pacer    breaths_per_min from ``breaths_start`` to ``breaths_end`` over
                ``ramp_s`` (exponential), pitch_hz, tone_mix
=============== ================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from sonora.engine.registry import source_class
from sonora.errors import ParameterError, check_number

#: Plan knobs, their ranges and units.
KNOBS: dict[str, tuple[float, float, str]] = {
    "brightness": (0.0, 1.0, ""),
    "density": (0.0, 1.0, ""),
    "pitch_hz": (20.0, 2500.0, " Hz"),
    "event_rate_per_min": (0.3, 90.0, " 1/min"),
    "breaths_start": (3.0, 20.0, " 1/min"),
    "breaths_end": (3.0, 20.0, " 1/min"),
    "ramp_s": (0.0, 43_200.0, " s"),
    "tone_mix": (0.0, 1.0, ""),
}


def check_knobs(field: str, knobs: Mapping[str, float]) -> dict[str, float]:
    """Validate a knob mapping (names and ranges); error names ``field.<knob>``."""
    if not isinstance(knobs, Mapping):
        raise ParameterError(field, "expected a mapping of knob values")
    out = {}
    for name, value in knobs.items():
        if name not in KNOBS:
            raise ParameterError(
                f"{field}.{name}", f"unknown knob; allowed: {', '.join(sorted(KNOBS))}"
            )
        lo, hi, unit = KNOBS[name]
        out[name] = check_number(f"{field}.{name}", value, low=lo, high=hi, unit=unit)
    return out


def _clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return float(min(max(x, lo), hi))


#: How bright each source is (0 dark … 1 bright), for the trajectory's spectral tilt.
SOURCE_BRIGHTNESS = {
    "rain": 1.0,
    "chimes": 1.0,
    "stream": 0.8,
    "white_noise": 1.0,
    "pink_noise": 0.6,
    "wind": 0.5,
    "ocean_waves": 0.3,
    "singing_bowl": 0.2,
    "melody": 0.2,
    "breath_pacer": 0.2,
    "brown_noise": 0.0,
    "gong": 0.0,
    "drone": 0.0,
    "binaural": 0.0,
}
#: Spectral tilt, dB per unit of intensity below the start, for a source of brightness 1.
TILT_DB = 8.0


def tilt_db(source: str, start: float, intensity: float) -> float:
    """Extra gain (dB, <= 0) of ``source`` when intensity has fallen from ``start``."""
    return -TILT_DB * SOURCE_BRIGHTNESS.get(source, 0.0) * max(0.0, start - intensity)


#: How a layer's gain follows the trajectory by its role, dB per unit of intensity below
#: where the session started: the bed holds (and rises a little, so it carries the
#: settled session), textures follow the trajectory alone, events recede.
ROLE_DB_PER_UNIT: dict[str, float] = {"bed": 3.0, "texture": 0.0, "event": -6.0, "pacer": 0.0}


def role_db(role: str, start: float, intensity: float) -> float:
    """Extra gain (dB) of a layer with ``role`` when intensity has fallen from ``start``."""
    return ROLE_DB_PER_UNIT.get(role, 0.0) * max(0.0, start - intensity)


def eff_brightness(b: float, intensity: float) -> float:
    """Brightness after the trajectory: ``b · (0.4 + 1.2 I)``, clipped to [0, 1]."""
    return _clip(b * (0.4 + 1.2 * intensity))


def eff_density(d: float, intensity: float) -> float:
    """Density after the trajectory: ``d · (0.4 + 1.2 I)``, clipped to [0, 1]."""
    return _clip(d * (0.4 + 1.2 * intensity))


def eff_rate(r: float, intensity: float) -> float:
    """Event rate after the trajectory: ``r · 2^(I − 0.5)`` per minute."""
    return float(r * 2.0 ** (intensity - 0.5))


#: One parameter rule: the knob it follows (``None``: intensity only) and how the knob's
#: value ``x`` (brightness, density and rate already shaped by the trajectory) and the
#: intensity ``i`` give the parameter.
Rule = tuple[str | None, Callable[[float, float], float]]


def _same(x: float, i: float) -> float:
    return x


#: Per-source parameter tables (the table in the module docstring, as data).  A source
#: missing here takes no knobs; adding a source is adding a row.
PARAM_TABLE: dict[str, dict[str, Rule]] = {
    "rain": {"density": ("density", _same), "brightness": ("brightness", _same)},
    "ocean_waves": {
        "intensity": ("density", _same),
        "swell_s": ("density", lambda x, i: 13.0 - 6.0 * i),
        "brightness": ("brightness", _same),
    },
    "stream": {"flow": ("density", _same), "brightness": ("brightness", _same)},
    "wind": {
        "strength": ("density", _same),
        "gustiness": ("density", lambda x, i: 0.1 + 0.6 * i),
        "pitch_hz": ("brightness", lambda x, i: 150.0 * 2.0 ** (3.3 * x)),
    },
    **{
        noise: {"cutoff_hz": ("brightness", lambda x, i: 200.0 * 2.0 ** (5.3 * x))}
        for noise in ("brown_noise", "pink_noise", "white_noise")
    },
    **{
        struck: {
            "pitch_hz": ("pitch_hz", _same),
            "interval_s": ("event_rate_per_min", lambda x, i: 60.0 / x),
            "brightness": ("brightness", _same),
        }
        for struck in ("singing_bowl", "gong")
    },
    "chimes": {
        "pitch_hz": ("pitch_hz", _same),
        "rate_per_min": ("event_rate_per_min", _same),
        "brightness": ("brightness", _same),
    },
    "drone": {
        "pitch_hz": ("pitch_hz", _same),
        "brightness": ("brightness", _same),
        "movement": (None, lambda x, i: 0.15 + 0.5 * i),
    },
    "melody": {
        # the line settles lower as the session calms
        "pitch_hz": ("pitch_hz", lambda x, i: x * 2.0 ** (0.5 * (i - 0.5))),
        "note_rate_hz": ("event_rate_per_min", lambda x, i: x / 60.0),
        "brightness": ("brightness", _same),
        "register_spread": (None, lambda x, i: 0.3),
    },
    "binaural": {
        "carrier_hz": ("pitch_hz", _same),
        "beat_hz": (None, lambda x, i: 4.0 + 6.0 * i),
    },
    "breath_pacer": {
        "pitch_hz": ("pitch_hz", _same),
        "tone_mix": ("tone_mix", _same),
        "breaths_per_min": ("breaths_start", _same),
    },
}


def source_params(source: str, knobs: Mapping[str, float], intensity: float) -> dict[str, float]:
    """Source parameters for ``knobs`` at trajectory ``intensity`` (0–1).

    Only parameters driven by a knob that is present are returned; the source's
    defaults (or a layer's fixed parameters) cover the rest.  Values are clipped to the
    source's ranges and rounded to 4 significant decimals.  The rules are
    :data:`PARAM_TABLE`.

    Parameters
    ----------
    source : str
        Engine source name.
    knobs : mapping
        Knob values (see :data:`KNOBS`).
    intensity : float
        Trajectory intensity, 0 (calm) to 1 (activated).

    Returns
    -------
    dict of str to float
    """
    i = _clip(intensity)
    shaped = dict(knobs)
    if "brightness" in knobs:
        shaped["brightness"] = eff_brightness(knobs["brightness"], i)
    if "density" in knobs:
        shaped["density"] = eff_density(knobs["density"], i)
    if "event_rate_per_min" in knobs:
        shaped["event_rate_per_min"] = eff_rate(knobs["event_rate_per_min"], i)
    specs = source_class(source).PARAMS
    out = {}
    for name, (knob, rule) in PARAM_TABLE.get(source, {}).items():
        if knob is not None and knob not in shaped:
            continue
        value = rule(shaped[knob] if knob is not None else 0.0, i)
        spec = specs[name]
        out[name] = round(_clip(value, spec.low, spec.high), 4)
    return out


def breath_curve(knobs: Mapping[str, float], duration_s: float) -> list[list[float | str]] | None:
    """Breaths-per-minute curve of a pacer layer: start, exponential ramp to end.

    Returns ``None`` when the rate does not change.
    """
    start = knobs.get("breaths_start")
    end = knobs.get("breaths_end", start)
    ramp = knobs.get("ramp_s", 0.0)
    if start is None or end is None or math.isclose(start, end) or ramp <= 0:
        return None
    ramp = min(ramp, duration_s)
    return [[0.0, float(start), "linear"], [float(ramp), float(end), "exp"]]
