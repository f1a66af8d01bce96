"""Alembic environment for Sonora.

Sonora runs migrations programmatically (:func:`sonora.store.db.migrate` passes an
open connection in ``config.attributes["connection"]``).  The ``alembic`` command works
too, with ``sonora/store/alembic.ini`` and ``SONORA_DATABASE_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sonora.core.database import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run with the caller's connection, or one made from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from sonora.settings import Settings
    from sonora.store.db import make_engine

    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover - SQL scripts are not used
    raise SystemExit("Sonora's migrations run online only")
run_migrations_online()
