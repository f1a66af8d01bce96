"""What the rest of Sonora needs from the listening repository (:class:`ListeningStore`).

The application core, the calibrator and the mixes service are typed against this
protocol; :class:`sonora.listening.repo.ListeningRepo` implements it on the database.
Every method that reads or changes a listener's data takes ``user_id`` and filters by
it: another person's row is :class:`~sonora.store.errors.NotFound`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sonora.listening.repo import CheckInRecord, HistoryEntry, OutcomeRecord, PlanRecord
    from sonora.listening.stretches import ListenedStretch

__all__ = ["ListeningStore"]


class ListeningStore(Protocol):
    """Check-ins, plans, check-outs, streams and history, each call one transaction."""

    def add_checkin_and_plan(
        self,
        user_id: str,
        *,
        checkin: dict[str, Any],
        goal: str | None,
        care: dict[str, Any] | None,
        plan: dict[str, Any],
    ) -> tuple[CheckInRecord, PlanRecord]:
        """Store a check-in and the plan made for it, together."""
        ...

    def get_checkin(self, user_id: str, checkin_id: str) -> CheckInRecord:
        """A check-in of this listener."""
        ...

    def get_plan(self, user_id: str, plan_id: str) -> PlanRecord:
        """A plan of this listener."""
        ...

    def update_plan(self, user_id: str, plan_id: str, plan: dict[str, Any]) -> PlanRecord:
        """Replace a plan's content (drops its calibration and mixer gains)."""
        ...

    def set_calibration(self, plan_id: str, calibration: dict[str, Any]) -> bool:
        """Keep a plan's loudness calibration if it still matches; whether it was stored."""
        ...

    def set_gains(self, user_id: str, plan_id: str, gains: list[float]) -> PlanRecord:
        """Store the listener's mixer gains (linear, one per layer)."""
        ...

    def mark_started(self, user_id: str, plan_id: str) -> None:
        """Note the first time a plan was played."""
        ...

    def record_outcome(
        self, user_id: str, plan_id: str, *, data: dict[str, Any], reward: float | None
    ) -> OutcomeRecord:
        """Store (or replace) the check-out of a plan of this listener."""
        ...

    def edit_outcome(
        self, user_id: str, plan_id: str, *, data: dict[str, Any], reward: float | None
    ) -> OutcomeRecord:
        """Replace the answers and score of an existing check-out (its date is kept)."""
        ...

    def get_outcome(self, user_id: str, plan_id: str) -> OutcomeRecord | None:
        """The check-out of a plan of this listener, if any."""
        ...

    def start_listening(self, user_id: str, plan_id: str, *, fmt: str, offset_s: float) -> str:
        """Record the start of a stream; returns its id."""
        ...

    def update_listening(self, listening_id: str, *, offset_s: float, ended: str | None) -> None:
        """Record how far a stream got and, when it is over, how it ended."""
        ...

    def listened_since(self, user_id: str, since: dt.datetime) -> list[ListenedStretch]:
        """This listener's streams started at or after ``since``, with the time listened."""
        ...

    def recent_moods(self, user_id: str, *, since: dt.datetime, limit: int = 20) -> list[Any]:
        """Moods (0-10 or ``None``) of this listener's check-ins since ``since``."""
        ...

    def history(self, user_id: str, *, limit: int = 500) -> list[HistoryEntry]:
        """This listener's sessions, oldest first (at most ``limit``, the newest)."""
        ...
