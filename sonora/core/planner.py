"""The one place the web app meets plans and the matcher (issue #3).

Everything the app needs from :mod:`sonora.plan` and :mod:`sonora.match` goes through
:class:`Planner`: making a plan for a check-in, recording an outcome, swapping a
layer, changing the length, and the listener's constraints.  If the matcher's API
moves, this module is the only one to change.

The matcher (:class:`sonora.match.Matcher`) keeps its learning in the database through
:class:`sonora.match.repository.MatcherStore`; one matcher serves the process, behind
a lock, and rereads a listener's sessions before each recommendation so several
workers sharing a database agree.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sonora.countries import check_country
from sonora.errors import ParameterError
from sonora.match import EvidenceReport, Matcher, PersonalEvidence, Store
from sonora.match import Profile as MatchProfile
from sonora.match.insights import Observation, part_of_day, what_helps
from sonora.match.matcher import POPULATION_KEY
from sonora.match.model import PopulationModel
from sonora.match.repository import MatcherStore, matcher_profile
from sonora.plan import (
    ARMS,
    FAMILIES,
    SENSITIVITIES,
    CheckIn,
    CheckOut,
    Constraints,
    Outcome,
    Plan,
    choose_trajectory,
    compose,
    get_arm,
    plan_reason,
    quiet_rest_plan,
)
from sonora.plan.compose import minutes_words
from sonora.plan.recipes import arm_rejection
from sonora.store.database import SqlDatabase
from sonora.store.errors import NotFound

log = logging.getLogger("sonora.core")

__all__ = [
    "FAMILY_LABELS",
    "PROFILE_DEFAULTS",
    "Planner",
    "checkin_from_answers",
    "checkout_from_answers",
    "clean_profile",
    "edited_checkout",
    "helps_by_goal",
]

#: Families a listener can love or dislike at onboarding, with friendly names.
FAMILY_LABELS: dict[str, str] = {
    "rain": "Rain",
    "water": "Waves and streams",
    "wind": "Wind",
    "noise": "Soft noise",
    "bowls": "Singing bowls",
    "gong": "Gong",
    "chimes": "Wind chimes",
    "drone": "Warm drone",
    "melody": "Soft melody",
    "breath": "Breath pacer",
    "binaural": "Binaural beats (headphones)",
}
assert set(FAMILY_LABELS) == set(FAMILIES)

SENSITIVITY_LABELS: dict[str, str] = {
    "high_pitch": "High pitches",
    "water": "Water sounds",
    "tonal": "Tonal sounds (bowls, drones, melody)",
}
assert set(SENSITIVITY_LABELS) == set(SENSITIVITIES)

#: Profile keys and their defaults.
PROFILE_DEFAULTS: dict[str, Any] = {
    "loved": [],
    "disliked": [],
    "sensitivities": [],
    "breath_pacer": True,
    "default_goal": "unwind",
    "output": "speaker",
    "country": "",
    # the listener's region within the country, for help lines (e.g. "NIR"); asked
    # once on the preferences page, see sonora.care.region
    "region": "",
    "quiet_rest": False,
    # how loud Sonora's reference sound seemed on the listener's device, dBA (set once
    # on the listening page; used for the weekly safe-listening dose)
    "listening_level_dba": None,
}


def clean_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate profile answers; errors name the field.

    Raises
    ------
    ParameterError
        For an unknown key or an invalid value.
    """
    out = dict(PROFILE_DEFAULTS)
    for key, value in data.items():
        if key not in PROFILE_DEFAULTS:
            raise ParameterError(
                key, f"unknown profile key; allowed: {', '.join(PROFILE_DEFAULTS)}"
            )
        out[key] = value
    for key in ("loved", "disliked"):
        vals = out[key]
        if isinstance(vals, str) or not isinstance(vals, Sequence):
            raise ParameterError(key, f"expected a list of families from {', '.join(FAMILIES)}")
        for i, v in enumerate(vals):
            if v not in FAMILIES:
                raise ParameterError(
                    f"{key}[{i}]", f"{v!r} is not a sound family; choose from {', '.join(FAMILIES)}"
                )
        out[key] = sorted(set(vals))
    both = set(out["loved"]) & set(out["disliked"])
    if both:
        family = sorted(both)[0]
        raise ParameterError(
            "disliked",
            f"{FAMILY_LABELS.get(family, family)} is marked both loved and disliked; "
            "keep it in one of the two",
        )
    sens = out["sensitivities"]
    if isinstance(sens, str) or not isinstance(sens, Sequence):
        raise ParameterError("sensitivities", f"expected a list from {', '.join(SENSITIVITIES)}")
    for i, v in enumerate(sens):
        if v not in SENSITIVITIES:
            raise ParameterError(
                f"sensitivities[{i}]",
                f"{v!r} is not allowed; choose from {', '.join(SENSITIVITIES)}",
            )
    out["sensitivities"] = sorted(set(sens))
    for key in ("breath_pacer", "quiet_rest"):
        if not isinstance(out[key], bool):
            raise ParameterError(key, f"expected true or false, got {out[key]!r}")
    from sonora.plan import GOALS, OUTPUTS

    if out["default_goal"] not in GOALS:
        raise ParameterError("default_goal", f"choose one of {', '.join(GOALS)}")
    if out["output"] not in OUTPUTS:
        raise ParameterError("output", f"choose one of {', '.join(OUTPUTS)}")
    c = out["country"]
    out["country"] = check_country(c) if c not in ("", None) else ""  # ISO 3166-1 list
    from sonora.care.region import clean_place

    out["country"], out["region"] = clean_place(out["country"], out["region"])
    if out["listening_level_dba"] is not None:
        from sonora.care.dose import check_level_dba

        out["listening_level_dba"] = check_level_dba(
            out["listening_level_dba"], field="listening_level_dba"
        )
    return out


