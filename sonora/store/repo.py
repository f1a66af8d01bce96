"""Moved: the accounts and listening repositories live in their features now.

A re-export kept only so branches written before the split still import; new code
imports the new homes.  Delete once the second-wave branches are merged.
"""

from sonora.accounts.repo import EmailTaken, ProfileRecord, UserRecord, hash_token
from sonora.core.database import Database as Store
from sonora.listening.repo import CheckInRecord, HistoryEntry, OutcomeRecord, PlanRecord
from sonora.store.errors import NotFound, StoreError

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
    "hash_token",
]
