"""Compose a plan from a check-in and a chosen arm, with its plain-words reason.

The trajectory follows from the goal and the moment:

* ``sleep`` — the sleep trajectory; it fades to silence for sessions under 90 minutes
  and holds very low for longer ones (all night).  On the move, a sleep fade makes no
  sense: the plan leads toward unwinding instead.
* ``focus`` — steady.
* ``unwind`` — a U-shaped arc for a daytime break (08:00–18:00, up to 45 minutes, not
  in bed), so the listener finishes alert; otherwise iso.
* ``ease_anxiety`` — iso, with a breath pacer slowing from 10 to 6 breaths a minute
  (unless the listener turned it off, dislikes it, or is on the move).

Sensitivities also shape the sound: ``high_pitch`` lowers pitch centres by a fourth
and dims brightness by 20 %; ``tonal`` turns the breath pacer's tone off (a noise
swell only).  At bedtime events come 30 % less often.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sonora.engine.registry import source_class
from sonora.errors import ParameterError
from sonora.plan.checkin import CheckIn
from sonora.plan.model import Plan, PlanLayer
from sonora.plan.recipes import BRIGHTNESS_LEVELS, Arm, Constraints, arm_rejection
from sonora.plan.trajectory import GOAL_INTENSITY, Trajectory, iso, silence, sleep, steady, u_shape
from sonora.scenes.spec import Scene

_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
).split()

#: Sessions at least this long (minutes) hold very low instead of fading to silence.
HOLD_FROM_MINUTES = 90.0


def minutes_words(seconds: float) -> str:
    """``480`` -> ``"eight minutes"``; hours for long spans."""
    m = max(1, round(seconds / 60.0))
    if m >= 90:
        h = seconds / 3600.0
        return f"{h:g} hours" if h == int(h) else f"{h:.1f} hours"
    if m == 1:
        return "a minute"
    return f"{_WORDS[m]} minutes" if m < len(_WORDS) else f"{m} minutes"


def choose_trajectory(checkin: CheckIn, goal: str) -> Trajectory:
    """The trajectory for a check-in (see the module docstring)."""
    d = checkin.minutes * 60.0
    a = checkin.arousal
    if goal == "sleep":
        if checkin.place == "on_the_move":
            return iso(a, GOAL_INTENSITY["unwind"], d)
        variant = "hold" if checkin.minutes >= HOLD_FROM_MINUTES else "fade"
        return sleep(a, d, variant=variant)
    if goal == "focus":
        return steady(GOAL_INTENSITY["focus"], d)
    if (
        goal == "unwind"
        and checkin.is_daytime
        and checkin.minutes <= 45
        and checkin.place != "in_bed"
    ):
        return u_shape(a, d)
    return iso(a, GOAL_INTENSITY[goal], d)


def _clip_param(source: str, name: str, value: float) -> float:
    spec = source_class(source).PARAMS.get(name)
    if spec is None:
        return value
    return float(min(max(value, spec.low), spec.high))


def _layers(arm: Arm, checkin: CheckIn, constraints: Constraints) -> list[PlanLayer]:
    high = "high_pitch" in constraints.sensitivities
    out = []
    for rl in arm.recipe.layers:
        b = arm.brightness * rl.brightness_scale * (0.8 if high else 1.0)
        source = rl.bright_source if (rl.bright_source and arm.level == "bright") else rl.source
        knobs = {"brightness": round(b, 4), **dict(rl.knobs)}
        if "pitch_hz" in knobs:
            pitch = knobs["pitch_hz"] * (0.75 if high else 1.0)
            if source == "melody" and checkin.is_bedtime:
                pitch *= 0.75
            pname = "carrier_hz" if source == "binaural" else "pitch_hz"
            knobs["pitch_hz"] = round(_clip_param(source, pname, pitch), 2)
        if "event_rate_per_min" in knobs and checkin.is_bedtime:
            knobs["event_rate_per_min"] = round(knobs["event_rate_per_min"] * 0.7, 4)
        if source in ("brown_noise", "pink_noise") or source == "binaural":
            knobs.pop("density", None)
        if source == "binaural":
            knobs.pop("brightness", None)
        out.append(
            PlanLayer(
                family=rl.family,
                gain_db=rl.gain_db,
                source=source,
                params=knobs,
                pan=rl.pan,
                reverb_send=rl.reverb_send,
                fixed=dict(rl.fixed),
                role=rl.role,
            )
        )
    return out


def _pacer(checkin: CheckIn, constraints: Constraints, goal: str) -> PlanLayer | None:
    if goal != "ease_anxiety" or not constraints.pacer_allowed or checkin.place == "on_the_move":
        return None
    d = checkin.minutes * 60.0
    ramp = float(min(max(0.5 * d, 120.0), 600.0))
    tonal_off = "tonal" in constraints.sensitivities
    return PlanLayer(
        family="breath",
        gain_db=-4.0,
        source="breath_pacer",
        params={
            "breaths_start": 10.0,
            "breaths_end": 6.0,
            "ramp_s": ramp,
            "tone_mix": 0.0 if tonal_off else 0.4,
            "pitch_hz": 147.0 if "high_pitch" in constraints.sensitivities else 196.0,
        },
    )


def _state_phrase(checkin: CheckIn) -> str:
    h = checkin.hour
    when = ""
    if h is not None:
        if checkin.is_late:
            when = "It's late"
        elif h < 12:
            when = "It's morning"
        elif h < 18:
            when = "It's the afternoon"
        else:
            when = "It's evening"
    if checkin.tension is None and checkin.energy is None:
        mood = checkin.mood if checkin.mood is not None else 5.0
        state = "your mood is low" if mood <= 3 else "you're feeling steady"
    else:
        a = checkin.arousal
        if a >= 0.65:
            state = "you're wound up"
        elif a >= 0.4:
            state = "you're a little keyed up"
        elif a >= 0.2:
            state = "you're fairly calm"
        else:
            state = "you're already very calm"
    return f"{when} and {state}" if when else state[0].upper() + state[1:]


def _sound_phrase(arm: Arm, start: float) -> str:
    adj = "lively" if start >= 0.7 else "moving" if start >= 0.45 else "gentle"
    level = {"dark": ", kept dark and low,", "mid": "", "bright": ", bright and open,"}[arm.level]
    title = _title(arm)
    if title.startswith("a "):
        return f"a {adj} {title[2:]}{level}"
    return f"{adj} {title}{level}"


def _title(arm: Arm) -> str:
    """The recipe's title, naming pink rather than brown noise at the bright level."""
    title = arm.recipe.title
    if arm.level == "bright" and any(rl.bright_source for rl in arm.recipe.layers):
        title = title.replace("brown noise", "pink noise")
    return title