def helps_by_goal(entries: Sequence[Any], points: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """What seems to help most for each goal, from a listener's history.

    Parameters
    ----------
    entries : sequence of HistoryEntry
        The stored sessions (for the check-in's time of day).
    points : sequence of SessionPoint
        The same sessions as the history shows them (before, after, families, score).

    Returns
    -------
    dict
        Goal -> :meth:`sonora.match.insights.Insight.to_dict` (goals with too few
        sessions are left out).
    """
    obs = []
    for e, p in zip(entries, points, strict=True):
        if p.after is None or p.quiet_rest or p.reward is None or not p.goal:
            continue
        if not p.families:  # a playlist of the listener's music without a Sonora sound
            continue
        t0, t1 = p.before.get("tension"), p.after.get("tension")
        m0, m1 = p.before.get("mood"), p.after.get("mood")
        obs.append(
            Observation(
                goal=p.goal,
                families=tuple(f for f in p.families if f != "breath"),
                reward=float(p.reward),
                tension_drop=None if t0 is None or t1 is None else float(t0) - float(t1),
                mood_rise=None if m0 is None or m1 is None else float(m1) - float(m0),
                rating=p.rating,
                part_of_day=part_of_day(e.checkin.data.get("local_time")),
            )
        )
    return {g: ins.to_dict() for g, ins in what_helps(obs).items()}


def constraints_of(profile: Mapping[str, Any]) -> Constraints:
    """The matcher's hard constraints from a profile."""
    return Constraints(
        disliked=frozenset(profile.get("disliked", ())),
        sensitivities=frozenset(profile.get("sensitivities", ())),
        breath_pacer=bool(profile.get("breath_pacer", True)),
    )


def checkin_from_answers(answers: Mapping[str, Any]) -> CheckIn:
    """A validated :class:`CheckIn` (errors name the field)."""
    return CheckIn.from_dict(answers)


def checkout_from_answers(answers: Mapping[str, Any]) -> CheckOut:
    """A validated :class:`CheckOut` (errors name the field)."""
    return CheckOut.from_dict(answers)


#: The answers of a check-out, in the order error messages list them.
CHECKOUT_FIELDS = ("tension", "energy", "mood", "rating", "completed", "fell_asleep")


def edited_checkout(
    plan: Plan,
    current: Mapping[str, Any] | None,
    changes: Mapping[str, Any],
    plan_id: str,
) -> tuple[CheckOut, float]:
    """A stored check-out with some answers changed, and its new outcome score.

    Parameters
    ----------
    plan : Plan
        The plan checked out of (its check-in is the "before" of the score).
    current : mapping or None
        The stored check-out answers (``None``: the plan has no check-out yet).
    changes : mapping
        Only the answers sent; an explicit ``None`` clears a 0–10 answer.
    plan_id : str
        The plan's id (for the not-found error).

    Returns
    -------
    tuple of (CheckOut, float)
        The validated check-out and its score, 0–10 scale points.

    Raises
    ------
    ParameterError
        ``outcome`` when nothing was sent; the offending field when a value is out of
        range or would leave none of tension, energy, mood or rating.
    NotFound
        When the plan has no check-out to edit yet.
    """
    if not changes:
        raise ParameterError(
            "outcome", f"send at least one of {', '.join(CHECKOUT_FIELDS)} to change"
        )
    if current is None:
        raise NotFound("outcome", plan_id)
    merged = {**current, **changes}
    checkout = checkout_from_answers(merged)  # same validation and ranges as the first
    if all(merged.get(k) is None for k in ("tension", "energy", "mood", "rating")):
        raise ParameterError(
            next(iter(changes)), "keep at least one of tension, energy, mood or rating"
        )
    before = CheckIn.from_dict(plan.checkin or {"mood": 5.0})  # as Planner.record does
    return checkout, float(Outcome(before, checkout).reward)


#: (family, brightness level) -> the arms playing that family, in the order a swap
#: tries them (same level first, fewest families first); ARMS never changes.
_DONOR_CANDIDATES: dict[tuple[str, str], tuple[Any, ...]] = {}


class Planner:
    """Plans for check-ins, outcomes for learning, and edits before a session.

    Parameters
    ----------
    store : SqlDatabase
        The database the matcher's repository (:class:`~sonora.match.repository.MatcherStore`)
        keeps what it learns in.
    """

    def __init__(self, store: SqlDatabase, *, secret: str = "") -> None:
        self.match_store: Store = MatcherStore(store)
        # The quiet-rest comparison pairs sessions in an order drawn from a fixed seed
        # (it must not change between restarts); Thompson draws use a fresh one.
        evidence_seed = int.from_bytes(hashlib.sha256(f"evidence:{secret}".encode()).digest()[:4])
        self.matcher = Matcher(
            self.match_store,
            seed=secrets.randbelow(2**31),
            evidence=PersonalEvidence(self.match_store, seed=evidence_seed),
        )
        self._lock = threading.Lock()
        #: Called after this process refitted the shared prior (outside the lock).
        self.on_refit: Callable[[], None] | None = None

    # -- plans ------------------------------------------------------------------------
    def recommend(
        self,
        listener_id: str,
        checkin: CheckIn,
        profile: Mapping[str, Any] | None = None,
        *,
        allowed: set[str] | frozenset[str] = frozenset(),
    ) -> Plan:
        """The plan for this listener now (the matcher's choice).

        ``profile`` is the stored profile (with ``onboarded``) when the caller has just
        read it: the matcher then does not read it again.

        ``allowed`` keeps the plan within a running programme's sounds ("one sound
        family" or "let Sonora choose within these"): the other families count as
        disliked for this plan.  If nothing can be made within them, the plan is made
        as usual (the programme's page still says what the therapist suggested).
        """
        disliked = set((profile or {}).get("disliked") or ())
        if profile is not None and allowed and set(allowed) - disliked:
            keep = set(allowed) - disliked
            within = {
                **profile,
                "disliked": sorted(set(FAMILIES) - keep),
                "loved": sorted(keep),
            }
            try:
                return self._recommend(listener_id, checkin, within)
            except (ParameterError, ValueError) as exc:
                log.warning("no plan within the programme's sounds (%s); planning as usual", exc)
        return self._recommend(listener_id, checkin, profile)

    def _recommend(
        self, listener_id: str, checkin: CheckIn, profile: Mapping[str, Any] | None
    ) -> Plan:
        mp = None
        if profile is not None:
            mp = (
                matcher_profile(listener_id, dict(profile))
                if profile.get("onboarded")
                else MatchProfile(listener_id)
            )
        with self._lock:
            self.matcher.reload(listener_id)  # reread: other workers may have learnt
            return self.matcher.recommend(listener_id, checkin, profile=mp)

    def record(self, listener_id: str, plan: Plan, checkout: CheckOut) -> float:
        """Tell the matcher how a session went; returns the outcome score."""
        before = CheckIn.from_dict(plan.checkin or {"mood": 5.0})
        with self._lock:
            self.matcher.reload(listener_id)
            score = float(self.matcher.record(listener_id, plan, Outcome(before, checkout)))
            refitted = self.matcher._since_fit == 0  # record() refitted the shared prior
        if refitted and self.on_refit is not None:
            self.on_refit()  # tell the other processes (sonora/core/prior_sync.py)
        return score

    def reload_prior(self) -> None:
        """Load the shared population prior from the database (another process refitted it)."""
        saved = self.match_store.get_state(POPULATION_KEY)
        if saved:
            with self._lock:
                self.matcher.population = PopulationModel.from_dict(saved)

    def evidence(self, listener_id: str) -> EvidenceReport:
        """The listener's sound-versus-quiet-rest comparison so far."""
        with self._lock:
            return self.matcher.evidence_report(listener_id)

    def forget(self, listener_id: str) -> None:
        """Forget everything the matcher learnt about a deleted listener.

        Call it after the store has deleted the account (the database store has no
        ``delete_listener``): :meth:`sonora.match.Matcher.forget` checks that nothing of
        theirs is left, drops what it holds in memory and learns the shared prior again
        from everyone else.
        """
        with self._lock:
            self.matcher.forget(listener_id)

    # -- edits before starting ---------------------------------------------------------
    def swap_choices(self, plan: Plan, index: int, profile: Mapping[str, Any]) -> list[str]:
        """Families that may replace layer ``index`` (hard rules respected)."""
        layer = self._layer(plan, index)
        if layer.family == "breath" or plan.quiet_rest:
            return []
        return self._swap_families(plan, profile)

    def swap_choices_all(self, plan: Plan, profile: Mapping[str, Any]) -> list[list[str]]:
        """:meth:`swap_choices` of every layer, in order.

        The families allowed do not depend on which (non-breath) layer is replaced, so
        they are worked out once, not once per layer (every check-in shows them; issue
        #15).
        """
        shared: list[str] | None = None
        out: list[list[str]] = []
        for layer in plan.plan_layers:
            if layer.family == "breath" or plan.quiet_rest:
                out.append([])
                continue
            if shared is None:
                shared = self._swap_families(plan, profile)
            out.append(list(shared))
        return out

    def _swap_families(self, plan: Plan, profile: Mapping[str, Any]) -> list[str]:
        checkin = self._checkin(plan)
        constraints = constraints_of({**PROFILE_DEFAULTS, **profile})
        present = set(plan.families)
        return [
            fam
            for fam in FAMILIES
            if fam not in present
            and fam != "breath"
            and self._donor_arm(fam, plan, checkin, constraints) is not None
        ]

    def swap_layer(self, plan: Plan, index: int, family: str, profile: Mapping[str, Any]) -> Plan:
        """Replace layer ``index`` by ``family`` (same balance and trajectory).

        Raises
        ------
        ParameterError
            Naming ``family`` when it is not allowed for this listener and moment.
        """
        layer = self._layer(plan, index)
        checkin = self._checkin(plan)
        constraints = constraints_of({**PROFILE_DEFAULTS, **profile})
        if family not in self.swap_choices(plan, index, profile):
            raise ParameterError(
                "family",
                f"{family!r} cannot replace layer {index} here; allowed: "
                f"{', '.join(self.swap_choices(plan, index, profile)) or 'none'}",
            )
        donor = self._donor(family, plan, checkin, constraints)
        assert donor is not None
        new = replace(donor, gain_db=layer.gain_db, pan=layer.pan)
        layers = list(plan.plan_layers)
        layers[index] = new
        fams = [x.family for x in layers if x.family != "breath"]
        level = plan.recipe.split("/")[-1] if "/" in plan.recipe else "mid"
        recipe = f"custom:{'+'.join(fams)}/{level}"
        for arm in ARMS:
            if arm.level == level and sorted(arm.families) == sorted(fams):
                recipe = arm.id
        reason = plan.reason
        sentence = (
            f"You swapped {FAMILY_LABELS[layer.family].lower()} for "
            f"{FAMILY_LABELS[family].lower()}."
        )
        reason = f"{reason} {sentence}".strip()
        return replace(
            plan,
            plan_layers=tuple(layers),
            recipe=recipe,
            reason=reason,
            headphones=any(x.family == "binaural" for x in layers) or plan.headphones,
        )

    def change_minutes(self, plan: Plan, minutes: float, profile: Mapping[str, Any]) -> Plan:
        """The same sound for a different length (trajectory and reason follow).

        Raises
        ------
        ParameterError
            Naming ``minutes`` outside 5–720.
        """
        checkin = replace(self._checkin(plan), minutes=minutes)
        checkin = CheckIn.from_dict(checkin.to_dict())  # validates minutes
        d = checkin.minutes * 60.0
        if plan.quiet_rest:
            return quiet_rest_plan(checkin, seed=plan.seed, goal=plan.goal)
        trajectory = choose_trajectory(checkin, plan.goal)
        layers = []
        for layer in plan.plan_layers:
            if layer.is_pacer:
                params = dict(layer.params)
                params["ramp_s"] = float(min(max(0.5 * d, 120.0), 600.0, d))
                layer = replace(layer, params=params)
            layers.append(layer)
        reason = plan.reason
        try:
            arm = get_arm(plan.recipe)
        except ParameterError:
            arm = None
        if arm is not None and arm_rejection(arm, checkin, constraints_of(profile)) is None:
            pacer = next((x for x in layers if x.is_pacer), None)
            reason = plan_reason(checkin, arm, trajectory, plan.goal, pacer=pacer)
        else:
            reason = f"{reason} Now {minutes_words(d)} long."
        return replace(
            plan,
            plan_layers=tuple(layers),
            trajectory=trajectory,
            duration_s=d,
            reason=reason,
            checkin=checkin.to_dict(include_note=False),
        )

    # -- helpers -----------------------------------------------------------------------
    @staticmethod
    def _layer(plan: Plan, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, int):
            raise ParameterError("layer", f"expected a layer number, got {index!r}")
        if not 0 <= index < len(plan.plan_layers):
            raise ParameterError(
                "layer", f"{index} is out of range: this plan has {len(plan.plan_layers)} layers"
            )
        return plan.plan_layers[index]

    @staticmethod
    def _checkin(plan: Plan) -> CheckIn:
        data = dict(plan.checkin or {})
        data.setdefault("goal", plan.goal)
        data["minutes"] = plan.duration_s / 60.0
        if all(data.get(k) is None for k in ("tension", "energy", "mood")):
            data["mood"] = 5.0
        return CheckIn.from_dict(data)

    @staticmethod
    def _donor_arm(family: str, plan: Plan, checkin: CheckIn, constraints: Constraints) -> Any:
        """The first allowed arm that plays ``family`` (same brightness level first)."""
        level = plan.recipe.split("/")[-1] if "/" in plan.recipe else "mid"
        candidates = _DONOR_CANDIDATES.get((family, level))
        if candidates is None:
            ranked = [a for a in ARMS if family in a.families]
            ranked.sort(key=lambda a: (a.level != level, len(a.families)))
            candidates = _DONOR_CANDIDATES[(family, level)] = tuple(ranked)
        for arm in candidates:
            if arm_rejection(arm, checkin, constraints) is None:
                return arm
        return None

    def _donor(self, family: str, plan: Plan, checkin: CheckIn, constraints: Constraints) -> Any:
        """A layer of ``family`` composed for this moment, from the first allowed arm."""
        arm = self._donor_arm(family, plan, checkin, constraints)
        if arm is None:
            return None
        composed = compose(checkin, arm, constraints, seed=plan.seed, goal=plan.goal)
        return next(layer for layer in composed.plan_layers if layer.family == family)
