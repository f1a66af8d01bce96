"""Sound families, the catalogue of plan recipes, and the hard rules that filter them.

A *recipe* is a combination of sound families with their balance (rain with bowls,
waves under a breeze, ...).  An :class:`Arm` is a recipe at one brightness level
(dark, mid or bright): the unit the matcher chooses between.  Before anything is
chosen, :func:`allowed_arms` removes every arm that breaks a hard rule:

* a family the listener dislikes is never played (beds and accents included);
* sensitivities: ``high_pitch`` removes wind chimes and the bright level (and lowers
  pitch centres, see :mod:`sonora.plan.compose`); ``water`` removes water *and* rain
  (both are running/falling water); ``tonal`` removes every tonal family (bowls, gong,
  chimes, drone, melody, binaural) and turns the breath pacer's tone off;
* binaural layers only with headphones;
* bedtime (a sleep session, or in bed late at night): no strikes (gong, chimes) and
  nothing bright.

Families and the engine sources that play them:

========  ==============================
family    sources
========  ==============================
rain      ``rain``
water     ``ocean_waves``, ``stream``
wind      ``wind``
noise     ``brown_noise``, ``pink_noise``
bowls     ``singing_bowl``
gong      ``gong``
chimes    ``chimes``
drone     ``drone``
melody    ``melody``
breath    ``breath_pacer``
binaural  ``binaural`` (headphones only)
========  ==============================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sonora.engine.registry import source_class
from sonora.errors import ParameterError, check_choice
from sonora.plan.checkin import CheckIn

#: Every sound family a plan can contain.
FAMILIES = (
    "rain",
    "water",
    "wind",
    "noise",
    "bowls",
    "gong",
    "chimes",
    "drone",
    "melody",
    "breath",
    "binaural",
)
#: Families a recipe is made of (the breath pacer is an add-on, not a recipe family).
RECIPE_FAMILIES = tuple(f for f in FAMILIES if f != "breath")
#: Family -> engine sources that play it.
FAMILY_SOURCES: dict[str, tuple[str, ...]] = {
    "rain": ("rain",),
    "water": ("ocean_waves", "stream"),
    "wind": ("wind",),
    "noise": ("brown_noise", "pink_noise"),
    "bowls": ("singing_bowl",),
    "gong": ("gong",),
    "chimes": ("chimes",),
    "drone": ("drone",),
    "melody": ("melody",),
    "breath": ("breath_pacer",),
    "binaural": ("binaural",),
}
#: Sensitivities a listener can declare.
SENSITIVITIES = ("high_pitch", "water", "tonal")
#: Families with pitched tones ("tonal music" sensitivity).
TONAL_FAMILIES = frozenset({"bowls", "gong", "chimes", "drone", "melody", "binaural"})
#: Families removed by the "water" sensitivity.
WATER_FAMILIES = frozenset({"water", "rain"})
#: Families removed by the "high_pitch" sensitivity.
HIGH_PITCH_FAMILIES = frozenset({"chimes"})
#: Struck sounds kept out of bedtime sessions.
STRIKE_FAMILIES = frozenset({"gong", "chimes"})
#: Families that only work over headphones.
HEADPHONES_FAMILIES = frozenset({"binaural"})

#: Roles a layer plays in a mix and in the session's trajectory (see
#: :func:`sonora.plan.sound.role_db`): the *bed* under everything (steady, it carries the
#: session as it calms), a *texture* in front of it (follows the trajectory), an
#: occasional *event* (strikes, notes: they thin out and recede as the listener settles);
#: ``pacer`` is the breath pacer.
ROLES = ("bed", "texture", "event", "pacer")
#: The role a family plays when nothing says otherwise.
DEFAULT_ROLES: dict[str, str] = {
    "rain": "texture",
    "water": "bed",
    "wind": "texture",
    "noise": "bed",
    "bowls": "event",
    "gong": "event",
    "chimes": "event",
    "drone": "bed",
    "melody": "texture",
    "breath": "pacer",
    "binaural": "bed",
}

#: Most layers a recipe may have (a bed, a texture, an occasional event, and one more).
MAX_LAYERS = 4
#: Quietest layer of a recipe relative to its loudest, dB (quieter is inaudible in a mix).
MIN_LAYER_DB = -24.0

#: Brightness levels of an arm: the brightness knob (0 dark … 1 bright) at rest.
BRIGHTNESS_LEVELS: dict[str, float] = {"dark": 0.2, "mid": 0.45, "bright": 0.7}


@dataclass(frozen=True)
class RecipeLayer:
    """One layer of a recipe.

    Parameters
    ----------
    family : str
        Sound family (see :data:`FAMILIES`).
    source : str
        Engine source (see :data:`FAMILY_SOURCES`).
    gain_db : float
        Balance relative to the recipe's other layers, dB (each layer is calibrated to
        -23 LUFS at 0 dB).
    knobs : mapping
        Starting values of the plan knobs this layer uses: ``density`` (0–1),
        ``pitch_hz``, ``event_rate_per_min``.  Brightness comes from the arm.
    brightness_scale : float
        Multiplier on the arm's brightness for this layer (beds sit darker).
    bright_source : str
        Source used instead of ``source`` at the bright level ("" = none).
    fixed : mapping
        Source parameters set verbatim.
    pan, reverb_send : float
        Placement and reverb amount (0–1).
    role : str
        One of :data:`ROLES` ("" = the family's :data:`DEFAULT_ROLES`).
    """

    family: str
    source: str
    gain_db: float = 0.0
    knobs: Mapping[str, float] = field(default_factory=dict)
    brightness_scale: float = 1.0
    bright_source: str = ""
    fixed: Mapping[str, float] = field(default_factory=dict)
    pan: float = 0.0
    reverb_send: float = 0.0
    role: str = ""

    def __post_init__(self) -> None:
        role = self.role or DEFAULT_ROLES[self.family]
        object.__setattr__(self, "role", check_choice("layer.role", role, ROLES))


@dataclass(frozen=True)
class Recipe:
    """A combination of sound families with their balance.

    Parameters
    ----------
    name : str
        Identifier, lower-case with hyphens (``"rain-bowls"``).
    title : str
        Noun phrase used in plain-words reasons (``"rain with singing bowls"``).
    layers : tuple of RecipeLayer
    reverb : mapping or None
        Shared reverb (``room_size``, ``damping``, ``wet_level``), or none.
    """

    name: str
    title: str
    layers: tuple[RecipeLayer, ...]
    reverb: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        n = len(self.layers)
        if not 1 <= n <= MAX_LAYERS:
            raise ParameterError(
                "recipe.layers", f"{self.name}: {n} layers; allowed 1 to {MAX_LAYERS}"
            )
        fams = [layer.family for layer in self.layers]
        if len(set(fams)) != n:
            raise ParameterError("recipe.layers", f"{self.name}: a family appears twice ({fams})")
        gains = [layer.gain_db for layer in self.layers]
        if max(gains) != 0.0 or min(gains) < MIN_LAYER_DB:
            raise ParameterError(
                "recipe.layers.gain_db",
                f"{self.name}: the loudest layer sits at 0 dB and the others within "
                f"[{MIN_LAYER_DB:g}, 0] dB; got {gains}",
            )

    @cached_property  # read on every recommendation and plan view; the layers never change
    def families(self) -> tuple[str, ...]:
        """Families heard, in layer order, without repeats."""
        return tuple(dict.fromkeys(layer.family for layer in self.layers))


def _bowl(
    gain: float = 0.0,
    pitch: float = 174.0,
    interval_s: float = 9.0,
    fixed: dict[str, float] | None = None,
    **kw: Any,
):
    # spread 0.2: bowls placed wider (0.6) leaned plans 0.2-0.9 dB (docs/sound.md, round 9)
    return RecipeLayer(
        "bowls",
        "singing_bowl",
        gain,
        {"pitch_hz": pitch, "event_rate_per_min": 60.0 / interval_s},
        fixed={"bowls": 3.0, "rub": 0.3, "decay_s": 30.0, "spread": 0.2, **(fixed or {})},
        reverb_send=0.35,
        **kw,
    )


def _drone(gain: float = 0.0, pitch: float = 73.4, **kw: Any):
    return RecipeLayer("drone", "drone", gain, {"pitch_hz": pitch}, reverb_send=0.1, **kw)


def _noise_bed(gain: float, brightness_scale: float = 0.5, **kw: Any):
    return RecipeLayer(
        "noise", "brown_noise", gain, {}, brightness_scale=brightness_scale, role="bed", **kw
    )


def _wind(gain: float, density: float = 0.3, **kw: Any):
    return RecipeLayer("wind", "wind", gain, {"density": density}, **kw)


_ROOM = {"room_size": 0.75, "damping": 0.55, "wet_level": 0.5}

#: The catalogue, in a stable order (arm ids and learnt statistics depend on names only).
RECIPES: tuple[Recipe, ...] = (
    Recipe("rain", "rain", (RecipeLayer("rain", "rain", 0.0, {"density": 0.55}),)),
    Recipe(
        "ocean",
        "waves under a breeze",
        (
            RecipeLayer("water", "ocean_waves", 0.0, {"density": 0.5}),
            RecipeLayer("wind", "wind", -14.0, {"density": 0.3}, brightness_scale=0.8),
        ),
    ),
    Recipe(
        "stream",
        "a forest stream",
        (
            RecipeLayer("water", "stream", 0.0, {"density": 0.5}),
            RecipeLayer("wind", "wind", -12.0, {"density": 0.25}),
        ),
    ),
    Recipe("wind", "wind", (RecipeLayer("wind", "wind", 0.0, {"density": 0.5}),)),
    Recipe(
        "noise",
        "brown noise",
        (RecipeLayer("noise", "brown_noise", 0.0, {}, bright_source="pink_noise"),),
    ),
    # alone, the bowls are their own bed: a continuous ring (round 9) from the first rub
    Recipe(
        "bowls",
        "singing bowls",
        (_bowl(0.0, 174.0, 3.5, {"rub": 0.5, "decay_s": 45.0, "opening_s": 0.0}, role="texture"),),
        _ROOM,
    ),
    Recipe(
        "gong",
        "a gong over a low drone",
        (
            # played as gong-bath: strokes blooming out of the last one's hum (round 9)
            RecipeLayer(
                "gong",
                "gong",
                0.0,
                {"pitch_hz": 65.0, "event_rate_per_min": 60.0 / 8.0},
                fixed={"bloom_s": 3.5, "decay_s": 45.0},
                reverb_send=0.3,
            ),
            _drone(-8.0, 130.0, brightness_scale=0.6),
        ),
        {"room_size": 0.85, "damping": 0.55, "wet_level": 0.5},
    ),
    Recipe("drone", "a low drone", (_drone(0.0, 73.4),), {**_ROOM, "room_size": 0.8}),
    Recipe(
        "melody",
        "a soft melody over a pad",
        (
            RecipeLayer(
                "melody",
                "melody",
                0.0,
                {"pitch_hz": 261.6, "event_rate_per_min": 21.0},
                fixed={"mode": 0.0},
                reverb_send=0.45,
            ),
            _drone(-7.0, 130.8, brightness_scale=0.6),
        ),
        {"room_size": 0.8, "damping": 0.6, "wet_level": 0.6},
    ),
    Recipe(
        "chimes",
        "wind chimes in a breeze",
        (
            RecipeLayer("wind", "wind", 0.0, {"density": 0.35}),
            RecipeLayer(
                "chimes",
                "chimes",
                -6.0,
                {"pitch_hz": 880.0, "event_rate_per_min": 10.0},
                fixed={"decay_s": 6.0},
                reverb_send=0.3,
            ),
        ),
        {"room_size": 0.5, "damping": 0.5, "wet_level": 0.4},
    ),
    Recipe(
        "rain-bowls",
        "rain with singing bowls",
        (RecipeLayer("rain", "rain", 0.0, {"density": 0.45}), _bowl(-3.0, 196.0, 14.0)),
        _ROOM,
    ),
    Recipe(
        "rain-drone",
        "rain over a low drone",
        (
            RecipeLayer("rain", "rain", 0.0, {"density": 0.45}),
            _drone(-10.0, 98.0, brightness_scale=0.7),
        ),
        _ROOM,
    ),
    Recipe(
        "ocean-bowls",
        "waves with singing bowls",
        (RecipeLayer("water", "ocean_waves", 0.0, {"density": 0.45}), _bowl(-4.0, 174.0, 16.0)),
        _ROOM,
    ),
    Recipe(
        "noise-bowls",
        "singing bowls over brown noise",
        (
            _bowl(0.0, 174.0, 3.5, {"rub": 0.35, "decay_s": 40.0}, role="texture"),
            RecipeLayer("noise", "brown_noise", -6.0, {}, brightness_scale=0.6),
        ),
        _ROOM,
    ),
    Recipe(
        "rain-binaural",
        "rain with a binaural beat",
        (
            RecipeLayer("rain", "rain", 0.0, {"density": 0.35}),
            RecipeLayer("binaural", "binaural", -8.0, {"pitch_hz": 200.0}),
        ),
    ),
    Recipe(
        "noise-binaural",
        "brown noise with a binaural beat",
        (
            RecipeLayer("noise", "brown_noise", 0.0, {}, bright_source="pink_noise"),
            RecipeLayer("binaural", "binaural", -8.0, {"pitch_hz": 200.0}),
        ),
    ),
    # Layered recipes (issue #12): a bed underneath, a texture in front and an
    # occasional tonal event, in proportion (dB against the loudest layer; each layer is
    # calibrated to -23 LUFS at 0 dB before its gain, and the plan's mix is calibrated
    # as a whole).  Their roles shape them over the trajectory (sonora.plan.sound.
    # role_db): the bed holds and comes up a little as the session calms, the texture
    # follows it, events thin out and recede.  The single-family recipes above stay, so
    # a listener with one clear favourite can still have it undiluted.
    Recipe(
        "evening-rain",
        "evening rain with a singing bowl",
        (
            _noise_bed(-10.0),
            RecipeLayer("rain", "rain", 0.0, {"density": 0.45}),
            _bowl(-8.0, 174.0, 22.0),
        ),
        _ROOM,
    ),
    Recipe(
        "night-rain",
        "night rain",
        (
            _noise_bed(-6.0, 0.4),
            _drone(-16.0, 65.0, brightness_scale=0.5, role="bed"),
            RecipeLayer("rain", "rain", 0.0, {"density": 0.35}),
        ),
        _ROOM,
    ),
    Recipe(
        "forest-chimes",
        "a forest stream with wind chimes",
        (
            RecipeLayer("water", "stream", 0.0, {"density": 0.45}),
            _wind(-12.0, 0.3),
            RecipeLayer(
                "chimes",
                "chimes",
                -9.0,
                {"pitch_hz": 784.0, "event_rate_per_min": 5.0},
                fixed={"decay_s": 7.0},
                reverb_send=0.3,
            ),
        ),
        {"room_size": 0.5, "damping": 0.5, "wet_level": 0.4},
    ),
    Recipe(
        "temple",
        "a drone with singing bowls and a gong",
        (
            # the drone carries the mix: bowls at 0 dB over a -12 dB drone set the
            # startle guard off 11-24 % of the time (5-minute plans), at -4 dB 0.2 %
            _drone(0.0, 87.0, brightness_scale=0.6, role="bed"),
            _bowl(-4.0, 174.0, 12.0),
            RecipeLayer(
                "gong",
                "gong",
                -10.0,
                {"pitch_hz": 65.0, "event_rate_per_min": 60.0 / 45.0},
                fixed={"bloom_s": 3.0, "decay_s": 28.0},
                reverb_send=0.3,
            ),
        ),
        {"room_size": 0.85, "damping": 0.55, "wet_level": 0.5},
    ),
    Recipe(
        "shore",
        "a quiet shore with a singing bowl",
        (
            RecipeLayer("water", "ocean_waves", 0.0, {"density": 0.45}, role="bed"),
            _drone(-18.0, 73.4, brightness_scale=0.5, role="bed"),
            _wind(-16.0, 0.25, brightness_scale=0.8),
            _bowl(-5.0, 174.0, 20.0),
        ),
        _ROOM,
    ),
    Recipe(
        "focus-rain",
        "rain over steady noise",
        (
            RecipeLayer("noise", "brown_noise", -4.0, {}, bright_source="pink_noise", role="bed"),
            RecipeLayer("rain", "rain", 0.0, {"density": 0.4}),
        ),
    ),
)

_RECIPES_BY_NAME = {r.name: r for r in RECIPES}


@dataclass(frozen=True)
class Arm:
    """A recipe at one brightness level: what the matcher chooses between.

    Parameters
    ----------
    recipe : Recipe
    level : {"dark", "mid", "bright"}
    """

    recipe: Recipe
    level: str

    @property
    def id(self) -> str:
        """``"<recipe>/<level>"``, e.g. ``"rain-bowls/dark"``."""
        return f"{self.recipe.name}/{self.level}"

    @property
    def brightness(self) -> float:
        """The brightness knob at rest, 0 (dark) to 1 (bright)."""
        return BRIGHTNESS_LEVELS[self.level]

    @cached_property
    def families(self) -> tuple[str, ...]:
        """Families the arm plays (the breath pacer is added separately)."""
        return self.recipe.families


#: Every arm, in a stable order.
ARMS: tuple[Arm, ...] = tuple(Arm(r, lvl) for r in RECIPES for lvl in BRIGHTNESS_LEVELS)
_ARMS_BY_ID = {a.id: a for a in ARMS}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name`` (:class:`ParameterError` naming ``recipe`` otherwise)."""
    check_choice("recipe", name, _RECIPES_BY_NAME)
    return _RECIPES_BY_NAME[name]


def get_arm(arm_id: str) -> Arm:
    """The arm with id ``"<recipe>/<level>"``."""
    if arm_id not in _ARMS_BY_ID:
        raise ParameterError("arm", f"unknown arm {arm_id!r}; e.g. {ARMS[0].id!r}")
    return _ARMS_BY_ID[arm_id]


def check_families(field_name: str, values: Iterable[Any]) -> frozenset[str]:
    """Validate a list of family names (error names ``field_name[i]``)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ParameterError(field_name, f"expected a list of families from {', '.join(FAMILIES)}")
    return frozenset(check_choice(f"{field_name}[{i}]", v, FAMILIES) for i, v in enumerate(values))


def check_sensitivities(values: Iterable[Any]) -> frozenset[str]:
    """Validate sensitivities, each from :data:`SENSITIVITIES` (errors name the field)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ParameterError("sensitivities", f"expected a list from {', '.join(SENSITIVITIES)}")
    return frozenset(
        check_choice(f"sensitivities[{i}]", s, SENSITIVITIES) for i, s in enumerate(values)
    )


@dataclass(frozen=True)
class Constraints:
    """What a listener has ruled out.

    Parameters
    ----------
    disliked : frozenset of str
        Families never to play.
    sensitivities : frozenset of str
        From :data:`SENSITIVITIES`.
    breath_pacer : bool
        Whether a breath pacer may be offered (it never is when ``"breath"`` is
        disliked).
    """

    disliked: frozenset[str] = frozenset()
    sensitivities: frozenset[str] = frozenset()
    breath_pacer: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "disliked", check_families("disliked", self.disliked))
        object.__setattr__(self, "sensitivities", check_sensitivities(self.sensitivities))

    @property
    def excluded_families(self) -> frozenset[str]:
        """Families ruled out by dislikes and sensitivities."""
        out = set(self.disliked)
        if "water" in self.sensitivities:
            out |= WATER_FAMILIES
        if "tonal" in self.sensitivities:
            out |= TONAL_FAMILIES
        if "high_pitch" in self.sensitivities:
            out |= HIGH_PITCH_FAMILIES
        return frozenset(out)

    @property
    def pacer_allowed(self) -> bool:
        """Whether a breath pacer may be added."""
        return self.breath_pacer and "breath" not in self.disliked


