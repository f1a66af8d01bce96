"""Declarative scene files (TOML or YAML) and their validation.

A scene file looks like this (TOML)::

    name = "rain"
    title = "Rain"
    description = "Steady rain close by, soft drops on leaves."
    families = ["rain"]
    goals = ["sleep", "unwind", "focus"]
    fade_in_s = 8
    fade_out_s = 20

    [reverb]                 # optional shared reverb
    room_size = 0.7
    damping = 0.6

    [[layers]]
    source = "rain"          # see ``sonora scenes --sources``
    gain_db = 0              # relative to the layer's own calibrated loudness
    reverb_send = 0.2
    params = { density = 0.5 }
    automation = { density = [[0, 0.6], [600, 0.3, "exp"]] }

Every error names the field (``layers[1].params.density``) and the allowed range.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sonora.engine.automation import Curve
from sonora.engine.registry import SOURCES, source_class
from sonora.errors import ParameterError, check_choice, check_number

GOALS = ("sleep", "unwind", "ease_anxiety", "focus")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a scene (see the module docstring for the file format)."""

    source: str
    gain_db: Curve
    pan: float = 0.0
    width: float = 1.0
    reverb_send: float = 0.0
    params: Mapping[str, float] = field(default_factory=dict)
    automation: Mapping[str, Curve] = field(default_factory=dict)
    filter: Mapping[str, Any] | None = None
    label: str = ""

    @property
    def family(self) -> str:
        """Sound family of the layer's source."""
        return source_class(self.source).FAMILY

    @property
    def headphones_only(self) -> bool:
        """True for sources that only work over headphones."""
        return bool(getattr(source_class(self.source), "HEADPHONES_ONLY", False))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (inverse of parsing)."""
        d: dict[str, Any] = {
            "source": self.source,
            "gain_db": self.gain_db.values[0]
            if self.gain_db.is_constant
            else self.gain_db.to_spec(),
            "pan": self.pan,
            "width": self.width,
            "reverb_send": self.reverb_send,
            "params": dict(self.params),
        }
        if self.automation:
            d["automation"] = {k: v.to_spec() for k, v in self.automation.items()}
        if self.filter:
            d["filter"] = dict(self.filter)
        if self.label:
            d["label"] = self.label
        return d


@dataclass(frozen=True)
class ReverbSpec:
    """Shared reverb settings (all 0–1)."""

    room_size: float = 0.7
    damping: float = 0.5
    wet_level: float = 0.5


@dataclass(frozen=True)
class Scene:
    """A validated scene.

    Attributes
    ----------
    name : str
        Identifier (lower-case, hyphens).
    title, description : str
        Shown to people.
    families : tuple of str
        Sound families heard in the scene.
    goals : tuple of str
        Goals it suits, from :data:`GOALS`.
    headphones : bool
        Whether it needs headphones (true when any layer is binaural).
    layers : tuple of LayerSpec
    reverb : ReverbSpec or None
    fade_in_s, fade_out_s : float
        Session fades in seconds.
    source_path : str
        File it was read from (empty for scenes built in code).
    """

    name: str
    title: str
    description: str
    families: tuple[str, ...]
    goals: tuple[str, ...]
    headphones: bool
    layers: tuple[LayerSpec, ...]
    reverb: ReverbSpec | None = None
    fade_in_s: float = 8.0
    fade_out_s: float = 15.0
    source_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form that :func:`parse_scene` reads back."""
        d: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "families": list(self.families),
            "goals": list(self.goals),
            "headphones": self.headphones,
            "fade_in_s": self.fade_in_s,
            "fade_out_s": self.fade_out_s,
            "layers": [layer.to_dict() for layer in self.layers],
        }
        if self.reverb is not None:
            d["reverb"] = {
                "room_size": self.reverb.room_size,
                "damping": self.reverb.damping,
                "wet_level": self.reverb.wet_level,
            }
        return d

    def summary(self) -> dict[str, Any]:
        """The scene's catalogue entry (what ``sonora scenes --json`` prints)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "families": list(self.families),
            "goals": list(self.goals),
            "headphones": self.headphones,
        }


_TOP_KEYS = {
    "name",
    "title",
    "description",
    "families",
    "goals",
    "headphones",
    "layers",
    "reverb",
    "fade_in_s",
    "fade_out_s",
}
_LAYER_KEYS = {
    "source",
    "gain_db",
    "pan",
    "width",
    "reverb_send",
    "params",
    "automation",
    "filter",
    "label",
}


def _str(field_name: str, value: Any, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ParameterError(field_name, f"expected a non-empty text, got {value!r}")
    return value.strip()


def _parse_layer(i: int, raw: Any) -> LayerSpec:
    f = f"layers[{i}]"
    if not isinstance(raw, Mapping):
        raise ParameterError(f, "expected a table of layer settings")
    unknown = set(raw) - _LAYER_KEYS
    if unknown:
        raise ParameterError(
            f"{f}.{sorted(unknown)[0]}", f"unknown key; allowed: {', '.join(sorted(_LAYER_KEYS))}"
        )
    name = _str(f"{f}.source", raw.get("source"))
    if name not in SOURCES:
        raise ParameterError(
            f"{f}.source", f"unknown source {name!r}; known: {', '.join(sorted(SOURCES))}"
        )
    cls = source_class(name)
    params = raw.get("params", {}) or {}
    if not isinstance(params, Mapping):
        raise ParameterError(f"{f}.params", "expected a table of parameter values")
    checked = cls.validate_params(params, prefix=f"{f}.params")
    given = {k: checked[k] for k in params}
    automation: dict[str, Curve] = {}
    for pname, spec in (raw.get("automation", {}) or {}).items():
        pf = f"{f}.automation.{pname}"
        p = cls.PARAMS.get(pname)
        if p is None:
            raise ParameterError(
                pf, f"not a parameter of {name}; allowed: {', '.join(sorted(cls.PARAMS))}"
            )
        curve = Curve.from_spec(spec, field=pf)
        lo, hi = curve.range()
        if lo < p.low or hi > p.high:
            raise ParameterError(
                pf, f"values must stay in [{p.low:g}, {p.high:g}] {p.unit}".rstrip()
            )
        automation[pname] = curve
    gain = Curve.from_spec(raw.get("gain_db", 0.0), field=f"{f}.gain_db")
    lo, hi = gain.range()
    if lo < -60.0 or hi > 12.0:
        raise ParameterError(f"{f}.gain_db", "must stay in [-60, 12] dB")
    filt = raw.get("filter")
    if filt is not None:
        if not isinstance(filt, Mapping):
            raise ParameterError(
                f"{f}.filter", "expected a table like {kind = 'lowpass', cutoff_hz = 4000}"
            )
        check_choice(
            f"{f}.filter.kind", filt.get("kind", "lowpass"), ("lowpass", "highpass", "bandpass")
        )
        check_number(
            f"{f}.filter.cutoff_hz", filt.get("cutoff_hz"), low=10.0, high=20_000.0, unit=" Hz"
        )
        filt = dict(filt)
    return LayerSpec(
        source=name,
        gain_db=gain,
        pan=check_number(f"{f}.pan", raw.get("pan", 0.0), low=-1.0, high=1.0),
        width=check_number(f"{f}.width", raw.get("width", 1.0), low=0.0, high=1.0),
        reverb_send=check_number(
            f"{f}.reverb_send", raw.get("reverb_send", 0.0), low=0.0, high=1.0
        ),
        params=given,
        automation=automation,
        filter=filt,
        label=_str(f"{f}.label", raw.get("label"), required=False),
    )


def parse_scene(data: Mapping[str, Any], *, source_path: str = "") -> Scene:
    """Validate a scene mapping (as read from TOML, YAML or JSON).

    Raises
    ------
    ParameterError
        Naming the first invalid field and what is allowed.
    """
    if not isinstance(data, Mapping):
        raise ParameterError("scene", "expected a table of scene settings")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ParameterError(
            sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    name = _str("name", data.get("name"))
    layers_raw = data.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise ParameterError("layers", "a scene needs at least one [[layers]] entry")
    if len(layers_raw) > 12:
        raise ParameterError("layers", f"at most 12 layers, got {len(layers_raw)}")
    layers = tuple(_parse_layer(i, raw) for i, raw in enumerate(layers_raw))
    goals = data.get("goals", [])
    if not isinstance(goals, list):
        raise ParameterError("goals", f"expected a list from {', '.join(GOALS)}")
    goals = tuple(check_choice(f"goals[{i}]", g, GOALS) for i, g in enumerate(goals))
    families = data.get("families") or sorted({layer.family for layer in layers})
    if not isinstance(families, list | tuple) or not all(isinstance(x, str) for x in families):
        raise ParameterError("families", "expected a list of family names")
    needs_phones = any(layer.headphones_only for layer in layers)
    headphones = data.get("headphones", needs_phones)
    if not isinstance(headphones, bool):
        raise ParameterError("headphones", f"expected true or false, got {headphones!r}")
    if needs_phones and not headphones:
        raise ParameterError(
            "headphones", "must be true: a binaural layer only works over headphones"
        )
    reverb = None
    if data.get("reverb") is not None:
        r = data["reverb"]
        if not isinstance(r, Mapping):
            raise ParameterError("reverb", "expected a table with room_size, damping, wet_level")
        bad = set(r) - {"room_size", "damping", "wet_level"}
        if bad:
            raise ParameterError(
                f"reverb.{sorted(bad)[0]}", "unknown key; allowed: damping, room_size, wet_level"
            )
        reverb = ReverbSpec(
            room_size=check_number("reverb.room_size", r.get("room_size", 0.7), low=0.0, high=1.0),
            damping=check_number("reverb.damping", r.get("damping", 0.5), low=0.0, high=1.0),
            wet_level=check_number("reverb.wet_level", r.get("wet_level", 0.5), low=0.0, high=1.0),
        )
    return Scene(
        name=name,
        title=_str("title", data.get("title", name)),
        description=_str("description", data.get("description", ""), required=False),
        families=tuple(families),
        goals=goals,
        headphones=headphones,
        layers=layers,
        reverb=reverb,
        fade_in_s=check_number(
            "fade_in_s", data.get("fade_in_s", 8.0), low=0.0, high=600.0, unit=" s"
        ),
        fade_out_s=check_number(
            "fade_out_s", data.get("fade_out_s", 15.0), low=0.0, high=3600.0, unit=" s"
        ),
        source_path=source_path,
    )


def read_scene_file(path: str | Path) -> Scene:
    """Read and validate a ``.toml``, ``.yaml``/``.yml`` or ``.json`` scene file.

    Raises
    ------
    ParameterError
        For unreadable or malformed files (field ``scene``) and invalid settings.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError("scene", f"cannot read {str(p)!r}: {exc.strerror or exc}") from exc
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # only for YAML files: ~0.1 s to import

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ParameterError(
                    "scene", f"{p.name} is not valid {suffix[1:].upper()}: {exc}"
                ) from exc
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ParameterError("scene", f"{p.name}: use a .toml, .yaml or .json scene file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError("scene", f"{p.name} is not valid {suffix[1:].upper()}: {exc}") from exc
    return parse_scene(data, source_path=str(p))
