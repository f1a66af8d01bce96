"""Storage set-up shared by every feature: engine and sessions, column types, migrations.

SQLite by default (in the data folder), PostgreSQL when ``SONORA_DATABASE_URL`` says
so.  Each feature keeps its own tables and repository beside its code
(``sonora/accounts``, ``sonora/listening``, ``sonora/match/tables.py``,
``sonora/therapists``); :class:`sonora.core.database.Database` joins the listener's
repositories.  This package imports no feature.
"""

from __future__ import annotations

from typing import Any

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

# Names that lived here before the store was split into feature packages, and their new
# homes.  Resolved lazily (on first use, never at import) only so that branches written
# before the split keep working until they are merged; new code imports the new homes.
_MOVED = {
    "Store": ("sonora.core.database", "Database"),
    "CheckInRecord": ("sonora.listening.repo", "CheckInRecord"),
    "HistoryEntry": ("sonora.listening.repo", "HistoryEntry"),
    "OutcomeRecord": ("sonora.listening.repo", "OutcomeRecord"),
    "PlanRecord": ("sonora.listening.repo", "PlanRecord"),
    "EmailTaken": ("sonora.accounts.repo", "EmailTaken"),
    "ProfileRecord": ("sonora.accounts.repo", "ProfileRecord"),
    "UserRecord": ("sonora.accounts.repo", "UserRecord"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        module, attr = _MOVED[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sonora.store' has no attribute {name!r}")
