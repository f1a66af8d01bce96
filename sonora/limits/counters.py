"""Shared hit counters in fixed windows: the rate limits' repository.

:class:`Counters` is all the limiter (:mod:`sonora.web.limits`) needs;
:class:`SqlCounters` keeps the counts in the ``rate_counters`` table
(:class:`sonora.limits.models.RateCounter`), so several server processes sharing
PostgreSQL share them.  A Redis implementation (``INCR`` + ``EXPIRE``) could replace
the table later.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any, Protocol

from sqlalchemy import (
    Engine,
    Select,
    TextClause,
    bindparam,
    delete,
    select,
    text,
    true,
    union_all,
)

from sonora.limits.models import RateCounter
from sonora.store.hot import fetch, pinned_connection

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

    The statement is one atomic write, so it runs in autocommit
    (:func:`sonora.store.db.read_engine`: no BEGIN/COMMIT round trips), and it is built
    once per number of keys with bound parameters, so SQLAlchemy compiles it once
    (building it per hit, with the values inline, cost ~0.3 ms of CPU per check-in on
    PostgreSQL; issue #15).

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
        from sonora.store.db import read_engine

        self._autocommit = read_engine(engine)
        self._upserts: dict[int, TextClause] = {}
        self._signed_in_statements: dict[tuple[int, int], tuple[Any, Any]] = {}

    def _upsert(self, n: int) -> TextClause:
        """``INSERT`` of ``n`` rows (parameters ``k0, w0, e0, k1...``, ``now``, ``cost``)
        ``ON CONFLICT DO UPDATE ... RETURNING key, count``, built once per ``n``.

        Plain SQL that SQLite and PostgreSQL share: SQLAlchemy gives no cache key to a
        dialect's ``on_conflict_do_update``, so that construct was compiled anew on
        every hit.
        """
        stmt = self._upserts.get(n)
        if stmt is None:
            values = ", ".join(f"(:k{i}, :w{i}, :cost, :now, :e{i})" for i in range(n))
            t = _TABLE.name
            stmt = text(
                f'INSERT INTO {t} ("key", window_start, count, last_at, expires_at) '
                f'VALUES {values} ON CONFLICT ("key", window_start) DO UPDATE SET '
                f"count = {t}.count + excluded.count, last_at = excluded.last_at "
                'RETURNING "key", count'
            )
            self._upserts[n] = stmt
        return stmt

    @staticmethod
    def _window_params(hits: list[tuple[str, float]], now: float, cost: int) -> dict[str, Any]:
        """Parameters ``now``, ``cost`` and ``k{i}``/``w{i}``/``e{i}`` (key, window start,
        expiry, epoch seconds) of each ``(key, period_s)`` in ``hits``."""
        params: dict[str, Any] = {"now": now, "cost": cost}
        for i, (key, period_s) in enumerate(hits):
            start = window_start(period_s, now)
            params[f"k{i}"] = key
            params[f"w{i}"] = start
            params[f"e{i}"] = math.ceil(start + period_s)
        return params

    def _fetch(self, stmt: Any, params: dict[str, Any]) -> list[Any]:
        """Run one statement (its own transaction) on the request's pinned connection
        when there is one, else on a fresh one."""
        held = pinned_connection(self._autocommit)
        if held is not None:
            return fetch(held, stmt, params)
        with self._autocommit.connect() as conn:
            return fetch(conn, stmt, params)

    def _count(self, hits: list[tuple[str, float]], now: float, cost: int) -> dict[str, int]:
        rows = self._fetch(self._upsert(len(hits)), self._window_params(hits, now, cost))
        return {str(k): int(n) for k, n in rows}

    def hit(self, key: str, *, period_s: float, now: float, cost: int = 1) -> int:
        count = self._count([(key, period_s)], now, cost)[key]
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
        counts = self._count(hits, now, 1)
        self._hits += len(hits)
        if self._hits % self.purge_every < len(hits):
            self.purge(now=now)
        return [counts[key] for key, _ in hits]

    def hit_many_signed_in(
        self,
        hits: list[tuple[str, float]],
        *,
        account: tuple[str, float],
        user_query: Select[Any],
        user_params: dict[str, Any],
        now: float,
    ) -> tuple[Any, dict[str, int]] | None:
        """Find a signed-in listener and count their hits, in one statement (PostgreSQL).

        :meth:`hit_many` of ``hits`` and, when ``user_query`` finds a listener whose
        token has not expired (its ``id`` and ``expires_at`` columns), one hit of
        ``account[0] + id`` in windows of ``account[1]`` seconds: a ``WITH`` statement
        instead of the listener's read and the count's write, one round trip less on
        every request limited per account (the check-in's hot path, issue #15).

        Parameters
        ----------
        hits : list of (str, float)
            At least one ``(key, period_s)`` counted whoever asks (the client's); keys
            distinct from the account's.
        account : (str, float)
            Key prefix and period (seconds) of the per-account limit.
        user_query : sqlalchemy.Select
            Built once (its compiled form is cached by identity).
        user_params : dict
            Its parameters.
        now : float
            Epoch seconds.

        Returns
        -------
        (row or None, dict of str to int) or None
            The listener's row of ``user_query`` (``None``: nobody; its token may still
            have expired, the caller checks) and the new count of every key hit;
            ``None`` where the one statement does not apply (not PostgreSQL, no
            ``hits``): then count with :meth:`hit_many` after reading the listener.
        """
        if not hits or self.engine.dialect.name != "postgresql":
            return None
        prefix, account_period_s = account
        params = {**user_params, **self._window_params(hits, now, 1), "prefix": prefix}
        start = window_start(account_period_s, now)
        params["wa"] = start
        params["ea"] = math.ceil(start + account_period_s)
        # a token's expiry is judged by the wall clock, as the accounts' own read does
        params["now_at"] = dt.datetime.now(dt.UTC)
        rows = self._fetch(self._signed_in(len(hits), user_query), params)
        counts = {str(r.hit_key): int(r.hit_count) for r in rows}
        self._hits += len(counts)
        if self._hits % self.purge_every < len(counts):
            self.purge(now=now)
        return (rows[0] if rows and rows[0].id is not None else None), counts

    def _signed_in(self, n: int, user_query: Select[Any]) -> Any:
        """The statement of :meth:`hit_many_signed_in`, built once per ``n`` and query."""
        key = (n, id(user_query))
        found = self._signed_in_statements.get(key)
        if found is not None and found[0] is user_query:
            return found[1]
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        t = _TABLE
        u = user_query.cte("u")
        types = (t.c.key.type, t.c.window_start.type, t.c.count.type, t.c.last_at.type)
        rows = [
            select(
                bindparam(f"k{i}", type_=types[0]),
                bindparam(f"w{i}", type_=types[1]),
                bindparam("cost", type_=types[2]),
                bindparam("now", type_=types[3]),
                bindparam(f"e{i}", type_=t.c.expires_at.type),
            )
            for i in range(n)
        ]
        mine = select(
            bindparam("prefix", type_=types[0]) + u.c.id,
            bindparam("wa", type_=types[1]),
            bindparam("cost", type_=types[2]),
            bindparam("now", type_=types[3]),
            bindparam("ea", type_=t.c.expires_at.type),
        ).where(u.c.expires_at > bindparam("now_at", type_=u.c.expires_at.type))
        ins = pg_insert(t).from_select(
            ["key", "window_start", "count", "last_at", "expires_at"], union_all(*rows, mine)
        )
        hit = (
            ins.on_conflict_do_update(
                index_elements=[t.c.key, t.c.window_start],
                set_={"count": t.c.count + ins.excluded.count, "last_at": ins.excluded.last_at},
            )
            .returning(t.c.key, t.c.count)
            .cte("hit")
        )
        stmt = select(hit.c.key.label("hit_key"), hit.c.count.label("hit_count"), *u.c).select_from(
            hit.outerjoin(u, true())
        )
        self._signed_in_statements[key] = (user_query, stmt)
        return stmt

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