def arm_rejection(arm: Arm, checkin: CheckIn, constraints: Constraints) -> str | None:
    """Why ``arm`` may not be played for this check-in, or ``None`` if it may.

    Returns
    -------
    str or None
        A short plain-words reason (used in messages and tests).
    """
    fams = set(arm.families)
    disliked = fams & constraints.disliked
    if disliked:
        return f"you asked us to leave out {', '.join(sorted(disliked))}"
    banned = fams & constraints.excluded_families
    if banned:
        return f"you are sensitive to {', '.join(sorted(banned))}"
    if "high_pitch" in constraints.sensitivities and arm.level == "bright":
        return "you are sensitive to high pitches"
    if fams & HEADPHONES_FAMILIES and not checkin.headphones:
        return "binaural beats only work over headphones"
    if checkin.is_bedtime and (fams & STRIKE_FAMILIES or arm.level == "bright"):
        return "it is bedtime: only gentle, dark sound"
    return None


def allowed_arms(checkin: CheckIn, constraints: Constraints | None = None) -> list[Arm]:
    """Every arm that passes the hard rules for this check-in and listener.

    Returns
    -------
    list of Arm
        In catalogue order; may be empty when a listener rules out everything.
    """
    constraints = constraints or Constraints()
    return [a for a in ARMS if arm_rejection(a, checkin, constraints) is None]


def source_family(source: str) -> str:
    """The family an engine source belongs to (its ``FAMILY``)."""
    return source_class(source).FAMILY