#: How each engine source is named when a plan's layers are described.
SOURCE_WORDS: dict[str, str] = {
    "rain": "rain",
    "ocean_waves": "the waves",
    "stream": "the stream",
    "wind": "a breeze",
    "brown_noise": "brown noise",
    "pink_noise": "pink noise",
    "singing_bowl": "a singing bowl",
    "gong": "a gong",
    "chimes": "wind chimes",
    "drone": "a low drone",
    "melody": "a soft melody",
    "binaural": "a binaural beat",
}


#: Sources whose words are plural ("wind chimes sound").
_PLURAL_SOURCES = frozenset({"chimes"})

#: Per layer role, in the order they are told: where it sits, how it follows a session
#: toward calm (``{}``: the verb) and that verb for one source and for several.
_ROLE_PHRASES: dict[str, tuple[str, str, tuple[str, str]]] = {
    "bed": ("underneath", "{} steady underneath", ("holds", "hold")),
    "texture": ("in front", "in front {} the session down", ("follows", "follow")),
    "event": (
        "now and then",
        "{} now and then, less often and further back as you settle",
        ("sounds", "sound"),
    ),
}


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _layer_source(arm: Arm, index: int) -> str:
    rl = arm.recipe.layers[index]
    return rl.bright_source if (rl.bright_source and arm.level == "bright") else rl.source


