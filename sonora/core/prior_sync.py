"""Tell every web process when the matcher's shared prior was refitted.

The population prior lives in the database (``app_state['match.population']``); each
process holds a copy in its matcher.  When one process refits it, it sends a
PostgreSQL ``NOTIFY`` and every other process reloads the prior from the database.
PostgreSQL LISTEN/NOTIFY rather than Redis pub/sub: a multi-process deployment already
has PostgreSQL, so this adds no service and no failure mode.  SQLite is single-process:
nothing to tell.  A listener that loses its connection reloads once it is back (it may
have missed a notice).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable

import sqlalchemy as sa

from sonora.core.database import Database

__all__ = ["CHANNEL", "PriorSync"]

log = logging.getLogger("sonora.prior")

#: The NOTIFY channel (database-wide; the payload names the schema and the sender).
CHANNEL = "sonora_prior"


class PriorSync:
    """Publish prior refits and reload on others' (a daemon thread on PostgreSQL).

    Parameters
    ----------
    store : Database
        The application's database.
    reload : callable
        Called (from the listening thread) when another process refitted the prior.
    """

    def __init__(self, store: Database, reload: Callable[[], None]) -> None:
        self.store = store
        self.reload = reload
        self.enabled = store.engine.dialect.name == "postgresql"
        self.me = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.schema = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Notices from other processes acted on (for tests and /metrics).
        self.received = 0

    def start(self) -> None:
        """Start listening (no-op on SQLite or when started)."""
        if not self.enabled or self._thread is not None:
            return
        with self.store.engine.connect() as conn:
            self.schema = str(conn.execute(sa.text("SELECT current_schema()")).scalar())
        self._thread = threading.Thread(target=self._listen, name="sonora-prior", daemon=True)
        self._thread.start()

    def publish(self) -> None:
        """Tell the other processes this one has just stored a refitted prior."""
        if not self.enabled:
            return
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    sa.text("SELECT pg_notify(:ch, :msg)"),
                    {"ch": CHANNEL, "msg": f"{self.schema}:{self.me}"},
                )
        except sa.exc.SQLAlchemyError:  # they reload on their next reconnect or refit
            log.warning("could not notify other processes of a prior refit", exc_info=True)

    def _listen(self) -> None:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if not first:
                        self._reload()  # a notice may have come while we were away
                    first = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            schema, _, sender = note.payload.partition(":")
                            if schema == self.schema and sender != self.me:
                                self._reload()
            except Exception:  # the database is away: try again shortly
                log.warning("prior listener lost its connection; retrying", exc_info=True)
                self._stop.wait(2.0)

    def _reload(self) -> None:
        try:
            self.reload()
            self.received += 1
        except Exception:
            log.warning("could not reload the shared prior", exc_info=True)

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
