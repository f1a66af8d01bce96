"""Storage: SQLAlchemy 2 models, repositories and Alembic migrations.

SQLite by default (in the data folder), PostgreSQL when ``SONORA_DATABASE_URL`` says
so.  :meth:`Store.open` connects and migrates; everything else is a method of
:class:`Store`, each one transaction.
"""

from sonora.store.db import current_revision, head_revision, make_engine, migrate
from sonora.store.keys import plan_key
from sonora.store.limit_models import BookingBlock, RateCounter  # noqa: F401  (abuse tables)
from sonora.store.repo import (
    CheckInRecord,
    EmailTaken,
    HistoryEntry,
    NotFound,
    OutcomeRecord,
    PlanRecord,
    ProfileRecord,
    Store,
    StoreError,
    UserRecord,
)

__all__ = [
    "CheckInRecord",
    "EmailTaken",
    "HistoryEntry",
    "NotFound",
    "OutcomeRecord",
    "PlanRecord",
    "ProfileRecord",
    "Store",
    "StoreError",
    "UserRecord",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "plan_key",
]
