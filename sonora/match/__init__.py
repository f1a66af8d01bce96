"""Match sound to the listener and the moment, and learn what actually helps them.

Stable API (benchmarks outside the package call it)::

    from sonora.match import Matcher, InMemoryStore
    m = Matcher(InMemoryStore(), seed=0)
    m.onboard("ana", {"loved": ["rain"], "disliked": ["chimes"]})
    plan = m.recommend("ana", {"tension": 7, "goal": "sleep", "minutes": 20})
    plan.layers            # [("rain", 0.0), ...]  (family, gain_db)
    m.record("ana", plan, {"tension": 3, "rating": 8, "completed": True})
    m.what_helps("ana")    # {"sleep": Insight(text="Rain helped you ...")} per goal
    m.forget("ana")        # everything learnt about ana, gone (privacy)

* :class:`Profile` — onboarding answers (loved / disliked families, sensitivities,
  default goal).  A disliked family is never played.
* :class:`Matcher` — hard rules, a hierarchical Bayesian reward model whose population
  prior is learnt from every listener, cautious Thompson sampling.
* :class:`PersonalEvidence` — the opt-in sound-versus-quiet-rest comparison.
* :class:`Insight` — what seems to help a listener for a goal, in plain words.
* :mod:`sonora.match.simulator` — the synthetic population used by the benchmark.
"""

from __future__ import annotations

from sonora.match.evidence import EvidenceReport, PersonalEvidence, difference_interval
from sonora.match.insights import Insight
from sonora.match.matcher import Matcher
from sonora.match.model import PopulationModel
from sonora.match.profile import Profile
from sonora.match.store import InMemoryStore, SessionRecord, Store

__all__ = [
    "EvidenceReport",
    "InMemoryStore",
    "Insight",
    "Matcher",
    "PersonalEvidence",
    "PopulationModel",
    "Profile",
    "SessionRecord",
    "Store",
    "difference_interval",
]
