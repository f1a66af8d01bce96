"""Where the matcher keeps profiles, session records and learnt state.

:class:`Store` is the interface; :class:`InMemoryStore` implements it for tests and
simulation.  A store may also offer ``delete_listener(listener_id)`` (deleting the
listener's profile and sessions), which :meth:`sonora.match.Matcher.forget` uses; a
store without it must delete them itself before the matcher forgets the listener.  The
database store (:class:`sonora.match.repository.MatcherStore`, SQLite by default)
implements the same methods; everything it needs is JSON-serialisable
(:meth:`SessionRecord.to_dict`, :meth:`Profile.to_dict`, state values).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from sonora.match.profile import Profile


@dataclass(frozen=True)
class SessionRecord:
    """One finished session.

    Parameters
    ----------
    listener_id : str
    recipe : str
        The plan's recipe id (``"rain/dark"``, ``"scene:rain"``, ``"quiet-rest"``).
    families : tuple of str
        Families heard.
    reward : float
        The outcome score (:attr:`sonora.plan.Outcome.reward`).
    rating : float or None
        Helpfulness rating, 0–10.
    tension_drop, mood_rise : float or None
        Scale changes.
    completed : bool
        Finished or fell asleep.
    quiet_rest : bool
        A silent-rest session.
    evidence_arm : str
        ``"sound"`` or ``"rest"`` when part of the personal-evidence comparison, else "".
    features : tuple of float or None
        Reward-model features (``None`` for quiet rest).
    feature_version : int
    goal : str
    part_of_day : str
        ``morning``, ``afternoon``, ``evening`` or ``night`` of the check-in ("" when
        unknown; :func:`sonora.match.insights.part_of_day`).
    """

    listener_id: str
    recipe: str
    families: tuple[str, ...]
    reward: float
    rating: float | None = None
    tension_drop: float | None = None
    mood_rise: float | None = None
    completed: bool = True
    quiet_rest: bool = False
    evidence_arm: str = ""
    features: tuple[float, ...] | None = None
    feature_version: int = 0
    goal: str = ""
    part_of_day: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = asdict(self)
        d["families"] = list(self.families)
        d["features"] = None if self.features is None else list(self.features)
        return d


@runtime_checkable
class Store(Protocol):
    """What the matcher needs from storage."""

    def get_profile(self, listener_id: str) -> Profile | None:
        """The listener's profile, or ``None``."""

    def put_profile(self, profile: Profile) -> None:
        """Create or replace a profile."""

    def add_session(self, record: SessionRecord) -> None:
        """Append a finished session."""

    def sessions(self, listener_id: str | None = None) -> list[SessionRecord]:
        """Sessions of one listener (or everyone), oldest first."""

    def listener_ids(self) -> list[str]:
        """Listeners with a profile or at least one session."""

    def get_state(self, key: str) -> Any:
        """A JSON-serialisable value saved with :meth:`put_state` (``None`` if absent)."""

    def put_state(self, key: str, value: Any) -> None:
        """Save a JSON-serialisable value (``None`` removes the key)."""


@dataclass
class InMemoryStore:
    """A :class:`Store` in memory (tests and simulation)."""

    _profiles: dict[str, Profile] = field(default_factory=dict)
    _sessions: list[SessionRecord] = field(default_factory=list)
    _by_listener: dict[str, list[SessionRecord]] = field(default_factory=lambda: defaultdict(list))
    _state: dict[str, Any] = field(default_factory=dict)

    def get_profile(self, listener_id: str) -> Profile | None:
        """The listener's profile, or ``None``."""
        return self._profiles.get(listener_id)

    def put_profile(self, profile: Profile) -> None:
        """Create or replace a profile."""
        self._profiles[profile.listener_id] = profile

    def add_session(self, record: SessionRecord) -> None:
        """Append a finished session."""
        self._sessions.append(record)
        self._by_listener[record.listener_id].append(record)

    def sessions(self, listener_id: str | None = None) -> list[SessionRecord]:
        """Sessions of one listener (or everyone), oldest first."""
        if listener_id is None:
            return list(self._sessions)
        return list(self._by_listener.get(listener_id, ()))

    def listener_ids(self) -> list[str]:
        """Listeners with a profile or at least one session."""
        return sorted(set(self._profiles) | {k for k, v in self._by_listener.items() if v})

    def get_state(self, key: str) -> Any:
        """A saved value (``None`` if absent)."""
        return self._state.get(key)

    def put_state(self, key: str, value: Any) -> None:
        """Save a value (``None`` removes the key)."""
        if value is None:
            self._state.pop(key, None)
        else:
            self._state[key] = value

    def delete_listener(self, listener_id: str) -> int:
        """Delete the listener's profile and sessions; returns how many sessions went."""
        self._profiles.pop(listener_id, None)
        gone = self._by_listener.pop(listener_id, [])
        if gone:
            self._sessions = [r for r in self._sessions if r.listener_id != listener_id]
        return len(gone)
