"""Shared hit counters in fixed windows: the rate limits' repository.

:class:`Counters` is all the limiter (:mod:`sonora.web.limits`) needs;
:class:`SqlCounters` keeps the counts in the ``rate_counters`` table
(:class:`sonora.limits.models.RateCounter`), so several server processes sharing
PostgreSQL share them.  A Redis implementation (``INCR`` + ``EXPIRE``) could replace
the table later.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from sqlalchemy import Engine, delete, select

from sonora.limits.models import RateCounter

__all__ = ["Counters", "SqlCounters", "window_start"]

_TABLE = RateCounter.__table__


class Counters(Protocol):
    """Shared hit counters in fixed windows (a database table, or Redis later)."""

    def hit(self, key: str, *, period_s: float, now: float, cost: int = 1) -> int:
        """Count ``cost`` hits of ``key`` in the window holding ``now``; the new count."""

    def hit_many(self, hits: list[tuple[str, float]], *, now: float) -> list[int]:
        """Count one hit of each ``(key, period_s)``; the new counts, in order."""

    def peek(self, key: str, *, period_s: float, now: float) -> tuple[int, float]:
        """``(count, last hit as epoch seconds)`` in the window holding ``now``."""

    def clear(self, key: str) -> None:
        """Forget every window of ``key``."""


def window_start(period_s: float, now: float) -> int:
    """Start (epoch seconds) of the fixed window of ``period_s`` seconds holding ``now``."""
    return int(now // period_s * period_s)


class SqlCounters:
    """:class:`Counters` in the ``rate_counters`` table (SQLite or PostgreSQL).

    One atomic ``INSERT ... ON CONFLICT (key, window_start) DO UPDATE SET count =
    count + 1 RETURNING count`` per hit, so concurrent processes never lose a count.
    Expired rows are deleted every ``purge_every`` hits.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    purge_every : int
        Hits between deletions of expired windows.
    """

    def __init__(self, engine: Engine, *, purge_every: int = 500) -> None:
        self.engine = engine
        self.purge_every = purge_every
        self._hits = 0
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._insert = insert

    def hit(self, key: str, *, period_s: float, now: float, cost: int = 1) -> int:
        start = window_start(period_s, now)
        stmt = self._insert(_TABLE).values(
            key=key,
            window_start=start,
            count=cost,
            last_at=now,
            expires_at=math.ceil(start + period_s),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": _TABLE.c.count + cost, "last_at": now},
        ).returning(_TABLE.c.count)
        with self.engine.begin() as conn:
            count = int(conn.execute(stmt).scalar_one())
        self._hits += 1
        if self._hits % self.purge_every == 0:
            self.purge(now=now)
        return count

    def hit_many(self, hits: list[tuple[str, float]], *, now: float) -> list[int]:
        """Count one hit of each ``(key, period_s)`` in one statement and one transaction.

        A request limited per client and per account costs one round trip instead of
        two (the check-in's hot path, issue #15).  Keys must be distinct.

        Parameters
        ----------
        hits : list of (str, float)
            ``(key, period_s)`` pairs.
        now : float
            Epoch seconds.

        Returns
        -------
        list of int
            The new count of each key's current window, in the order given.
        """
        if not hits:
            return []
        if len(hits) == 1:
            key, period_s = hits[0]
            return [self.hit(key, period_s=period_s, now=now)]
        rows = []
        for key, period_s in hits:
            start = window_start(period_s, now)
            rows.append(
                {
                    "key": key,
                    "window_start": start,
                    "count": 1,
                    "last_at": now,
                    "expires_at": math.ceil(start + period_s),
                }
            )
        stmt = self._insert(_TABLE).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": _TABLE.c.count + 1, "last_at": now},
        ).returning(_TABLE.c.key, _TABLE.c.count)
        with self.engine.begin() as conn:
            counts = {str(k): int(n) for k, n in conn.execute(stmt)}
        self._hits += len(hits)
        if self._hits % self.purge_every < len(hits):
            self.purge(now=now)
        return [counts[key] for key, _ in hits]

    def peek(self, key: str, *, period_s: float, now: float) -> tuple[int, float]:
        start = window_start(period_s, now)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_TABLE.c.count, _TABLE.c.last_at).where(
                    _TABLE.c.key == key, _TABLE.c.window_start == start
                )
            ).first()
        return (0, 0.0) if row is None else (int(row[0]), float(row[1]))

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_TABLE).where(_TABLE.c.key == key))

    def purge(self, *, now: float | None = None) -> int:
        """Delete windows that have ended; returns how many rows went."""
        t = time.time() if now is None else now
        with self.engine.begin() as conn:
            return conn.execute(delete(_TABLE).where(_TABLE.c.expires_at < t)).rowcount or 0
