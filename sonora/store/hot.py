"""Hot-path statements: one pooled connection per request, and Core statements run
straight on psycopg (issue #15).

Two costs dominated the check-in's database work once it was down to a few
statements, each one autocommit statement on the read engine
(:meth:`sonora.store.database.SqlDatabase.connection`): the pool checkout and return
around every statement, and SQLAlchemy's execution of it (an execution context, a
result object, its row processing).  On a loaded 2-core machine a one-row ``SELECT``
by primary key cost ~290 us of CPU with a checkout, ~210 us on a held connection and
~110 us run on psycopg directly (same compiled SQL, a prepared statement).

* :func:`pin` holds one autocommit connection for the current thread while a block
  runs (a request's worker-thread hop): every ``connection()`` inside it is that one.
* :func:`fetch` runs a Core statement built once (``select``/``insert``/``text`` with
  bound parameters): on PostgreSQL through psycopg, with the SQL the dialect compiled
  for it and SQLAlchemy's own bind and result processors (the same values both ways:
  :class:`~sonora.store.base.UTCDateTime` still converts, JSON still encodes),
  prepared on the server once psycopg's ``prepare_threshold`` is reached, as before
  (a deployment behind a pooler that cannot keep prepared statements sets it to
  ``None`` in its connect arguments); elsewhere through SQLAlchemy.  psycopg's errors come
  out as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), a broken
  connection is invalidated, as SQLAlchemy itself would, and the engine's
  ``before_cursor_execute``/``after_cursor_execute`` listeners still see each
  statement (with no execution context).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

__all__ = ["fetch", "pin", "pinned_connection"]

_LOCAL = threading.local()


def pinned_connection(engine: Engine) -> Connection | None:
    """The connection :func:`pin` holds for ``engine`` in this thread, or ``None``."""
    pins: dict[Engine, Connection] | None = getattr(_LOCAL, "pins", None)
    return None if pins is None else pins.get(engine)


@contextmanager
def pin(engine: Engine) -> Iterator[Connection]:
    """Hold one connection of ``engine`` for this thread until the block ends.

    Nested use returns the held connection.  Meant for an autocommit engine
    (:func:`sonora.store.db.read_engine`): each statement is still its own transaction,
    only the pool checkout is shared.
    """
    pins: dict[Engine, Connection] | None = getattr(_LOCAL, "pins", None)
    if pins is None:
        pins = _LOCAL.pins = {}
    held = pins.get(engine)
    if held is not None:
        yield held
        return
    with engine.connect() as conn:
        pins[engine] = conn
        try:
            yield conn
        finally:
            del pins[engine]


class _Psycopg:
    """A statement compiled once for a psycopg dialect, run on the driver connection."""

    __slots__ = ("binds", "compiled", "described", "dialect", "results", "sql")

    def __init__(self, stmt: ClauseElement, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.compiled = compiled
        self.sql: str = compiled.string
        self.binds: list[tuple[str, Callable[[Any], Any]]] = [
            (k, p) for k, p in compiled._bind_processors.items() if p is not None
        ]
        self.dialect = dialect
        #: SQLAlchemy's result processors, per column, found on the first run (some
        #: need the type the driver reports); ``None`` when no column has one
        self.results: list[Callable[[Any], Any] | None] | None = None
        self.described = False

    def _processors(self, description: Any) -> list[Callable[[Any], Any] | None] | None:
        columns = getattr(self.compiled, "_result_columns", None) or ()
        if len(columns) != len(description):
            return None  # text() without declared columns: values as psycopg gives them
        procs = [
            col.type._cached_result_processor(self.dialect, d.type_code)
            for col, d in zip(columns, description, strict=True)
        ]
        return procs if any(p is not None for p in procs) else None

    def run(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        from psycopg import Error
        from psycopg.rows import namedtuple_row

        values = self.compiled.construct_params(params)
        for key, proc in self.binds:
            if key in values:
                values[key] = proc(values[key])
        raw = conn.connection.driver_connection
        try:
            with raw.cursor(row_factory=namedtuple_row) as cur:
                events = conn._has_events or conn.engine._has_events
                if events:  # listeners (statement counters, tracing) still see it
                    conn.dispatch.before_cursor_execute(conn, cur, self.sql, values, None, False)
                cur.execute(self.sql, values)  # prepared after psycopg's threshold
                if events:
                    conn.dispatch.after_cursor_execute(conn, cur, self.sql, values, None, False)
                description = cur.description
                rows = cur.fetchall() if description is not None else []
                if not self.described and description is not None:
                    self.results = self._processors(description)
                    self.described = True
        except Error as exc:
            dialect = conn.dialect
            invalid = dialect.is_disconnect(exc, raw, None)
            if invalid:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                self.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                dialect=dialect,
                connection_invalidated=invalid,
            ) from exc
        procs = self.results
        if procs is None or not rows:
            return rows
        make = type(rows[0])._make
        return [
            make([v if p is None or v is None else p(v) for p, v in zip(procs, r, strict=True)])
            for r in rows
        ]


_COMPILED: dict[tuple[int, int], tuple[ClauseElement, _Psycopg]] = {}
_LOCK = threading.Lock()


def fetch(conn: Connection, stmt: ClauseElement, params: dict[str, Any]) -> list[Any]:
    """Every row of a Core statement built once (module level), as named tuples.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An autocommit connection (:meth:`SqlDatabase.connection`): the statement is its
        own transaction.
    stmt : sqlalchemy.sql.ClauseElement
        A ``select``, ``insert ... returning`` or ``text`` with bound parameters only;
        kept for the process's life (its compiled form is cached by identity).
    params : dict
        Values of the bound parameters.

    Returns
    -------
    list
        Rows with attribute access by column name (``[]`` for a statement returning none).
    """
    dialect = conn.dialect
    if dialect.driver != "psycopg":
        result = conn.execute(stmt, params)
        return result.all() if result.returns_rows else []
    key = (id(stmt), id(dialect))
    found = _COMPILED.get(key)
    if found is None or found[0] is not stmt:
        with _LOCK:
            found = (stmt, _Psycopg(stmt, dialect))
            _COMPILED[key] = found
    return found[1].run(conn, params)
