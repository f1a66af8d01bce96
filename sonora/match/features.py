"""Features of a (plan, moment, listener) triple for the reward model.

The expected outcome score of a session is modelled as linear in these features.
*Personal* features get a coefficient per listener (a population mean plus a personal
deviation); *shared* features have one coefficient for everyone, learnt from the whole
population (they carry the cold start, the context and the check-in covariates).

Personal (77):
    ``intercept``; the gain-weighted *share* of each engine source in the mix (rain,
    ocean waves, stream, wind, brown and pink noise, singing bowl, gong, chimes, drone,
    melody, binaural — shares sum to 1; the breath pacer is left out); the brightness
    knob ``b = (level − 0.45) × 4`` (dark −1, mid 0, bright +1); the *measured*
    brightness ``log2(centroid / 500 Hz)`` of the plan's opening sound at its starting
    intensity (:mod:`sonora.match.acoustics`); ``pacer`` (a breath pacer is present);
    and the *context* columns: each source's share again under this session's goal
    (``rain_at_sleep`` …) and, in the evening (:data:`EVENING_HOURS`), under
    ``evening`` — the listener's deviation in that moment from their general taste
    (:data:`CONTEXTS`: 4 goals + evening, × 12 sources).
Shared (116):
    ``loved`` (share of the mix in families the listener said they love);
    ``b × high_pitch`` and ``log-centroid × high_pitch`` (declared sensitivity);
    ``b × bedtime``; ``b × evening``; each source share × bedtime; each source share ×
    focus; three
    check-in covariates that are the same for every plan of a session (tension and
    mood before, /10, and the arousal estimate) — they explain score differences
    between sessions (regression to the mean, floors), so sound effects are learnt
    from less noisy residuals; and each source share × each onboarding flag
    (:data:`ONBOARDING_FLAGS`: dislikes tonal sound, noise or water; sensitive to high
    pitches; loves tonal sound, nature sounds or noise) — what people who answered
    onboarding the same way got from each sound, the cold start for a new listener.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np

from sonora.match import acoustics
from sonora.match.profile import Profile
from sonora.plan.checkin import CheckIn
from sonora.plan.compose import choose_trajectory
from sonora.plan.model import Plan
from sonora.plan.recipes import TONAL_FAMILIES, Arm, source_family

#: Bump when the feature layout changes (stored records carry it).
FEATURE_VERSION = 5

SOURCES = (
    "rain",
    "ocean_waves",
    "stream",
    "wind",
    "brown_noise",
    "pink_noise",
    "singing_bowl",
    "gong",
    "chimes",
    "drone",
    "melody",
    "binaural",
)
#: The moments a listener's taste may shift with: each goal, and the evening.  Each
#: gets a personal deviation of every source's effect ("rain at sleep"), so what is
#: learnt for one goal informs another only through the listener's general taste and
#: what other listeners showed (partial pooling across contexts).
CONTEXTS = ("sleep", "unwind", "ease_anxiety", "focus", "evening")
#: Evening, for the context features: 18:00 to 05:00 local time.
EVENING_HOURS = (18.0, 5.0)
PERSONAL_NAMES = (
    "intercept",
    *SOURCES,
    "bright",
    "bright2",
    "log_centroid",
    "pacer",
    *(f"{s}_at_{ctx}" for ctx in CONTEXTS for s in SOURCES),
)
#: What onboarding answers say about a listener (0/1 each), for the shared
#: "people who answered like you" interactions.
ONBOARDING_FLAGS = (
    "dislikes_tonal",
    "dislikes_noise",
    "dislikes_water",
    "high_pitch",
    "loves_tonal",
    "loves_nature",
    "loves_noise",
)
SHARED_NAMES = (
    "loved",
    "bright_x_high_pitch",
    "centroid_x_high_pitch",
    "bright_x_bedtime",
    "bright_x_evening",
    *(f"{s}_x_bedtime" for s in SOURCES),
    *(f"{s}_x_focus" for s in SOURCES),
    "tension_before",
    "mood_before",
    "arousal",
    *(f"{s}_x_{flag}" for flag in ONBOARDING_FLAGS for s in SOURCES),
)
NAMES = (*PERSONAL_NAMES, *SHARED_NAMES)
DIM = len(NAMES)
N_PERSONAL = len(PERSONAL_NAMES)
INDEX = {n: i for i, n in enumerate(NAMES)}
_SRC = {s: i for i, s in enumerate(SOURCES)}
_CTX0 = {ctx: INDEX[f"{SOURCES[0]}_at_{ctx}"] for ctx in CONTEXTS}
_FAMILY = {s: source_family(s) for s in SOURCES}


def shares(layers: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Gain-weighted share of each *family* among ``(family, gain_db)`` layers.

    The breath pacer is left out; shares of the rest sum to 1 (empty for no layers).
    """
    weights: dict[str, float] = {}
    for fam, gain in layers:
        if fam == "breath":
            continue
        weights[fam] = weights.get(fam, 0.0) + 10.0 ** (gain / 20.0)
    total = sum(weights.values())
    return {f: w / total for f, w in weights.items()} if total > 0 else {}


