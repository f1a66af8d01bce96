"""The matcher: choose a plan for this listener now, and learn from how it went.

``Matcher.recommend(listener_id, checkin) -> Plan`` and
``Matcher.record(listener_id, plan, outcome)`` are the stable API (benchmarks outside
the package call them).

How a plan is chosen
--------------------
1. Hard rules remove arms (recipe × brightness) the listener must not get: disliked
   families, sensitivities, binaural without headphones, anything struck or bright at
   bedtime (:func:`sonora.plan.allowed_arms`).
2. The reward model (:mod:`sonora.match.model`) gives the listener's posterior over
   what each remaining arm would score *in this moment* (goal, evening, bedtime,
   focus, tension and mood: :mod:`sonora.match.features`): the population prior,
   learnt from everyone's outcomes, plus the listener's own outcomes; onboarding
   enters through the shared "loved" feature (cold start).
3. Thompson sampling picks an arm: one draw from the posterior, the best arm under
   that draw.  Exploration is cautious: the draw's spread is scaled down
   (``exploration``, 0.35 by default: tempered Thompson sampling, which wastes fewer
   of a listener's few sessions than a full-width draw), only arms that could
   plausibly be the best (posterior mean + 2 sd above the best arm's mean − 2 sd) are
   eligible, and at bedtime only arms whose posterior mean is within
   ``bedtime_margin`` points of the best, with an even narrower draw
   (``bedtime_exploration``).  A recipe the listener rated :data:`DISLIKE_RATING` or
   less for this goal is not offered again for it (never replay a dislike).
4. The reason says what was learnt when it applies: "Rain helped you most on
   evenings before sleep: tension down 3.1 on average over 5 sessions (a pattern, not
   proof)" (:mod:`sonora.match.insights`).

Listeners who opted in to personal evidence get randomised quiet-rest sessions
(:mod:`sonora.match.evidence`); those are never used to learn which sound suits them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from sonora.errors import ParameterError, SonoraError
from sonora.match import features as F
from sonora.match.evidence import EvidenceReport, PersonalEvidence
from sonora.match.insights import (
    Insight,
    insight_for_goal,
    observations_from_records,
    part_of_day,
    what_helps,
)
from sonora.match.model import PopulationModel, Stats
from sonora.match.profile import Profile
from sonora.match.store import InMemoryStore, SessionRecord, Store
from sonora.plan.checkin import CheckIn, CheckOut, Outcome
from sonora.plan.compose import compose, quiet_rest_plan
from sonora.plan.model import Plan
from sonora.plan.recipes import Arm, Constraints, allowed_arms

#: How families are named in reasons.
FAMILY_WORDS = {
    "rain": "rain",
    "water": "water sounds",
    "wind": "wind",
    "noise": "steady noise",
    "bowls": "singing bowls",
    "gong": "the gong",
    "chimes": "chimes",
    "drone": "drones",
    "melody": "soft melody",
    "binaural": "binaural beats",
    "breath": "the breath pacer",
}
_POPULATION_KEY = "match.population"
#: Where the shared population prior is stored (other processes reload it from there).
POPULATION_KEY = _POPULATION_KEY
#: A session rated this or lower (0–10) is a dislike: its recipe is not offered again
#: for the same goal.
DISLIKE_RATING = 3.0


#: allowed_arms() by (constraints, bedtime, headphones): what the hard rules look at.
_ALLOWED: dict[tuple[Constraints, bool, bool], list[Arm]] = {}


def _allowed_arms(checkin: CheckIn, constraints: Constraints) -> list[Arm]:
    """:func:`sonora.plan.allowed_arms`, memoised on what its rules read of the
    check-in (bedtime, headphones) and the constraints: the same few lists serve every
    check-in (the rules ran over every arm on each; issue #15).  Do not modify the list.
    """
    key = (constraints, checkin.is_bedtime, checkin.headphones)
    arms = _ALLOWED.get(key)
    if arms is None:
        arms = allowed_arms(checkin, constraints)
        if len(_ALLOWED) > 4096:
            _ALLOWED.clear()
        _ALLOWED[key] = arms
    return arms


def _pending_key(listener_id: str) -> str:
    return f"match.pending.{listener_id}"


class Matcher:
    """Chooses plans and learns from outcomes.

    Parameters
    ----------
    store : Store, optional
        Profiles, sessions and learnt state; a fresh :class:`InMemoryStore` by default.
    population_prior : PopulationModel or mapping, optional
        The starting population prior (e.g. one learnt elsewhere, as
        ``PopulationModel.to_dict()``).  By default the one saved in the store, else
        :meth:`PopulationModel.default`.
    seed : int
        Seed of the matcher's random choices (Thompson draws, plan seeds).
    learn_population : bool
        Keep updating the population prior from everyone's outcomes.
    refit_every : int
        Outcomes between population updates (at least; later, every 10 % growth of
        the data, so the cost of learning stays proportional to the data).
    exploration : float
        Scale of the Thompson draw's spread (1 = plain Thompson sampling, 0 = greedy).
    bedtime_exploration : float
        The same at bedtime.
    bedtime_margin : float
        At bedtime, only arms whose posterior mean is within this many points of the
        best are eligible.
    evidence : PersonalEvidence, optional
        The personal-evidence comparison (created on the same store by default).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        population_prior: PopulationModel | Mapping[str, Any] | None = None,
        seed: int = 0,
        learn_population: bool = True,
        refit_every: int = 50,
        exploration: float = 0.35,
        bedtime_exploration: float = 0.2,
        bedtime_margin: float = 0.3,
        evidence: PersonalEvidence | None = None,
    ) -> None:
        self.store: Store = store if store is not None else InMemoryStore()
        if isinstance(population_prior, PopulationModel):
            self.population = population_prior
        elif population_prior is not None:
            self.population = PopulationModel.from_dict(dict(population_prior))
        else:
            saved = self.store.get_state(_POPULATION_KEY)
            self.population = (
                PopulationModel.from_dict(saved) if saved else PopulationModel.default()
            )
        # What forget() starts again from: the prior given from outside, else the
        # default (a prior loaded from the store may hold a forgotten listener's data).
        self._base_prior: dict[str, Any] | None = (
            self.population.to_dict() if population_prior is not None else None
        )
        self.learn_population = bool(learn_population)
        self.refit_every = max(1, int(refit_every))
        self.bedtime_margin = float(bedtime_margin)
        self.exploration = float(exploration)
        self.bedtime_exploration = float(bedtime_exploration)
        self.evidence = evidence or PersonalEvidence(self.store, seed=seed)
        self._rng = np.random.default_rng(seed)
        self._stats: dict[str, Stats] = {}
        self._since_fit = 0

    # -- profiles ----------------------------------------------------------------------
    def profile(self, listener_id: str) -> Profile:
        """The listener's profile (an empty one if they never onboarded)."""
        return self.store.get_profile(listener_id) or Profile(listener_id)

    def onboard(self, listener_id: str, answers: Mapping[str, Any] | Profile | None) -> Profile:
        """Save onboarding answers (see :mod:`sonora.match.profile` for the keys)."""
        profile = (
            answers
            if isinstance(answers, Profile)
            else Profile.from_onboarding(listener_id, answers)
        )
        self.store.put_profile(profile)
        return profile

    def set_personal_evidence(self, listener_id: str, on: bool = True) -> Profile:
        """Opt the listener in (or out) of the sound-versus-quiet-rest comparison."""
        profile = self.profile(listener_id).with_evidence(on)
        self.store.put_profile(profile)
        return profile

    def evidence_report(self, listener_id: str) -> EvidenceReport:
        """What the listener's personal comparison can say so far."""
        return self.evidence.report(listener_id)

    # -- learning state ------------------------------------------------------------------
    def _stats_for(self, listener_id: str, sessions: list[Any] | None = None) -> Stats:
        s = self._stats.get(listener_id)
        if s is None:
            recs = [
                r
                for r in (self.store.sessions(listener_id) if sessions is None else sessions)
                if r.features is not None and r.feature_version == F.FEATURE_VERSION
            ]
            s = Stats()
            if recs:  # one matrix product, not one outer product per session
                X = np.array([r.features for r in recs], dtype=float)
                y = np.array([r.reward for r in recs], dtype=float)
                s.xtx, s.xty, s.yty, s.n = X.T @ X, X.T @ y, float(y @ y), len(recs)
            self._stats[listener_id] = s
        return s

    def reload(self, listener_id: str | None = None) -> None:
        """Drop cached learning statistics so they are reread from the store.

        Use it when another process may have recorded sessions in a shared store
        (the web app's workers do).

        Parameters
        ----------
        listener_id : str, optional
            The listener whose statistics to reread; ``None`` rereads everyone's.
        """
        if listener_id is None:
            self._stats.clear()
        else:
            self._stats.pop(listener_id, None)

    def forget(self, listener_id: str) -> None:
        """Remove everything the matcher has learnt about a listener.

        Deletes the listener's profile, sessions and per-listener state from the store
        (through the store's ``delete_listener`` when it has one; the database store
        deletes them with the account), drops what is cached in memory, and learns the
        population prior again from scratch from everyone else's outcomes, so nothing
        of theirs remains in what new listeners start from.

        Parameters
        ----------
        listener_id : str
            The listener to forget (unknown listeners are fine: nothing to remove).

        Raises
        ------
        SonoraError
            If the store still holds the listener's profile or sessions afterwards (a
            store that cannot delete must have deleted them before this call).
        """
        delete = getattr(self.store, "delete_listener", None)
        if callable(delete):
            delete(listener_id)
        key = _pending_key(listener_id)
        if self.store.get_state(key) is not None:
            self.store.put_state(key, None)
        if self.store.get_profile(listener_id) is not None or self.store.sessions(listener_id):
            raise SonoraError(
                f"listener {listener_id!r}: the store still holds their profile or sessions; "
                "delete them there first (this store has no delete_listener)"
            )
        self._stats.pop(listener_id, None)
        if self._base_prior is not None:
            self.population = PopulationModel.from_dict(self._base_prior)
        else:
            self.population = PopulationModel.default()
        self._since_fit = 0
        if self.learn_population and any(self.store.sessions(i) for i in self.store.listener_ids()):
            self.refit(iterations=8)
        else:
            self.store.put_state(_POPULATION_KEY, self.population.to_dict())

    def refit(self, *, iterations: int = 4) -> PopulationModel:
        """Update the population prior from every listener's outcomes now.

        Parameters
        ----------
        iterations : int
            Empirical-Bayes iterations (see :meth:`PopulationModel.fit`).
        """
        stats = [self._stats_for(i) for i in self.store.listener_ids()]
        self.population.fit(stats, iterations=iterations)
        self.store.put_state(_POPULATION_KEY, self.population.to_dict())
        self._since_fit = 0
        return self.population

    def arm_scores(self, listener_id: str, checkin: CheckIn | Mapping[str, Any]) -> list[dict]:
        """Posterior mean and sd of the score of every allowed arm (for explanations).

        Returns
        -------
        list of dict
            ``{"arm", "mean", "sd"}``, best mean first.
        """
        profile = self.profile(listener_id)
        c = self._resolve(checkin, profile)
        arms = allowed_arms(c, profile.constraints())
        if not arms:
            return []
        X = self._arm_features(arms, c, profile)
        mean, sd = self.population.posterior(self._stats_for(listener_id)).predict(X)
        order = np.argsort(-mean)
        return [{"arm": arms[i].id, "mean": float(mean[i]), "sd": float(sd[i])} for i in order]

    # -- choosing ------------------------------------------------------------------------
    @staticmethod
    def _resolve(checkin: CheckIn | Mapping[str, Any], profile: Profile) -> CheckIn:
        c = checkin if isinstance(checkin, CheckIn) else CheckIn.from_dict(checkin)
        if c.goal is None:
            c = c.with_goal(profile.default_goal or "unwind")
        return c

    @staticmethod
    def _pacer(c: CheckIn, profile: Profile) -> bool:
        return (
            c.goal == "ease_anxiety"
            and profile.constraints().pacer_allowed
            and c.place != "on_the_move"
        )

    def _arm_features(self, arms: list[Arm], c: CheckIn, profile: Profile) -> np.ndarray:
        return F.arm_matrix(arms, c, profile, pacer=self._pacer(c, profile))

    def choose_arm(
        self, listener_id: str, checkin: CheckIn, profile: Profile | None = None
    ) -> tuple[Arm, list[str]] | None:
        """Thompson-sample an arm (see the module docstring); ``None`` if none is allowed.

        Parameters
        ----------
        listener_id : str
        checkin : CheckIn
        profile : Profile, optional
            The listener's profile when the caller has just read it (saves a read).

        Returns
        -------
        (Arm, list of str) or None
            The arm and the personal sentences for its reason.
        """
        profile = self.profile(listener_id) if profile is None else profile
        arms = _allowed_arms(checkin, profile.constraints())
        if not arms:
            return None
        X = self._arm_features(arms, checkin, profile)
        sessions = self.store.sessions(listener_id)  # one read for the stats and the notes
        post = self.population.posterior(self._stats_for(listener_id, sessions))
        mean, sd = post.predict(X)
        if checkin.is_bedtime:
            eligible = mean >= mean.max() - self.bedtime_margin
            scale = self.bedtime_exploration
        else:
            eligible = mean + 2.0 * sd >= np.max(mean - 2.0 * sd)
            scale = self.exploration
        # never replay a dislike: an arm this listener rated low for this goal is not
        # offered again for it (unless nothing else is left)
        low = {
            r.recipe
            for r in sessions
            if r.goal == checkin.goal and r.rating is not None and r.rating <= DISLIKE_RATING
        }
        if low:
            liked = np.array([a.id not in low for a in arms])
            if np.any(eligible & liked):
                eligible &= liked
            elif np.any(liked):
                eligible = liked
        draw = X @ post.sample(self._rng, scale)
        draw[~eligible] = -np.inf
        k = int(np.argmax(draw))
        notes = self._notes(
            sessions, profile, arms[k], exploring=mean[k] < mean.max() - 0.25, goal=checkin.goal
        )
        return arms[k], notes

    def _notes(
        self,
        all_sessions: list[Any],
        profile: Profile,
        arm: Arm,
        *,
        exploring: bool,
        goal: str | None = None,
    ) -> list[str]:
        sessions = [r for r in all_sessions if not r.quiet_rest]
        notes: list[str] = []
        if goal and sessions:
            insight = insight_for_goal(observations_from_records(sessions), goal)
            if insight is not None and set(insight.families) == set(arm.families) - {"breath"}:
                notes.append(insight.text)
                return notes
        best: tuple[float, str] | None = None
        for fam in arm.families:
            ratings = [r.rating for r in sessions if fam in r.families and r.rating is not None]
            if len(ratings) >= 2 and float(np.mean(ratings)) >= 7.0:
                m = float(np.mean(ratings))
                if best is None or m > best[0]:
                    best = (m, fam)
        loved = [f for f in arm.families if f in profile.loved]
        if best is not None:
            notes.append(f"you have rated {FAMILY_WORDS[best[1]]} highly")
        elif loved:
            notes.append(f"you told us you love {FAMILY_WORDS[loved[0]]}")
        if sessions and exploring:
            notes.append(
                "this is a little different from your usual; how you feel afterwards "
                "helps Sonora learn what suits you"
            )
        elif not sessions and not loved and self.population.n_sessions:
            notes.append("for a first session we start from what has suited other listeners")
        return notes

    def what_helps(self, listener_id: str) -> dict[str, Insight]:
        """What seems to help this listener, per goal, in plain words.

        Returns
        -------
        dict of str to Insight
            Goal -> :class:`~sonora.match.insights.Insight` (only goals with enough
            sessions, see :mod:`sonora.match.insights`).
        """
        return what_helps(observations_from_records(self.store.sessions(listener_id)))

    def recommend(
        self,
        listener_id: str,
        checkin: CheckIn | Mapping[str, Any],
        *,
        profile: Profile | None = None,
    ) -> Plan:
        """The plan for this listener at this check-in.

        Parameters
        ----------
        listener_id : str
        checkin : CheckIn or mapping
            The check-in (a mapping uses :class:`CheckIn` field names).
        profile : Profile, optional
            The listener's profile when the caller has just read it (saves a read;
            by default it is read from the store).

        Returns
        -------
        Plan
            A sound plan, or a quiet-rest plan when the listener's personal comparison
            calls for one (or when their dislikes rule out every sound).

        Raises
        ------
        ParameterError
            For an invalid check-in, naming the field.
        """
        profile = self.profile(listener_id) if profile is None else profile
        c = self._resolve(checkin, profile)
        seed = int(self._rng.integers(0, 2**31 - 1))
        arm_kind = ""
        if profile.personal_evidence:
            arm_kind = self.evidence.next_arm(listener_id)
        if arm_kind == "rest":
            plan = quiet_rest_plan(c, seed=seed)
        else:
            choice = self.choose_arm(listener_id, c, profile)
            if choice is None:
                plan = replace(
                    quiet_rest_plan(c, seed=seed),
                    reason="Your dislikes and sensitivities rule out every sound in "
                    "Sonora's library, so this is a quiet-rest session. You can change "
                    "them in your profile.",
                )
                arm_kind = ""
            else:
                arm, notes = choice
                plan = compose(c, arm, profile.constraints(), seed=seed, notes=notes)
        if arm_kind:
            # only the personal comparison needs to know which arm this plan was (a
            # write saved on every other check-in; record() matches it by seed)
            self.store.put_state(
                _pending_key(listener_id), {"seed": seed, "evidence_arm": arm_kind}
            )
        return plan

    # -- learning ------------------------------------------------------------------------
    def record(
        self,
        listener_id: str,
        plan: Plan,
        outcome: Outcome | CheckOut | Mapping[str, Any],
    ) -> float:
        """Learn from a finished session.

        Parameters
        ----------
        listener_id : str
        plan : Plan
            The plan that was played (any plan: recommended, a scene, quiet rest).
        outcome : Outcome, CheckOut or mapping
            The outcome; a check-out (or a mapping of check-out answers) is paired with
            the check-in stored in the plan.

        Returns
        -------
        float
            The session's outcome score.
        """
        if not isinstance(outcome, Outcome):
            if plan.checkin is None:
                raise ParameterError(
                    "outcome", "this plan has no check-in: pass an Outcome(before, after)"
                )
            outcome = Outcome(CheckIn.from_dict(plan.checkin), CheckOut.from_dict(outcome))
        reward = outcome.reward
        profile = self.profile(listener_id)
        pending = self.store.get_state(_pending_key(listener_id)) or {}
        evidence_arm = ""
        if pending.get("seed") == plan.seed and pending.get("evidence_arm"):
            evidence_arm = pending["evidence_arm"]
            self.store.put_state(_pending_key(listener_id), None)
        features = None
        if not plan.quiet_rest:
            x = F.plan_vector(plan, profile)
            features = tuple(float(v) for v in x)
            self._stats_for(listener_id).add(x, reward)
            self._since_fit += 1
        self.store.add_session(
            SessionRecord(
                listener_id=listener_id,
                recipe=plan.recipe,
                families=plan.families,
                reward=reward,
                rating=outcome.after.rating,
                tension_drop=outcome.tension_drop,
                mood_rise=outcome.mood_rise,
                completed=outcome.completed,
                quiet_rest=plan.quiet_rest,
                evidence_arm=evidence_arm,
                features=features,
                feature_version=F.FEATURE_VERSION if features is not None else 0,
                goal=plan.goal,
                part_of_day=part_of_day(outcome.before.local_time),
            )
        )
        due = max(self.refit_every, 0.1 * self.population.n_sessions)
        if self.learn_population and self._since_fit >= due:
            self.refit()
        return reward
