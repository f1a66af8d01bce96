"""Listening time for the safe-listening dose (read-only queries).

Every stream of a plan leaves a ``listening_sessions`` row: where it started, how
far it got and when it was last updated. The time a person actually listened is
estimated as the smaller of the audio streamed (``offset_s - start_offset_s``) and
the wall-clock time the stream was open (``updated_at - started_at``): a live
stream runs only a few seconds ahead of the listener, while a download renders a
whole session in moments and so counts (almost) nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from sonora.listening.models import ListeningSession, PlanRow
from sonora.store.database import SqlDatabase

__all__ = ["ListenedStretch", "listened_since"]


@dataclass(frozen=True)
class ListenedStretch:
    """One stream as the dose estimate sees it.

    Attributes
    ----------
    plan_id : str
        The plan streamed.
    started_at : datetime
        When the stream started (UTC).
    listened_s : float
        Estimated seconds listened.
    gains : tuple of float
        The plan's mixer gains now (linear; empty = as composed).
    """

    plan_id: str
    started_at: dt.datetime
    listened_s: float
    gains: tuple[float, ...]


def listened_since(store: SqlDatabase, user_id: str, since: dt.datetime) -> list[ListenedStretch]:
    """This listener's streams that started at or after ``since``, oldest first.

    Parameters
    ----------
    store : SqlDatabase
        The store.
    user_id : str
        Whose streams (no one else's rows are read).
    since : datetime
        Timezone-aware start of the window.

    Returns
    -------
    list of ListenedStretch
    """
    if since.tzinfo is None:
        raise ValueError("since: expected a timezone-aware time")
    with store.reading() as s:
        rows = s.execute(
            select(ListeningSession, PlanRow.gains)
            .join(PlanRow, PlanRow.id == ListeningSession.plan_id)
            .where(ListeningSession.user_id == user_id, PlanRow.user_id == user_id)
            .where(ListeningSession.started_at >= since)
            .order_by(ListeningSession.started_at)
        ).all()
        out = []
        for ls, gains in rows:
            audio_s = max(0.0, float(ls.offset_s) - float(ls.start_offset_s))
            wall_s = max(0.0, (ls.updated_at - ls.started_at).total_seconds())
            out.append(
                ListenedStretch(
                    plan_id=ls.plan_id,
                    started_at=ls.started_at,
                    listened_s=min(audio_s, wall_s),
                    gains=tuple(float(g) for g in (gains or ())),
                )
            )
        return out
