"""Storage set-up shared by every feature: engine and sessions, column types, migrations.

SQLite by default (in the data folder), PostgreSQL when ``SONORA_DATABASE_URL`` says
so.  Each feature keeps its own tables and repository beside its code
(``sonora/accounts``, ``sonora/listening``, ``sonora/match/tables.py``,
``sonora/therapists``); :class:`sonora.core.database.Database` joins the listener's
repositories.  This package imports no feature.
"""

from __future__ import annotations

from sonora.store.db import current_revision, head_revision, make_engine, migrate
from sonora.store.errors import NotFound, StoreError
from sonora.store.keys import plan_key

__all__ = [
    "NotFound",
    "StoreError",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "plan_key",
]