def layers_sentence(arm: Arm, trajectory: Trajectory) -> str:
    """What each layer of a layered recipe does, in plain words ("" for one layer).

    Names the layers by role — the bed underneath, the texture in front, the
    occasional events — and, when the session moves toward calm, how each role follows
    it (:data:`sonora.plan.sound.ROLE_DB_PER_UNIT`): the bed holds, the texture follows,
    the events come less often and further back.
    """
    if len(arm.recipe.layers) < 2:
        return ""
    by_role: dict[str, list[str]] = {}
    plural: set[str] = set()
    for i, rl in enumerate(arm.recipe.layers):
        src = _layer_source(arm, i)
        by_role.setdefault(rl.role, []).append(SOURCE_WORDS[src])
        if src in _PLURAL_SOURCES:
            plural.add(rl.role)
    calming = (
        trajectory.kind != "steady"
        and trajectory.start_intensity > min(v for _, v in trajectory.intensity) + 0.1
    )
    parts = []
    for role, (place, follows, (one, several)) in _ROLE_PHRASES.items():
        if role in by_role:
            many = len(by_role[role]) > 1 or role in plural
            verb = several if many else one
            parts.append(f"{_join(by_role[role])} {follows.format(verb) if calming else place}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def plan_reason(
    checkin: CheckIn,
    arm: Arm,
    trajectory: Trajectory,
    goal: str,
    *,
    pacer: PlanLayer | None = None,
    notes: Iterable[str] = (),
) -> str:
    """The plain-words reason for a plan (never claims to treat anything)."""
    start = trajectory.start_intensity
    sound = _sound_phrase(arm, start)
    lead = minutes_words(trajectory.lead_s)
    total = minutes_words(checkin.minutes * 60.0)
    kind = trajectory.kind
    if kind == "steady":
        body = f"so we keep {_title(arm)} steady and unobtrusive for the whole {total}"
        if arm.level == "dark":
            body += ", kept dark and low"
    elif kind == "u_shape":
        body = (
            f"so we ease you down with {sound} over about {lead}, let you rest, "
            "then lift it gently so you finish alert"
        )
    else:
        end = trajectory.intensity[-1][1]
        if start > end + 0.1:
            body = f"so we start with {sound} and slow it over {lead}"
        elif start < end - 0.1:
            body = f"so we start with {sound} and lift it gently over {lead}"
        else:
            body = f"so we settle straight into {sound} and keep it there"
        if kind == "sleep" and trajectory.variant == "fade":
            body += ", then let it fade to silence by the end"
        elif kind == "sleep":
            body += ", then hold it very low for the rest of the night"
    sentences = [f"{_state_phrase(checkin)}, {body}."]
    layered = layers_sentence(arm, trajectory)
    if layered:
        sentences.append(layered)
    if goal == "sleep" and checkin.place == "on_the_move":
        sentences.append(
            "You're on the move, so instead of a fade to sleep we help you unwind; "
            "keep the volume low enough to hear what's around you."
        )
    elif checkin.place == "on_the_move":
        sentences.append("Keep the volume low enough to hear what's around you.")
    if pacer is not None:
        p = pacer.params
        sentences.append(
            f"A soft swell paces your breathing, slowing from {p['breaths_start']:g} to "
            f"{p['breaths_end']:g} breaths a minute over {minutes_words(p['ramp_s'])}."
        )
    if "binaural" in arm.families:
        sentences.append("The binaural beat needs your headphones.")
    for note in notes:
        note = note.strip()
        if note:
            sentences.append(note[0].upper() + note[1:] + ("" if note.endswith(".") else "."))
    return " ".join(sentences)


def compose(
    checkin: CheckIn,
    arm: Arm,
    constraints: Constraints | None = None,
    *,
    seed: int = 0,
    goal: str | None = None,
    notes: Iterable[str] = (),
) -> Plan:
    """Make the plan for ``arm`` at this check-in.

    Parameters
    ----------
    checkin : CheckIn
        The listener's check-in.
    arm : Arm
        The recipe and brightness level to play.
    constraints : Constraints, optional
        The listener's dislikes and sensitivities.
    seed : int
        Render seed.
    goal : str, optional
        Goal to use when the check-in leaves it open (default ``"unwind"``).
    notes : iterable of str
        Extra sentences for the reason (e.g. "you have rated bowls highly").

    Returns
    -------
    Plan

    Raises
    ------
    ParameterError
        Naming ``arm`` when the arm breaks a hard rule for this listener and moment.
    """
    constraints = constraints or Constraints()
    goal = checkin.goal or goal or "unwind"
    if checkin.goal is None:
        checkin = checkin.with_goal(goal)
    why_not = arm_rejection(arm, checkin, constraints)
    if why_not is not None:
        raise ParameterError("arm", f"{arm.id} cannot be played here: {why_not}")
    trajectory = choose_trajectory(checkin, goal)
    layers = _layers(arm, checkin, constraints)
    pacer = _pacer(checkin, constraints, goal)
    if pacer is not None:
        layers.append(pacer)
    reason = plan_reason(checkin, arm, trajectory, goal, pacer=pacer, notes=notes)
    return Plan(
        plan_layers=tuple(layers),
        trajectory=trajectory,
        duration_s=checkin.minutes * 60.0,
        seed=int(seed),
        reason=reason,
        goal=goal,
        headphones=any(layer.family == "binaural" for layer in layers),
        recipe=arm.id,
        brightness=BRIGHTNESS_LEVELS[arm.level],
        reverb=None if arm.recipe.reverb is None else dict(arm.recipe.reverb),
        checkin=checkin.to_dict(include_note=False),
        title=arm.recipe.title[0].upper() + arm.recipe.title[1:],
    )


