"""Connections and transactions: the one thing every feature's repository shares.

:class:`SqlDatabase` owns the SQLAlchemy engine and hands out sessions, each one
transaction.  Feature repositories (:class:`sonora.accounts.repo.AccountRepo`,
:class:`sonora.listening.repo.ListeningRepo`, :class:`sonora.therapists.repo.TherapistRepo`)
read and write through it; :class:`sonora.core.database.Database` joins the listener's
repositories into the object the application keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from sonora.store.hot import pin, pinned_connection

__all__ = ["SqlDatabase"]


class SqlDatabase:
    """Transactional access to Sonora's database.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        A migrated database (see :func:`sonora.store.db.migrate`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, future=True)
        # Single-statement reads run in autocommit: no BEGIN/COMMIT round trips.
        from sonora.store.db import read_engine

        self._read_engine = read_engine(engine)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False, future=True)

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, migrate: bool = True) -> Self:
        """Connect to ``url`` (``"sqlite://"`` is a private in-memory database).

        Parameters
        ----------
        url : str
            Database URL.
        schema : str, optional
            PostgreSQL schema to use.
        migrate : bool
            Apply migrations first.
        """
        from sonora.store.db import make_engine
        from sonora.store.db import migrate as run_migrations

        engine = make_engine(url, schema=schema)
        if migrate:
            run_migrations(engine)
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as s:
            yield s

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for one read-only statement, in autocommit (no transaction)."""
        with self._reads() as s:
            yield s

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection for one statement, in autocommit (no transaction).

        For the hot paths' reads and single-statement writes of Core statements
        (columns, not ORM entities): without an ORM session around it a statement
        costs ~0.15 ms less CPU (0.10 against 0.26 ms for ``SELECT 1`` on PostgreSQL
        here; issue #15).
        """
        held = pinned_connection(self._read_engine)
        if held is not None:  # a request's one connection (pinned)
            yield held
            return
        with self._read_engine.connect() as conn:
            yield conn

    @contextmanager
    def pinned(self) -> Iterator[Connection]:
        """Hold one autocommit connection for this thread while the block runs.

        Every :meth:`connection` inside it (on any repository of this engine) is that
        connection: a request's worker-thread hop checks one out of the pool instead
        of one per statement (:func:`sonora.store.hot.pin`; issue #15).  Each statement
        is still its own transaction; :meth:`transaction` is unaffected.
        """
        with pin(self._read_engine) as conn:
            yield conn

    def close(self) -> None:
        """Release every pooled connection."""
        from sonora.store.db import dispose

        dispose(self.engine)