def source_shares(layers: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Gain-weighted share of each engine source among ``(source, gain_db)`` layers."""
    weights: dict[str, float] = {}
    for src, gain in layers:
        if src not in _SRC:
            continue
        weights[src] = weights.get(src, 0.0) + 10.0 ** (gain / 20.0)
    total = sum(weights.values())
    return {s: w / total for s, w in weights.items()} if total > 0 else {}


def arm_source_layers(arm: Arm) -> list[tuple[str, float]]:
    """``(source, gain_db)`` of an arm's layers as :func:`sonora.plan.compose` builds them."""
    out = []
    for rl in arm.recipe.layers:
        src = rl.bright_source if (rl.bright_source and arm.level == "bright") else rl.source
        out.append((src, rl.gain_db))
    return out


def vector(
    src_shares: Mapping[str, float],
    brightness: float,
    log_centroid: float,
    *,
    pacer: bool,
    bedtime: bool,
    focus: bool,
    high_pitch: bool,
    loved: Iterable[str] = (),
    covariates: tuple[float, float, float] = (0.5, 0.5, 0.5),
    flags: Iterable[str] = (),
    goal: str | None = None,
    evening: bool = False,
) -> np.ndarray:
    """The feature vector (float64, length :data:`DIM`).

    ``goal`` and ``evening`` place the source shares in their context columns too
    (``rain_at_sleep``, ``rain_at_evening``); an unknown goal adds none.
    """
    x = np.zeros(DIM)
    x[0] = 1.0
    loved = set(loved)
    loved_share = 0.0
    bed0 = INDEX[f"{SOURCES[0]}_x_bedtime"]
    foc0 = INDEX[f"{SOURCES[0]}_x_focus"]
    for src, s in src_shares.items():
        j = _SRC[src]
        x[1 + j] = s
        if bedtime:
            x[bed0 + j] = s
        if focus:
            x[foc0 + j] = s
        if _FAMILY[src] in loved:
            loved_share += s
        if goal in _CTX0:
            x[_CTX0[goal] + j] = s
        if evening:
            x[_CTX0["evening"] + j] = s
    b = (float(brightness) - 0.45) * 4.0
    x[INDEX["bright"]] = b
    x[INDEX["bright2"]] = b * b
    x[INDEX["log_centroid"]] = log_centroid
    x[INDEX["pacer"]] = 1.0 if pacer else 0.0
    x[INDEX["loved"]] = loved_share
    if high_pitch:
        x[INDEX["bright_x_high_pitch"]] = b
        x[INDEX["centroid_x_high_pitch"]] = log_centroid
    x[INDEX["bright_x_bedtime"]] = b if bedtime else 0.0
    x[INDEX["bright_x_evening"]] = b if evening else 0.0
    x[INDEX["tension_before"]], x[INDEX["mood_before"]], x[INDEX["arousal"]] = covariates
    for flag in flags:
        base = INDEX[f"{SOURCES[0]}_x_{flag}"]
        for src, s in src_shares.items():
            x[base + _SRC[src]] = s
    return x


def onboarding_flags(profile: Profile) -> tuple[str, ...]:
    """Which :data:`ONBOARDING_FLAGS` a profile raises."""
    dis, loved, sens = profile.disliked, profile.loved, profile.sensitivities
    out = []
    if dis & TONAL_FAMILIES or "tonal" in sens:
        out.append("dislikes_tonal")
    if "noise" in dis:
        out.append("dislikes_noise")
    if dis & {"rain", "water"} or "water" in sens:
        out.append("dislikes_water")
    if "high_pitch" in sens:
        out.append("high_pitch")
    if loved & TONAL_FAMILIES:
        out.append("loves_tonal")
    if loved & {"rain", "water", "wind"}:
        out.append("loves_nature")
    if "noise" in loved:
        out.append("loves_noise")
    return tuple(out)


def is_evening(checkin: CheckIn) -> bool:
    """Evening or night (:data:`EVENING_HOURS`); ``False`` when the time is unknown."""
    h = checkin.hour
    return h is not None and (h >= EVENING_HOURS[0] or h < EVENING_HOURS[1])


def covariates(checkin: CheckIn) -> tuple[float, float, float]:
    """Check-in covariates: tension and mood before (/10; 0.5 when not given), arousal."""
    t = 0.5 if checkin.tension is None else checkin.tension / 10.0
    m = 0.5 if checkin.mood is None else checkin.mood / 10.0
    return t, m, checkin.arousal


def _checkin(plan: Plan) -> CheckIn | None:
    if plan.checkin is None:
        return None
    c = CheckIn.from_dict(plan.checkin)
    return c if c.goal else c.with_goal(plan.goal)


def plan_vector(plan: Plan, profile: Profile) -> np.ndarray:
    """Features of a plan as it was made (its layers, sound and check-in) for a listener."""
    c = _checkin(plan)
    bedtime = c.is_bedtime if c is not None else plan.goal == "sleep"
    return vector(
        source_shares((pl.source, pl.gain_db) for pl in plan.plan_layers),
        plan.brightness,
        acoustics.log_centroid(plan.recipe, plan.trajectory.start_intensity, plan.brightness),
        pacer=plan.pacer is not None,
        bedtime=bedtime,
        focus=plan.goal == "focus",
        high_pitch="high_pitch" in profile.sensitivities,
        loved=profile.loved,
        covariates=covariates(c) if c is not None else (0.5, 0.5, 0.5),
        flags=onboarding_flags(profile),
        goal=plan.goal,
        evening=c is not None and is_evening(c),
    )


#: Per-arm-list tables: source shares ``(n, 12)`` and brightness knob ``(n,)``.
_TABLES: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}