def quiet_rest_plan(checkin: CheckIn, *, seed: int = 0, goal: str | None = None) -> Plan:
    """A silent-rest session of the same length (the comparison in personal evidence)."""
    goal = checkin.goal or goal or "unwind"
    d = checkin.minutes * 60.0
    reason = (
        f"Today is a quiet-rest session: rest without sound for {minutes_words(d)}, "
        "then check in as usual. Comparing these with your sound sessions shows whether "
        "sound helps you more than quiet rest."
    )
    return Plan(
        plan_layers=(),
        trajectory=silence(d),
        duration_s=d,
        seed=int(seed),
        reason=reason,
        goal=goal,
        quiet_rest=True,
        recipe="quiet-rest",
        brightness=0.0,
        checkin=checkin.with_goal(goal).to_dict(include_note=False),
        title="Quiet rest",
    )


def _layer_brightness(source: str, params: dict[str, float]) -> float:
    if "brightness" in params:
        return float(params["brightness"])
    if source in ("brown_noise", "pink_noise", "white_noise"):
        cutoff = min(params.get("cutoff_hz", 20_000.0), 20_000.0)
        b = math.log2(max(cutoff, 200.0) / 200.0) / 5.3
        return float(min(1.0, b) * (0.6 if source == "brown_noise" else 1.0))
    if source == "wind":
        return float(min(1.0, max(0.0, math.log2(params.get("pitch_hz", 400.0) / 150.0) / 3.3)))
    if source == "binaural":
        return 0.3
    return 0.4


def plan_from_scene(
    scene: Scene,
    *,
    duration_s: float,
    seed: int = 0,
    goal: str | None = None,
    checkin: CheckIn | None = None,
) -> Plan:
    """Wrap a scene as a steady plan, unchanged (how a fixed soundtrack is played).

    The scene's parameters become each layer's fixed parameters and its automation is
    kept verbatim; ``brightness`` is a gain-weighted summary of the layers' brightness.
    """
    goal = goal or (checkin.goal if checkin and checkin.goal else None)
    goal = goal or (scene.goals[0] if scene.goals else "unwind")
    layers = []
    weights, brights = [], []
    for spec in scene.layers:
        cls = source_class(spec.source)
        full = cls.validate_params(dict(spec.params))
        gain = float(spec.gain_db.values[0])
        layers.append(
            PlanLayer(
                family=cls.FAMILY,
                gain_db=gain,
                source=spec.source,
                params={},
                pan=spec.pan,
                reverb_send=spec.reverb_send,
                fixed=dict(spec.params),
                automation={k: v.to_spec() for k, v in spec.automation.items()},
            )
        )
        if cls.FAMILY != "breath":
            weights.append(10 ** (gain / 20.0))
            brights.append(_layer_brightness(spec.source, full))
    b = sum(w * x for w, x in zip(weights, brights, strict=True)) / max(sum(weights), 1e-9)
    reverb = None
    if scene.reverb is not None:
        r = scene.reverb
        reverb = {"room_size": r.room_size, "damping": r.damping, "wet_level": r.wet_level}
    return Plan(
        plan_layers=tuple(layers),
        trajectory=steady(0.5, duration_s),
        duration_s=duration_s,
        seed=int(seed),
        reason=f"{scene.title}: {scene.description}",
        goal=goal,
        headphones=scene.headphones,
        recipe=f"scene:{scene.name}",
        brightness=round(float(min(max(b, 0.0), 1.0)), 4),
        reverb=reverb,
        checkin=None if checkin is None else checkin.to_dict(include_note=False),
        title=scene.title,
    )
