"""A synthetic population of listeners for the personalisation benchmark and tests.

The listener protocol
---------------------
Any object with these three methods is a listener (``benchmarks/personalisation.py``
accepts a population from outside the package with ``--population module:callable``,
where ``callable(n_listeners, seed)`` returns a list of them):

``onboarding() -> dict``
    Onboarding answers, keys as :class:`sonora.match.Profile` reads them (all
    optional): ``loved`` and ``disliked`` (lists of families from
    :data:`sonora.plan.FAMILIES`), ``sensitivities`` (from ``high_pitch``, ``water``,
    ``tonal``), ``default_goal`` (``sleep``, ``unwind``, ``ease_anxiety``, ``focus``),
    ``breath_pacer`` (bool), ``personal_evidence`` (bool).

``checkin(rng) -> dict``
    A check-in before a session, keys as :class:`sonora.plan.CheckIn` reads them:
    ``tension``, ``energy``, ``mood`` (0–10 or ``None``, at least one given), ``goal``,
    ``minutes`` (5–720), ``place`` (``in_bed``, ``sitting``, ``on_the_move``),
    ``output`` (``headphones``, ``speaker``), ``local_time`` (``"HH:MM"``), ``note``.
    ``rng`` is a :class:`numpy.random.Generator`.

``respond(plan, excerpt, checkin, rng) -> dict``
    How the session went, keys as :class:`sonora.plan.CheckOut` reads them:
    ``tension``, ``energy``, ``mood`` (0–10 or ``None``), ``rating`` (0–10 or
    ``None``), ``completed`` (bool), ``fell_asleep`` (bool).  ``plan`` is a
    :class:`sonora.plan.Plan` (``plan.quiet_rest`` for silent rest; ``plan.layers``
    lists ``(family, gain_db)``, ``plan.brightness`` is 0–1); ``excerpt()`` renders
    the plan's first seconds on demand as float32 ``(2, frames)`` at 48 kHz (zeros for
    quiet rest); ``checkin`` is the dict this listener returned for the session.
    The benchmark asks the same listener about several plans for one check-in (what
    Sonora chose, the baselines, quiet rest) with identically seeded ``rng`` s, so
    ``respond`` must depend only on its arguments (no hidden state between calls).

Optionally ``oracle_score(plan, excerpt, checkin) -> float``: any number that orders
plans like the listener's expected outcome.  Without it, the benchmark estimates the
oracle by averaging repeated ``respond`` calls.

The built-in population
-----------------------
Five kinds of listener, each with individual variation, noisy self-reports, a
day-to-day mood effect and a quiet-rest baseline effect (tension falls by about one
point after resting in silence):

* ``rain_lover`` — loves rain, likes water, dislikes tonal sound;
* ``bowl_lover`` — loves singing bowls, likes gong and drones, dislikes noise;
* ``bright_sensitive`` — reacts to the *actual audio*: measures the spectral centroid
  of the plan's excerpt and is put off in proportion to the octaves above their
  comfort (300–900 Hz); any calm sound below that suits them;
* ``steady_noise`` — only settles with steady noise; sparse events (bowls, gong,
  chimes, melody) unsettle them;
* ``eclectic`` — idiosyncratic tastes (10 %).

Onboarding answers are noisy: a real love is reported with probability 0.5–0.8,
dislikes and sensitivities are often left out, and some listeners name a "love" that
does nothing for them.  Goal-specific effects apply to everyone: at focus, steady
noise helps a little and sparse events distract; at bedtime, brightness costs;
binaural beats over a speaker are just odd tones.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np

from sonora.match.features import shares
from sonora.plan.model import Plan
from sonora.plan.recipes import RECIPE_FAMILIES, TONAL_FAMILIES
from sonora.plan.render import spectral_centroid_hz

_L = TypeVar("_L")  # a simulated listener type (SimListener, ContextListener)

KINDS = ("rain_lover", "bowl_lover", "bright_sensitive", "steady_noise", "eclectic")
#: Share of each kind in the built-in population.
KIND_SHARES = (0.25, 0.22, 0.22, 0.21, 0.10)
#: Extra effect per unit share at focus (everyone).
FOCUS_EFFECT = {"noise": 0.5, "rain": 0.2, "melody": -0.5, "chimes": -0.5, "gong": -0.5}
FOCUS_EFFECT["bowls"] = -0.3
EVENT_FAMILIES = ("bowls", "gong", "chimes", "melody")
SAMPLE_RATE = 48_000
#: Individual variation added to every family effect of every listener, points (see
#: :func:`make_hard_population` for a population with twice as much).
PREF_JITTER_SD = 0.15
#: The fixed part of each kind's family effects: (families, shift in points), added in
#: this order after the kind's random part.
_KIND_SHIFTS: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    "rain_lover": (
        (("rain",), 2.0),
        (("water",), 0.8),
        (("wind",), 0.3),
        (TONAL_FAMILIES, -1.5),
    ),
    "bowl_lover": (
        (("bowls",), 2.2),
        (("gong",), 1.0),
        (("drone",), 0.8),
        (("melody",), 0.4),
        (("noise",), -1.2),
    ),
    "bright_sensitive": ((("water", "wind"), 0.3),),
    "steady_noise": (
        (("noise",), 2.0),
        (("rain", "binaural"), 0.3),
        (EVENT_FAMILIES, -1.2),
        (("drone",), -0.3),
    ),
}


_CENTROIDS: dict[int, tuple[Any, float]] = {}


def excerpt_centroid_hz(audio: np.ndarray) -> float:
    """Spectral centroid of an excerpt (48 kHz), remembered per array object."""
    hit = _CENTROIDS.get(id(audio))
    if hit is not None and hit[0]() is audio:
        return hit[1]
    c = spectral_centroid_hz(audio, SAMPLE_RATE)
    try:
        _CENTROIDS[id(audio)] = (weakref.ref(audio), c)
    except TypeError:  # not weak-referenceable: just do not remember it
        pass
    if len(_CENTROIDS) > 20_000:
        _CENTROIDS.clear()
    return c


def _clip_round(x: float) -> float:
    return float(min(10.0, max(0.0, round(x))))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class SimListener:
    """One simulated listener (implements the listener protocol).

    Attributes
    ----------
    listener_id : str
    kind : str
        One of :data:`KINDS`.
    prefs : dict of str to float
        True effect of each family per unit share of the mix, score points.
    bright_pref, bright_weight : float
        Preferred brightness (0–1) and the cost per brightness level away from it.
    uses_excerpt : bool
        Judges brightness from the rendered excerpt (spectral centroid) instead.
    comfort_hz, centroid_weight : float
        Centroid above which sound becomes unpleasant, and the cost per octave above.
    rest_effect : float
        How much quiet rest lowers tension, points.
    noise_sd : float
        Noise of each self-report, points.
    pacer_pref : float
        Effect of a breath pacer.
    answers : dict
        Onboarding answers.
    """

    listener_id: str
    kind: str
    prefs: dict[str, float]
    bright_pref: float
    bright_weight: float
    uses_excerpt: bool
    comfort_hz: float
    centroid_weight: float
    rest_effect: float
    noise_sd: float
    pacer_pref: float
    goal_p: tuple[float, ...]
    tension_mean: float
    energy_mean: float
    mood_mean: float
    headphones_p: float
    answers: dict[str, Any] = field(default_factory=dict)

    # -- protocol ------------------------------------------------------------------------
    def onboarding(self) -> dict[str, Any]:
        """Onboarding answers (a copy)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self.answers.items()}

    def checkin(self, rng: np.random.Generator) -> dict[str, Any]:
        """A check-in before a session (see the module docstring for the keys)."""
        goal = ("sleep", "unwind", "ease_anxiety", "focus")[int(rng.choice(4, p=self.goal_p))]
        t_shift = {"sleep": 0.0, "unwind": 0.5, "ease_anxiety": 1.5, "focus": -0.5}[goal]
        e_shift = {"sleep": -1.5, "unwind": 0.0, "ease_anxiety": 0.5, "focus": 0.5}[goal]
        tension = _clip_round(rng.normal(self.tension_mean + t_shift, 1.8))
        energy = _clip_round(rng.normal(self.energy_mean + e_shift, 1.8))
        mood = _clip_round(rng.normal(self.mood_mean, 1.5))
        if rng.random() < 0.15:
            energy = None
        if rng.random() < 0.1:
            mood = None
        if goal == "sleep":
            minutes = float(rng.choice([20, 30, 45, 60, 480], p=[0.25, 0.25, 0.2, 0.15, 0.15]))
            place = "in_bed"
            hour = float(rng.uniform(21.5, 25.5)) % 24
        else:
            minutes = float(rng.choice([5, 10, 15, 20, 30]))
            place = str(rng.choice(["sitting", "in_bed", "on_the_move"], p=[0.75, 0.1, 0.15]))
            lo, hi = {"unwind": (12, 22), "ease_anxiety": (8, 23), "focus": (8, 17)}[goal]
            hour = float(rng.uniform(lo, hi))
        output = "headphones" if rng.random() < self.headphones_p else "speaker"
        h, m = int(hour), int((hour % 1) * 60)
        return {
            "tension": tension,
            "energy": energy,
            "mood": mood,
            "goal": goal,
            "minutes": minutes,
            "place": place,
            "output": output,
            "local_time": f"{h:02d}:{m:02d}",
            "note": "",
        }

    def oracle_score(
        self, plan: Plan, excerpt: Callable[[], np.ndarray], checkin: Mapping[str, Any]
    ) -> float:
        """The true expected benefit of ``plan`` over quiet rest, before noise (points)."""
        if plan.quiet_rest:
            return 0.0
        sh = shares(plan.layers)
        prefs = dict(self.prefs)
        if checkin.get("output") != "headphones":
            prefs["binaural"] = -0.5  # beats need headphones: over a speaker, odd tones
        b = sum(s * prefs.get(f, 0.0) for f, s in sh.items())
        goal = plan.goal
        if goal == "focus":
            b += sum(s * FOCUS_EFFECT.get(f, 0.0) for f, s in sh.items())
        if goal == "sleep":
            b -= 1.5 * max(0.0, plan.brightness - 0.3)
        if self.uses_excerpt:
            c = excerpt_centroid_hz(excerpt())
            b -= self.centroid_weight * max(0.0, math.log2(max(c, 1.0) / self.comfort_hz))
        else:
            b -= self.bright_weight * ((plan.brightness - self.bright_pref) / 0.25) ** 2
        if plan.pacer is not None:
            b += self.pacer_pref
        return float(b)

    def respond(
        self,
        plan: Plan,
        excerpt: Callable[[], np.ndarray],
        checkin: Mapping[str, Any],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        """How the session went (see the module docstring for the keys)."""
        benefit = self.oracle_score(plan, excerpt, checkin)
        day = rng.normal(0.0, 0.7)  # today's circumstances, whatever is played
        effect = self.rest_effect + benefit + day
        t0, e0, m0 = checkin.get("tension"), checkin.get("energy"), checkin.get("mood")
        z_t, z_m, z_e, z_r = rng.normal(0.0, 1.0, 4)
        u_done, u_sleep, u_skip = rng.random(3)
        tension = None if t0 is None else _clip_round(t0 - effect + self.noise_sd * z_t)
        mood = None if m0 is None else _clip_round(m0 + 0.6 * effect + self.noise_sd * z_m)
        drift = -1.0 if plan.goal == "sleep" else 0.3
        energy = None if e0 is None else _clip_round(e0 + drift + self.noise_sd * z_e)
        rating = None if u_skip < 0.1 else _clip_round(5.0 + 1.5 * benefit + 1.2 * z_r)
        completed = bool(u_done < _sigmoid(2.0 + 1.5 * benefit))
        fell_asleep = bool(plan.goal == "sleep" and u_sleep < _sigmoid(-0.5 + 0.8 * effect))
        return {
            "tension": tension,
            "energy": energy,
            "mood": mood,
            "rating": rating,
            "completed": completed,
            "fell_asleep": fell_asleep,
        }


def _answers(
    rng: np.random.Generator,
    prefs: dict[str, float],
    *,
    love_p: float,
    dislike_p: float,
    sensitivities: list[str],
) -> dict[str, Any]:
    ranked = sorted(prefs, key=lambda f: -prefs[f])
    loved = [f for f in ranked[:2] if prefs[f] > 1.0 and rng.random() < love_p]
    if rng.random() < 0.15:  # a stated love that does nothing for them
        loved.append(
            str(rng.choice([f for f in RECIPE_FAMILIES if abs(prefs[f]) < 0.6] or ["wind"]))
        )
    disliked = [f for f in RECIPE_FAMILIES if prefs[f] < -1.0 and rng.random() < dislike_p]
    loved = [f for f in dict.fromkeys(loved) if f not in disliked]
    return {"loved": loved, "disliked": disliked, "sensitivities": sensitivities}


def make_listener(
    kind: str, listener_id: str, rng: np.random.Generator, *, jitter_sd: float = PREF_JITTER_SD
) -> SimListener:
    """One listener of ``kind`` with individual variation drawn from ``rng``.

    ``jitter_sd`` (points) is added to every family effect, independently.
    """
    prefs = {f: float(rng.normal(0.0, jitter_sd)) for f in RECIPE_FAMILIES}
    bright_pref = float(rng.uniform(0.3, 0.6))
    bright_weight = float(rng.uniform(0.1, 0.3))
    uses_excerpt = False
    sens: list[str] = []
    love_p, dislike_p = float(rng.uniform(0.5, 0.8)), float(rng.uniform(0.2, 0.5))
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    # What is random about a kind, in the order the generator is drawn from.
    if kind == "rain_lover":
        if rng.random() < 0.25:
            sens.append("tonal")
    elif kind == "bright_sensitive":
        uses_excerpt = True
        for f in RECIPE_FAMILIES:  # any calm sound suits them, as long as it is not bright
            prefs[f] += 0.8 + float(rng.normal(0.0, 0.3))
        if rng.random() < 0.5:
            sens.append("high_pitch")
    elif kind == "steady_noise":
        bright_pref = float(rng.uniform(0.2, 0.4))
    elif kind == "eclectic":
        for f in RECIPE_FAMILIES:
            prefs[f] += float(rng.normal(0.0, 0.8))
        bright_pref = float(rng.uniform(0.2, 0.7))
        bright_weight = float(rng.uniform(0.2, 0.5))
    for families, shift in _KIND_SHIFTS.get(kind, ()):
        for f in families:
            prefs[f] += shift
    goal_p = rng.dirichlet(np.array([0.35, 0.3, 0.2, 0.15]) * 8.0)
    answers = _answers(rng, prefs, love_p=love_p, dislike_p=dislike_p, sensitivities=sens)
    if rng.random() < 0.5:
        answers["default_goal"] = ("sleep", "unwind", "ease_anxiety", "focus")[
            int(np.argmax(goal_p))
        ]
    return SimListener(
        listener_id=listener_id,
        kind=kind,
        prefs=prefs,
        bright_pref=bright_pref,
        bright_weight=bright_weight,
        uses_excerpt=uses_excerpt,
        comfort_hz=float(rng.uniform(300.0, 900.0)),
        centroid_weight=float(rng.uniform(0.8, 1.5)),
        rest_effect=float(max(0.0, rng.normal(1.0, 0.4))),
        noise_sd=float(rng.uniform(0.8, 1.6)),
        pacer_pref=float(rng.normal(0.2, 0.3)),
        goal_p=tuple(float(p) for p in goal_p),
        tension_mean=float(rng.uniform(4.0, 7.5)),
        energy_mean=float(rng.uniform(3.0, 7.0)),
        mood_mean=float(rng.uniform(3.5, 7.0)),
        headphones_p=float(rng.uniform(0.2, 0.8)),
        answers=answers,
    )


def _of_the_five_kinds(
    n_listeners: int, seed: int, prefix: str, stream: int, make: Callable[..., _L]
) -> list[_L]:
    """``n_listeners`` listeners of the five kinds in :data:`KIND_SHARES`.

    The kinds are drawn from ``seed`` alone (every population with the same seed has
    the same kinds); listener ``i`` is ``make(kind, "PREFIX-SEED-i", rng)`` with its own
    random stream ``[seed, stream, i]``.
    """
    rng = np.random.default_rng([int(seed), 7001])
    kinds = rng.choice(len(KINDS), size=int(n_listeners), p=KIND_SHARES)
    return [
        make(KINDS[k], f"{prefix}-{seed}-{i:04d}", np.random.default_rng([int(seed), stream, i]))
        for i, k in enumerate(kinds)
    ]


def make_population(
    n_listeners: int, seed: int = 0, *, jitter_sd: float = PREF_JITTER_SD
) -> list[SimListener]:
    """The built-in population: ``n_listeners`` listeners of the five kinds.

    Parameters
    ----------
    n_listeners : int
        How many (>= 1).
    seed : int
        Same seed, same population.
    jitter_sd : float
        Individual variation added to every family effect, points.

    Returns
    -------
    list of SimListener
    """
    return _of_the_five_kinds(
        n_listeners, seed, "sim", 7002, partial(make_listener, jitter_sd=jitter_sd)
    )


def make_hard_population(n_listeners: int, seed: int = 0) -> list[SimListener]:
    """The built-in population with twice the individual variation (0.3 points).

    Much of that variation is idiosyncrasy no learner can pin down in ten noisy
    sessions, which an oracle still exploits: use it to see how the matcher degrades
    (``--population sonora.match.simulator:make_hard_population``).
    """
    return make_population(n_listeners, seed, jitter_sd=2 * PREF_JITTER_SD)


# -- a population whose taste shifts with the moment ----------------------------------
#: How every listener's taste shifts with the goal, points per unit share of the mix
#: (multiplied by each listener's own ``context_amplitude``): rain and steady noise for
#: sleep, bowls, drones and melody for unwinding, water, wind and drones when anxious,
#: steady noise for focus.  Families not listed do not shift.
GOAL_SHIFT: dict[str, dict[str, float]] = {
    "sleep": {
        "rain": 0.8, "noise": 0.5, "water": 0.3,
        "bowls": -0.6, "gong": -0.6, "chimes": -0.6, "melody": -0.8,
    },
    "unwind": {"bowls": 0.8, "drone": 0.5, "melody": 0.5, "noise": -0.6, "rain": -0.3},
    "ease_anxiety": {"water": 0.7, "wind": 0.4, "drone": 0.4, "chimes": -0.4, "noise": -0.2},
    "focus": {"noise": 0.4, "rain": 0.2, "water": -0.2, "drone": -0.2},
}  # fmt: skip
#: How taste shifts in the evening and at night (19:00–05:00), points per unit share
#: (times ``context_amplitude``); brightness also costs more then (:data:`EVENING_BRIGHT_COST`).
EVENING_SHIFT: dict[str, float] = {
    "rain": 0.3, "wind": 0.2, "noise": 0.2, "chimes": -0.4, "melody": -0.3, "gong": -0.3,
}  # fmt: skip
#: Extra cost per unit of brightness above 0.35 in the evening (points).
EVENING_BRIGHT_COST = 0.8
#: Personal variation of the goal and evening shifts: each listener's shift of every
#: family in every context gets this much extra (sd, points).
CONTEXT_JITTER_SD = 0.2
#: Range of each listener's context amplitude (uniform): how much their taste moves.
CONTEXT_AMPLITUDE = (0.5, 1.5)


def is_evening(local_time: str | None) -> bool:
    """19:00–05:00 (``"HH:MM"``; ``False`` when unknown)."""
    if not local_time:
        return False
    h = int(str(local_time).split(":")[0])
    return h >= 19 or h < 5


@dataclass
class ContextListener(SimListener):
    """A simulated listener whose taste depends on the goal and the time of day.

    On top of :class:`SimListener`'s preferences, ``goal_prefs[goal][family]`` is added
    for a session with that goal and ``evening_prefs[family]`` in the evening
    (:func:`is_evening`), where brightness also costs ``evening_bright_cost`` per unit
    above 0.35.

    Attributes
    ----------
    goal_prefs : dict of str to dict of str to float
        Shift of each family's effect per goal, points per unit share.
    evening_prefs : dict of str to float
        Shift of each family's effect in the evening, points per unit share.
    evening_bright_cost : float
        Extra cost per unit of brightness above 0.35 in the evening, points.
    """

    goal_prefs: dict[str, dict[str, float]] = field(default_factory=dict)
    evening_prefs: dict[str, float] = field(default_factory=dict)
    evening_bright_cost: float = 0.0

    def context_prefs(self, goal: str, local_time: str | None) -> dict[str, float]:
        """Effect of each family for a session with ``goal`` at ``local_time``."""
        prefs = dict(self.prefs)
        for f, v in self.goal_prefs.get(goal, {}).items():
            prefs[f] = prefs.get(f, 0.0) + v
        if is_evening(local_time):
            for f, v in self.evening_prefs.items():
                prefs[f] = prefs.get(f, 0.0) + v
        return prefs

    def oracle_score(
        self, plan: Plan, excerpt: Callable[[], np.ndarray], checkin: Mapping[str, Any]
    ) -> float:
        """The true expected benefit of ``plan`` in this context, before noise (points)."""
        if plan.quiet_rest:
            return 0.0
        base = self.prefs
        try:
            self.prefs = self.context_prefs(plan.goal, checkin.get("local_time"))
            b = super().oracle_score(plan, excerpt, checkin)
        finally:
            self.prefs = base
        if is_evening(checkin.get("local_time")):
            b -= self.evening_bright_cost * max(0.0, plan.brightness - 0.35)
        return float(b)


def make_context_listener(
    kind: str,
    listener_id: str,
    rng: np.random.Generator,
    *,
    jitter_sd: float = PREF_JITTER_SD,
    context_jitter_sd: float = CONTEXT_JITTER_SD,
) -> ContextListener:
    """A :class:`ContextListener` of ``kind``: :func:`make_listener` plus context shifts.

    The shifts are :data:`GOAL_SHIFT` and :data:`EVENING_SHIFT` times the listener's
    amplitude (uniform in :data:`CONTEXT_AMPLITUDE`), plus ``context_jitter_sd`` of
    personal variation on every family in every context.  Onboarding answers are the
    base listener's: nobody is asked how their taste changes with the moment.
    """
    base = make_listener(kind, listener_id, rng, jitter_sd=jitter_sd)
    amp = float(rng.uniform(*CONTEXT_AMPLITUDE))
    goal_prefs = {
        g: {
            f: amp * GOAL_SHIFT[g].get(f, 0.0) + float(rng.normal(0.0, context_jitter_sd))
            for f in RECIPE_FAMILIES
        }
        for g in ("sleep", "unwind", "ease_anxiety", "focus")
    }
    evening = {
        f: amp * EVENING_SHIFT.get(f, 0.0) + float(rng.normal(0.0, context_jitter_sd))
        for f in RECIPE_FAMILIES
    }
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    return ContextListener(
        **fields,
        goal_prefs=goal_prefs,
        evening_prefs=evening,
        evening_bright_cost=amp * EVENING_BRIGHT_COST,
    )


def make_context_population(
    n_listeners: int,
    seed: int = 0,
    *,
    jitter_sd: float = PREF_JITTER_SD,
    context_jitter_sd: float = CONTEXT_JITTER_SD,
) -> list[ContextListener]:
    """The context-dependent population: taste shifts with the goal and time of day.

    The same five kinds in the same shares as :func:`make_population` (same seeds give
    the same kinds), each listener's taste shifted per goal (:data:`GOAL_SHIFT`) and in
    the evening (:data:`EVENING_SHIFT`, :data:`EVENING_BRIGHT_COST`), scaled by a
    personal amplitude (:data:`CONTEXT_AMPLITUDE`) with personal variation
    (``context_jitter_sd``, points).

    Parameters
    ----------
    n_listeners : int
        How many (>= 1).
    seed : int
        Same seed, same population.
    jitter_sd, context_jitter_sd : float
        Individual variation of every family's base effect and of its shift in each
        context, points (sd).

    Returns
    -------
    list of ContextListener
    """
    make = partial(make_context_listener, jitter_sd=jitter_sd, context_jitter_sd=context_jitter_sd)
    return _of_the_five_kinds(n_listeners, seed, "ctx", 7003, make)
