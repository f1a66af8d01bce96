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
from collections.abc import Mapping

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


def eff_brightness(b: float, intensity: float) -> float:
    """Brightness after the trajectory: ``b · (0.4 + 1.2 I)``, clipped to [0, 1]."""
    return _clip(b * (0.4 + 1.2 * intensity))


def eff_density(d: float, intensity: float) -> float:
    """Density after the trajectory: ``d · (0.4 + 1.2 I)``, clipped to [0, 1]."""
    return _clip(d * (0.4 + 1.2 * intensity))


def eff_rate(r: float, intensity: float) -> float:
    """Event rate after the trajectory: ``r · 2^(I − 0.5)`` per minute."""
    return float(r * 2.0 ** (intensity - 0.5))


def source_params(source: str, knobs: Mapping[str, float], intensity: float) -> dict[str, float]:
    """Source parameters for ``knobs`` at trajectory ``intensity`` (0–1).

    Only parameters driven by a knob that is present are returned; the source's
    defaults (or a layer's fixed parameters) cover the rest.  Values are clipped to the
    source's ranges and rounded to 4 significant decimals.

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
    k = knobs
    out: dict[str, float] = {}
    b = eff_brightness(k["brightness"], i) if "brightness" in k else None
    d = eff_density(k["density"], i) if "density" in k else None
    r = eff_rate(k["event_rate_per_min"], i) if "event_rate_per_min" in k else None
    pitch = k.get("pitch_hz")
    if source == "rain":
        if d is not None:
            out["density"] = d
        if b is not None:
            out["brightness"] = b
    elif source == "ocean_waves":
        if d is not None:
            out["intensity"] = d
            out["swell_s"] = 13.0 - 6.0 * i
        if b is not None:
            out["brightness"] = b
    elif source == "stream":
        if d is not None:
            out["flow"] = d
        if b is not None:
            out["brightness"] = b
    elif source == "wind":
        if d is not None:
            out["strength"] = d
            out["gustiness"] = 0.1 + 0.6 * i
        if b is not None:
            out["pitch_hz"] = 150.0 * 2.0 ** (3.3 * b)
    elif source in ("brown_noise", "pink_noise", "white_noise"):
        if b is not None:
            out["cutoff_hz"] = 200.0 * 2.0 ** (5.3 * b)
    elif source in ("singing_bowl", "gong"):
        if pitch is not None:
            out["pitch_hz"] = pitch
        if r is not None:
            out["interval_s"] = 60.0 / r
        if b is not None:
            out["brightness"] = b
    elif source == "chimes":
        if pitch is not None:
            out["pitch_hz"] = pitch
        if r is not None:
            out["rate_per_min"] = r
        if b is not None:
            out["brightness"] = b
    elif source == "drone":
        if pitch is not None:
            out["pitch_hz"] = pitch
        if b is not None:
            out["brightness"] = b
        out["movement"] = 0.15 + 0.5 * i
    elif source == "melody":
        if pitch is not None:  # the line settles lower as the session calms
            out["pitch_hz"] = pitch * 2.0 ** (0.5 * (i - 0.5))
        if r is not None:
            out["note_rate_hz"] = r / 60.0
        if b is not None:
            out["brightness"] = b
        out["register_spread"] = 0.3
    elif source == "binaural":
        if pitch is not None:
            out["carrier_hz"] = pitch
        out["beat_hz"] = 4.0 + 6.0 * i
    elif source == "breath_pacer":
        if pitch is not None:
            out["pitch_hz"] = pitch
        if "tone_mix" in k:
            out["tone_mix"] = k["tone_mix"]
        if "breaths_start" in k:
            out["breaths_per_min"] = k["breaths_start"]
    specs = source_class(source).PARAMS
    clipped = {}
    for name, value in out.items():
        spec = specs[name]
        clipped[name] = round(_clip(value, spec.low, spec.high), 4)
    return clipped


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