def _arm_tables(arms: list[Arm]) -> tuple[np.ndarray, np.ndarray]:
    key = tuple(a.id for a in arms)
    hit = _TABLES.get(key)
    if hit is None:
        sh = np.zeros((len(arms), len(SOURCES)))
        for r, a in enumerate(arms):
            for src, v in source_shares(arm_source_layers(a)).items():
                sh[r, _SRC[src]] = v
        b = (np.array([a.brightness for a in arms], dtype=float) - 0.45) * 4.0
        hit = (sh, b)
        if len(_TABLES) > 512:
            _TABLES.clear()
        _TABLES[key] = hit
    return hit


@lru_cache(maxsize=4096)
def _log_centroid(recipe: str, intensity: float, brightness: float) -> float:
    """:func:`acoustics.log_centroid`, memoised (measured tables do not change)."""
    return acoustics.log_centroid(recipe, intensity, brightness)


def arm_matrix(
    arms: list[Arm],
    checkin: CheckIn,
    profile: Profile,
    *,
    pacer: bool,
) -> np.ndarray:
    """Features of each arm at this check-in for a listener, ``(len(arms), DIM)``.

    Row ``k`` equals :func:`vector` for arm ``k`` as :func:`sonora.plan.compose`
    builds it (computed a column block at a time: this runs on every check-in).
    """
    if not arms:
        return np.zeros((0, DIM))
    sh, b = _arm_tables(arms)
    n = len(arms)
    flags = onboarding_flags(profile)
    high_pitch = "high_pitch" in profile.sensitivities
    start = choose_trajectory(checkin, checkin.goal or "unwind").start_intensity
    lc = np.array([_log_centroid(a.id, start, a.brightness) for a in arms])
    bedtime, evening = checkin.is_bedtime, is_evening(checkin)
    X = np.zeros((n, DIM))
    X[:, 0] = 1.0
    X[:, 1 : 1 + len(SOURCES)] = sh
    X[:, INDEX["bright"]] = b
    X[:, INDEX["bright2"]] = b * b
    X[:, INDEX["log_centroid"]] = lc
    X[:, INDEX["pacer"]] = 1.0 if pacer else 0.0
    if checkin.goal in _CTX0:
        X[:, _CTX0[checkin.goal] : _CTX0[checkin.goal] + len(SOURCES)] = sh
    if evening:
        X[:, _CTX0["evening"] : _CTX0["evening"] + len(SOURCES)] = sh
    loved_cols = [j for j, src in enumerate(SOURCES) if _FAMILY[src] in profile.loved]
    X[:, INDEX["loved"]] = sh[:, loved_cols].sum(axis=1) if loved_cols else 0.0
    if high_pitch:
        X[:, INDEX["bright_x_high_pitch"]] = b
        X[:, INDEX["centroid_x_high_pitch"]] = lc
    if bedtime:
        X[:, INDEX["bright_x_bedtime"]] = b
        j0 = INDEX[f"{SOURCES[0]}_x_bedtime"]
        X[:, j0 : j0 + len(SOURCES)] = sh
    if evening:
        X[:, INDEX["bright_x_evening"]] = b
    if checkin.goal == "focus":
        j0 = INDEX[f"{SOURCES[0]}_x_focus"]
        X[:, j0 : j0 + len(SOURCES)] = sh
    X[:, INDEX["tension_before"] : INDEX["arousal"] + 1] = covariates(checkin)
    for flag in flags:
        j0 = INDEX[f"{SOURCES[0]}_x_{flag}"]
        X[:, j0 : j0 + len(SOURCES)] = sh
    return X
