"""The session plan: layers, a trajectory, a duration, a seed and a plain-words reason.

A :class:`Plan` is JSON-serialisable (``to_json`` / ``from_json`` round-trip exactly)
and renders through the engine via :meth:`Plan.to_scene`, which turns the trajectory
into automation curves on each layer.  The same plan and seed always render the same
samples.

``Plan.layers`` lists ``(family, gain_db)`` pairs (the stable, public view);
``Plan.plan_layers`` has the details (source, knobs, placement).

JSON form (``kind`` marks it as a plan, not a scene)::

    {"kind": "sonora-plan", "version": 1, "goal": "sleep", "duration_s": 1200.0,
     "seed": 7, "reason": "...", "recipe": "rain-bowls/dark", "brightness": 0.2,
     "headphones": false, "quiet_rest": false, "title": "...",
     "trajectory": {"kind": "sleep", "variant": "fade", "lead_s": 540.0,
                    "intensity": [[0, 0.7], ...], "gain_db": [[0, 0], ...]},
     "layers": [{"family": "rain", "source": "rain", "gain_db": 0.0,
                 "params": {"brightness": 0.2, "density": 0.45}, "pan": 0.0,
                 "reverb_send": 0.0, "fixed": {}, "automation": {}, "role": "texture"},
                ...],
     "reverb": {"room_size": 0.75, "damping": 0.55, "wet_level": 0.5} | null,
     "checkin": {"tension": 7.0, ...} | null}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonora.engine.automation import Curve
from sonora.engine.registry import SOURCES, source_class
from sonora.errors import ParameterError, check_choice, check_number
from sonora.plan.checkin import GOALS
from sonora.plan.recipes import DEFAULT_ROLES, FAMILIES, FAMILY_SOURCES, HEADPHONES_FAMILIES, ROLES
from sonora.plan.sound import breath_curve, check_knobs, role_db, source_params, tilt_db
from sonora.plan.trajectory import SILENT_DB, Trajectory
from sonora.scenes.spec import Scene, parse_scene

#: Value of the ``kind`` key that marks a plan file.
PLAN_KIND = "sonora-plan"
PLAN_VERSION = 1
#: Fades applied by the engine at the ends of every plan, seconds.
FADE_IN_S = 8.0
FADE_OUT_S = 20.0
#: Extra automation points per trajectory segment (the knob maps are not linear).
_SUBDIVISIONS = 4


def _curve_specs(field: str, raw: Any) -> dict[str, list[list[Any]]]:
    if not isinstance(raw, Mapping):
        raise ParameterError(field, "expected a mapping of parameter -> curve points")
    out = {}
    for name, spec in raw.items():
        curve = Curve.from_spec(spec, field=f"{field}.{name}")
        out[str(name)] = [[t, v, s] for t, v, s in curve.to_spec()]
    return out


@dataclass(frozen=True)
class PlanLayer:
    """One layer of a plan.

    Parameters
    ----------
    family : str
        Sound family (see :data:`sonora.plan.recipes.FAMILIES`).
    gain_db : float
        Balance in dB, -60 to +12 (each layer is calibrated to -23 LUFS at 0 dB; the
        trajectory's gain offset is added over time).
    source : str
        Engine source playing the family.
    params : mapping
        Knobs (see :data:`sonora.plan.sound.KNOBS`): ``brightness``, ``density``,
        ``pitch_hz``, ``event_rate_per_min``; for a breath pacer ``breaths_start``,
        ``breaths_end``, ``ramp_s``, ``tone_mix``.  Shaped by the trajectory.
    pan : float
        -1 (left) to 1 (right).
    reverb_send : float
        0–1.
    fixed : mapping
        Source parameters set verbatim (not shaped by the trajectory).
    automation : mapping
        Source-parameter curves (``[[time_s, value, shape], ...]``) used verbatim.
    role : str
        The layer's part in the mix and the trajectory, one of
        :data:`~sonora.plan.recipes.ROLES` (``""``: the family's default).
    """

    family: str
    gain_db: float
    source: str
    params: Mapping[str, float] = field(default_factory=dict)
    pan: float = 0.0
    reverb_send: float = 0.0
    fixed: Mapping[str, float] = field(default_factory=dict)
    automation: Mapping[str, Any] = field(default_factory=dict)
    role: str = ""

    def __post_init__(self) -> None:
        check_choice("layer.family", self.family, FAMILIES)
        role = self.role or DEFAULT_ROLES[self.family]
        object.__setattr__(self, "role", check_choice("layer.role", role, ROLES))
        if self.source not in SOURCES:
            raise ParameterError("layer.source", f"unknown source {self.source!r}")
        if self.source not in FAMILY_SOURCES[self.family]:
            raise ParameterError(
                "layer.source",
                f"{self.source!r} does not play {self.family!r}; use one of "
                f"{', '.join(FAMILY_SOURCES[self.family])}",
            )
        object.__setattr__(
            self, "gain_db", check_number("layer.gain_db", self.gain_db, low=-60.0, high=12.0)
        )
        object.__setattr__(self, "params", check_knobs("layer.params", self.params))
        object.__setattr__(self, "pan", check_number("layer.pan", self.pan, low=-1.0, high=1.0))
        object.__setattr__(
            self,
            "reverb_send",
            check_number("layer.reverb_send", self.reverb_send, low=0.0, high=1.0),
        )
        cls = source_class(self.source)
        fixed = dict(self.fixed)
        cls.validate_params(fixed, prefix="layer.fixed")
        object.__setattr__(self, "fixed", {k: float(v) for k, v in fixed.items()})
        object.__setattr__(self, "automation", _curve_specs("layer.automation", self.automation))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "family": self.family,
            "source": self.source,
            "gain_db": self.gain_db,
            "params": dict(self.params),
            "pan": self.pan,
            "reverb_send": self.reverb_send,
            "fixed": dict(self.fixed),
            "automation": {k: [list(p) for p in v] for k, v in self.automation.items()},
            "role": self.role,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, field_name: str = "layer") -> PlanLayer:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise ParameterError(field_name, "expected a mapping of layer settings")
        allowed = {"family", "source", "gain_db", "params", "pan", "reverb_send", "fixed"}
        allowed |= {"automation", "role"}
        unknown = set(data) - allowed
        if unknown:
            raise ParameterError(f"{field_name}.{sorted(unknown)[0]}", "unknown key")
        return cls(
            family=data.get("family"),  # type: ignore[arg-type]
            gain_db=data.get("gain_db", 0.0),
            source=data.get("source"),  # type: ignore[arg-type]
            params=data.get("params", {}) or {},
            pan=data.get("pan", 0.0),
            reverb_send=data.get("reverb_send", 0.0),
            fixed=data.get("fixed", {}) or {},
            automation=data.get("automation", {}) or {},
            role=data.get("role", "") or "",
        )

    @property
    def is_pacer(self) -> bool:
        """True for a breath-pacer layer."""
        return self.family == "breath"


@dataclass(frozen=True)
class Plan:
    """A session made for one listener at one moment.

    Parameters
    ----------
    plan_layers : tuple of PlanLayer
        The layers (empty for a quiet-rest session).
    trajectory : Trajectory
        Intensity and gain over time.
    duration_s : float
        Session length, seconds (0 < d <= 12 h).
    seed : int
        Seed for every random choice of the render, 0 <= seed < 2**63.
    reason : str
        Why this plan, in plain words.
    goal : str
        The session's goal.
    headphones : bool
        Whether the plan needs headphones (true when any layer is binaural).
    quiet_rest : bool
        A silent-rest session (no layers).
    recipe : str
        Id of what was chosen (an arm id such as ``"rain/dark"``, ``"scene:rain"`` or
        ``"quiet-rest"``).
    brightness : float
        Overall brightness of the chosen sound at rest, 0 (dark) to 1 (bright).
    reverb : mapping or None
        Shared reverb settings.
    checkin : mapping or None
        The check-in scales and context the plan was made for (never the note).
    title : str
        A short title for players and files.
    """

    plan_layers: tuple[PlanLayer, ...]
    trajectory: Trajectory
    duration_s: float
    seed: int
    reason: str
    goal: str
    headphones: bool = False
    quiet_rest: bool = False
    recipe: str = ""
    brightness: float = 0.5
    reverb: Mapping[str, float] | None = None
    checkin: Mapping[str, Any] | None = None
    title: str = ""

    def __post_init__(self) -> None:
        layers = tuple(
            layer if isinstance(layer, PlanLayer) else PlanLayer.from_dict(layer)
            for layer in self.plan_layers
        )
        object.__setattr__(self, "plan_layers", layers)
        if not isinstance(self.trajectory, Trajectory):
            object.__setattr__(self, "trajectory", Trajectory.from_dict(self.trajectory))
        object.__setattr__(
            self,
            "duration_s",
            check_number(
                "duration_s",
                self.duration_s,
                low=0.0,
                high=12 * 3600.0,
                low_inclusive=False,
                unit=" s",
            ),
        )
        seed = self.seed
        if (
            isinstance(seed, bool)
            or not isinstance(seed, int | np.integer)
            or not 0 <= seed < 2**63
        ):
            raise ParameterError("seed", f"expected a whole number in [0, 2^63), got {seed!r}")
        object.__setattr__(self, "seed", int(seed))
        check_choice("goal", self.goal, GOALS)
        if not isinstance(self.reason, str):
            raise ParameterError("reason", "expected text")
        for name in ("headphones", "quiet_rest"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(name, f"expected true or false, got {getattr(self, name)!r}")
        if self.quiet_rest != (not layers):
            raise ParameterError(
                "quiet_rest", "a quiet-rest plan has no layers, and every other plan has some"
            )
        if len(layers) > 12:
            raise ParameterError("layers", f"at most 12 layers, got {len(layers)}")
        if any(layer.family in HEADPHONES_FAMILIES for layer in layers) and not self.headphones:
            raise ParameterError(
                "headphones", "must be true: a binaural layer only works over headphones"
            )
        object.__setattr__(
            self, "brightness", check_number("brightness", self.brightness, low=0.0, high=1.0)
        )
        if self.reverb is not None:
            if not isinstance(self.reverb, Mapping):
                raise ParameterError("reverb", "expected room_size, damping, wet_level")
            object.__setattr__(self, "reverb", {k: float(v) for k, v in self.reverb.items()})
        if self.checkin is not None:
            if not isinstance(self.checkin, Mapping):
                raise ParameterError("checkin", "expected a mapping of check-in answers")
            object.__setattr__(self, "checkin", dict(self.checkin))

    # -- the public, stable view -------------------------------------------------------
    @property
    def layers(self) -> list[tuple[str, float]]:
        """``(family, gain_db)`` for every layer, in order."""
        return [(layer.family, layer.gain_db) for layer in self.plan_layers]

    @property
    def families(self) -> tuple[str, ...]:
        """Families heard, in layer order, without repeats."""
        return tuple(dict.fromkeys(layer.family for layer in self.plan_layers))

    @property
    def pacer(self) -> dict[str, float] | None:
        """The breath pacer's settings (``breaths_start``, ``breaths_end``, ``ramp_s``)."""
        for layer in self.plan_layers:
            if layer.is_pacer:
                return dict(layer.params)
        return None

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (see the module docstring)."""
        return {
            "kind": PLAN_KIND,
            "version": PLAN_VERSION,
            "title": self.title,
            "goal": self.goal,
            "duration_s": self.duration_s,
            "seed": self.seed,
            "reason": self.reason,
            "recipe": self.recipe,
            "brightness": self.brightness,
            "headphones": self.headphones,
            "quiet_rest": self.quiet_rest,
            "trajectory": self.trajectory.to_dict(),
            "layers": [layer.to_dict() for layer in self.plan_layers],
            "reverb": None if self.reverb is None else dict(self.reverb),
            "checkin": None if self.checkin is None else dict(self.checkin),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ParameterError
            If ``kind`` is not ``"sonora-plan"``, the version is unknown, or any field
            is invalid.
        """
        if not isinstance(data, Mapping):
            raise ParameterError("plan", "expected a JSON object")
        if data.get("kind") != PLAN_KIND:
            raise ParameterError("kind", f"expected {PLAN_KIND!r}: this is not a Sonora plan")
        if data.get("version", PLAN_VERSION) != PLAN_VERSION:
            raise ParameterError("version", f"unknown plan version {data.get('version')!r}")
        known = {
            "kind",
            "version",
            "title",
            "goal",
            "duration_s",
            "seed",
            "reason",
            "recipe",
            "brightness",
            "headphones",
            "quiet_rest",
            "trajectory",
            "layers",
            "reverb",
            "checkin",
        }
        unknown = set(data) - known
        if unknown:
            raise ParameterError(sorted(unknown)[0], "unknown key in a plan")
        raw_layers = data.get("layers", [])
        if not isinstance(raw_layers, list):
            raise ParameterError("layers", "expected a list")
        return cls(
            plan_layers=tuple(
                PlanLayer.from_dict(raw, field_name=f"layers[{i}]")
                for i, raw in enumerate(raw_layers)
            ),
            trajectory=Trajectory.from_dict(data.get("trajectory", {})),
            duration_s=data.get("duration_s"),  # type: ignore[arg-type]
            seed=data.get("seed", 0),
            reason=data.get("reason", ""),
            goal=data.get("goal"),  # type: ignore[arg-type]
            headphones=data.get("headphones", False),
            quiet_rest=data.get("quiet_rest", False),
            recipe=data.get("recipe", ""),
            brightness=data.get("brightness", 0.5),
            reverb=data.get("reverb"),
            checkin=data.get("checkin"),
            title=data.get("title", ""),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """The plan as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan from JSON text (inverse of :meth:`to_json`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError("plan", f"not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    # -- rendering ---------------------------------------------------------------------
    def _sample_times(self) -> np.ndarray:
        """Automation times: trajectory breakpoints plus a few points inside each segment."""
        bps = [t for t in self.trajectory.breakpoints() if t <= self.duration_s]
        if not bps or bps[0] > 0.0:
            bps = [0.0, *bps]
        times = [bps[0]]
        for a, b in zip(bps[:-1], bps[1:], strict=True):
            times.extend(np.linspace(a, b, _SUBDIVISIONS + 2)[1:].tolist())
        return np.unique(np.round(np.asarray(times), 3))

    def scene_dict(self) -> dict[str, Any]:
        """The scene mapping (as :func:`sonora.scenes.parse_scene` reads) for this plan."""
        if self.quiet_rest:
            raise ParameterError(
                "layers", "a quiet-rest plan has no sound to render: rest quietly for its length"
            )
        times = self._sample_times()
        intensity = np.asarray(self.trajectory.intensity_at(times), dtype=float)
        gain_off = np.asarray(self.trajectory.gain_at(times), dtype=float)
        layers = []
        for layer in self.plan_layers:
            samples = [source_params(layer.source, layer.params, float(i)) for i in intensity]
            params: dict[str, float] = dict(samples[0])
            automation: dict[str, Any] = {}
            for name in samples[0]:
                values = [s[name] for s in samples]
                if len(set(values)) > 1:
                    pts: list[list[Any]] = []
                    for t, v in zip(times, values, strict=True):
                        if pts and pts[-1][1] == v and len(pts) >= 2 and pts[-2][1] == v:
                            pts[-1][0] = float(t)  # extend a flat run instead of adding points
                        else:
                            pts.append([float(t), v, "linear"])
                    automation[name] = pts
            if layer.is_pacer:
                curve = breath_curve(layer.params, self.duration_s)
                if curve is not None:
                    automation["breaths_per_min"] = curve
            params.update(layer.fixed)
            for name in layer.fixed:
                automation.pop(name, None)
            automation.update({k: [list(p) for p in v] for k, v in layer.automation.items()})
            start = self.trajectory.start_intensity
            tilt = np.array(
                [
                    tilt_db(layer.source, start, float(i)) + role_db(layer.role, start, float(i))
                    for i in intensity
                ]
            )
            gains = np.clip(layer.gain_db + gain_off + tilt, SILENT_DB, 12.0)
            if np.all(gains == gains[0]):
                gain_spec: Any = round(float(gains[0]), 3)
            else:
                gain_spec = [
                    [float(t), round(float(g), 3), "linear"]
                    for t, g in zip(times, gains, strict=True)
                ]
            d: dict[str, Any] = {
                "source": layer.source,
                "gain_db": gain_spec,
                "pan": layer.pan,
                "reverb_send": layer.reverb_send,
                "params": params,
                "label": layer.family,
            }
            if automation:
                d["automation"] = automation
            layers.append(d)
        name = "plan-" + (self.recipe or "custom").replace("/", "-").replace(":", "-")
        out: dict[str, Any] = {
            "name": name,
            "title": self.title or "Your Sonora plan",
            "description": self.reason or "A session plan.",
            "families": list(self.families),
            "goals": [self.goal],
            "headphones": self.headphones,
            "fade_in_s": min(FADE_IN_S, self.duration_s / 4),
            "fade_out_s": min(FADE_OUT_S, self.duration_s / 4),
            "layers": layers,
        }
        if self.reverb is not None:
            out["reverb"] = dict(self.reverb)
        return out

    def to_scene(self) -> Scene:
        """A validated :class:`~sonora.scenes.Scene` whose automation is the trajectory.

        Render it with ``build_mix(plan.to_scene(), duration_s=plan.duration_s,
        seed=plan.seed)`` (or :func:`sonora.plan.render_plan`).

        Raises
        ------
        ParameterError
            For a quiet-rest plan (there is nothing to render).
        """
        return parse_scene(self.scene_dict())

    def summary(self) -> dict[str, Any]:
        """Short description for lists: recipe, families, trajectory, minutes."""
        return {
            "recipe": self.recipe,
            "families": list(self.families),
            "trajectory": self.trajectory.kind,
            "minutes": round(self.duration_s / 60.0, 2),
            "headphones": self.headphones,
        }
