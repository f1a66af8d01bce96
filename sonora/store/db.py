"""Database engines and migrations (SQLite by default, PostgreSQL when configured).

:func:`make_engine` builds an engine for a URL: SQLite gets foreign keys on, WAL
journaling and a busy timeout; PostgreSQL (``postgresql+psycopg://...``) may be pinned
to one schema (how the tests isolate themselves).  :func:`migrate` applies the Alembic
migrations in ``sonora/store/migrations`` programmatically; the app calls it at start.
"""

from __future__ import annotations

import importlib.util
import re
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from sonora.errors import ParameterError

__all__ = [
    "alembic_config",
    "current_revision",
    "dispose",
    "head_revision",
    "make_engine",
    "migrate",
    "read_engine",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Arbitrary constant for PostgreSQL's advisory lock around migrations (several workers).
_MIGRATION_LOCK_ID = 0x50_4E_4F_52_41  # "SONORA"-ish
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """Create a SQLAlchemy engine for ``url``.

    Parameters
    ----------
    url : str
        ``sqlite:///path`` or ``postgresql+psycopg://user@host:port/db`` (a plain
        ``postgresql://`` URL is taken to mean psycopg 3).
    schema : str, optional
        PostgreSQL only: use this schema (``search_path``) for every connection.
    echo : bool
        Log SQL.

    Returns
    -------
    sqlalchemy.Engine

    Raises
    ------
    ParameterError
        Naming ``database_url`` for an unsupported or malformed URL.
    """
    try:
        u = make_url(url)
    except Exception as exc:
        raise ParameterError("database_url", f"not a database URL: {exc}") from exc
    backend = u.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if backend == "sqlite":
        db = u.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if not db or db == ":memory:":  # one shared in-memory database for every thread
            kwargs["poolclass"] = StaticPool
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        if u.drivername == "postgresql+psycopg" and importlib.util.find_spec("psycopg") is None:
            raise ParameterError(
                "database_url",
                "PostgreSQL needs psycopg, which the default (SQLite) install leaves out: "
                "run `.venv/bin/pip install -e '.[postgres]'`",
            )
        connect_args: dict[str, Any] = {}
        if schema is not None:
            if not _SCHEMA_RE.match(schema):
                raise ParameterError("schema", f"{schema!r} is not a plain lower-case name")
            connect_args["options"] = f"-csearch_path={schema}"
        # No pre-ping (a round trip per checkout); connections are recycled instead.
        # Transactions and single-statement reads have a pool each (read_engine): at
        # most 20 + 20 connections per process, as the one pool of 40 before.
        kwargs.update(connect_args=connect_args, pool_size=5, max_overflow=15, pool_recycle=1800)
        loads = _fast_json_loads()
        if loads is not None:
            kwargs["json_deserializer"] = loads
        engine = create_engine(u, **kwargs)
        _ENGINE_ARGS[engine] = (u, kwargs)
        return engine
    raise ParameterError(
        "database_url", f"unsupported database {backend!r}; use sqlite:/// or postgresql+psycopg://"
    )


#: How make_engine built each PostgreSQL engine, for its read engine (read_engine).
_ENGINE_ARGS: weakref.WeakKeyDictionary[Engine, tuple[Any, dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)
_READ_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def read_engine(engine: Engine) -> Engine:
    """An engine for single-statement reads and writes in autocommit, beside ``engine``.

    On PostgreSQL (an engine from :func:`make_engine`) it is a second engine with
    ``isolation_level="AUTOCOMMIT"`` and a pool of its own: switching a pooled
    connection to autocommit and back for every read (``execution_options``) cost
    ~0.14 ms of CPU per read here (316 vs 178 us per ``SELECT 1`` on a loaded 2-core
    machine), and the check-in's hot path has several reads (issue #15).  Elsewhere
    (SQLite, engines made by hand) it is ``engine`` with autocommit execution options.

    Parameters
    ----------
    engine : sqlalchemy.Engine

    Returns
    -------
    sqlalchemy.Engine
        Cached per ``engine``; disposed with :func:`dispose`.
    """
    found = _READ_ENGINES.get(engine)
    if found is not None:
        return found
    made = _ENGINE_ARGS.get(engine)
    if made is None:
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")
    else:
        url, kwargs = made
        reads = create_engine(url, **{**kwargs, "isolation_level": "AUTOCOMMIT"})
    _READ_ENGINES[engine] = reads
    return reads


def _fast_json_loads() -> Any:
    """``orjson.loads`` when orjson is installed (the ``postgres`` extra brings it), else
    ``None`` (psycopg's default, :func:`json.loads`).

    psycopg decodes every JSON column with it: plans, check-ins, outcomes and the
    matcher's sessions on the check-in and history paths.  orjson (MIT/Apache-2.0)
    decodes them ~3x faster than :mod:`json`, for the same values (PostgreSQL's ``json``
    type only holds standard JSON, so the two never disagree: no ``NaN`` tokens).
    """
    try:
        import orjson
    except ImportError:  # pragma: no cover - the postgres extra installs it
        return None
    return orjson.loads


def dispose(engine: Engine) -> None:
    """Close every pooled connection of ``engine`` and of its read engine."""
    reads = _READ_ENGINES.pop(engine, None)
    if reads is not None and reads is not engine and _ENGINE_ARGS.get(engine) is not None:
        reads.dispose()
    engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config() -> Config:
    """An Alembic configuration pointing at Sonora's migrations (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head", *, downgrade: bool = False) -> None:
    """Upgrade (or downgrade) the database to ``revision`` in one transaction.

    On PostgreSQL an advisory lock makes concurrent starts (several workers) wait for
    each other instead of racing.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    revision : str
        Target revision (``"head"``, ``"base"`` or an id).
    downgrade : bool
        Go down to ``revision`` instead of up.
    """
    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        cfg.attributes["connection"] = conn
        if downgrade:
            command.downgrade(cfg, revision)
        else:
            command.upgrade(cfg, revision)
