"""A listener's profile: onboarding answers (what everything learnt is added to).

Onboarding answers, as a mapping (every key optional)::

    {"loved": ["rain", "bowls"],          # families from sonora.plan.FAMILIES
     "disliked": ["chimes"],              # never played
     "sensitivities": ["high_pitch"],     # high_pitch, water, tonal
     "default_goal": "sleep",             # sleep, unwind, ease_anxiety, focus
     "breath_pacer": true,                # offer a breath pacer when easing anxiety
     "personal_evidence": false}          # opt in to sound-vs-quiet-rest comparison

A family may not be both loved and disliked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sonora.errors import ParameterError, check_choice
from sonora.plan.checkin import GOALS
from sonora.plan.recipes import Constraints, check_families, check_sensitivities

ONBOARDING_KEYS = (
    "loved",
    "disliked",
    "sensitivities",
    "default_goal",
    "breath_pacer",
    "personal_evidence",
)


@dataclass(frozen=True)
class Profile:
    """What Sonora knows about a listener before learning from outcomes.

    Parameters
    ----------
    listener_id : str
    loved, disliked : frozenset of str
        Sound families (see :data:`sonora.plan.FAMILIES`).
    sensitivities : frozenset of str
        From ``high_pitch``, ``water``, ``tonal``.
    default_goal : str or None
        Used when a check-in leaves the goal open.
    breath_pacer : bool
        Offer a breath pacer when easing anxiety.
    personal_evidence : bool
        Opted in to the sound-versus-quiet-rest comparison.
    """

    listener_id: str
    loved: frozenset[str] = field(default_factory=frozenset)
    disliked: frozenset[str] = field(default_factory=frozenset)
    sensitivities: frozenset[str] = field(default_factory=frozenset)
    default_goal: str | None = None
    breath_pacer: bool = True
    personal_evidence: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.listener_id, str) or not self.listener_id:
            raise ParameterError(
                "listener_id", f"expected a non-empty text, got {self.listener_id!r}"
            )
        object.__setattr__(self, "loved", check_families("loved", self.loved))
        object.__setattr__(self, "disliked", check_families("disliked", self.disliked))
        both = self.loved & self.disliked
        if both:
            raise ParameterError(
                "loved", f"{', '.join(sorted(both))} cannot be both loved and disliked"
            )
        object.__setattr__(self, "sensitivities", check_sensitivities(self.sensitivities))
        if self.default_goal is not None:
            check_choice("default_goal", self.default_goal, GOALS)
        for name in ("breath_pacer", "personal_evidence"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(name, f"expected true or false, got {getattr(self, name)!r}")

    @classmethod
    def from_onboarding(cls, listener_id: str, answers: Mapping[str, Any] | None) -> Profile:
        """Build a profile from onboarding answers (see the module docstring)."""
        answers = dict(answers or {})
        unknown = sorted(set(answers) - set(ONBOARDING_KEYS))
        if unknown:
            raise ParameterError(
                unknown[0], f"unknown onboarding key; allowed: {', '.join(ONBOARDING_KEYS)}"
            )
        return cls(
            listener_id=listener_id,
            loved=answers.get("loved") or (),
            disliked=answers.get("disliked") or (),
            sensitivities=answers.get("sensitivities") or (),
            default_goal=answers.get("default_goal"),
            breath_pacer=answers.get("breath_pacer", True),
            personal_evidence=answers.get("personal_evidence", False),
        )

    def constraints(self) -> Constraints:
        """The hard rules this profile imposes on plans (one shared, immutable object
        per distinct answer set: a check-in asks several times)."""
        return _constraints(self.disliked, self.sensitivities, self.breath_pacer)

    def with_evidence(self, on: bool) -> Profile:
        """A copy with personal evidence switched on or off."""
        return replace(self, personal_evidence=bool(on))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``from_dict`` reads it back)."""
        return {
            "listener_id": self.listener_id,
            "loved": sorted(self.loved),
            "disliked": sorted(self.disliked),
            "sensitivities": sorted(self.sensitivities),
            "default_goal": self.default_goal,
            "breath_pacer": self.breath_pacer,
            "personal_evidence": self.personal_evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        listener_id = data.pop("listener_id", None)
        return cls.from_onboarding(listener_id, data)  # type: ignore[arg-type]


@lru_cache(maxsize=1024)
def _constraints(
    disliked: frozenset[str], sensitivities: frozenset[str], breath_pacer: bool
) -> Constraints:
    """:class:`Constraints` (frozen, so shared) for already checked answers."""
    return Constraints(disliked=disliked, sensitivities=sensitivities, breath_pacer=breath_pacer)
