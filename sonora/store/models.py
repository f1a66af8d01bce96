"""Moved: each feature keeps its own tables now.

A re-export kept only so branches written before the split still import; new code
imports the new homes.  Delete once the second-wave branches are merged.
"""

from sonora.accounts.models import AuthToken, Profile, User
from sonora.listening.models import CheckInRow, ListeningSession, OutcomeRow, PlanRow
from sonora.match.tables import AppState, MatcherState, MatchSession
from sonora.store.base import Base, UTCDateTime, new_id, utcnow

__all__ = [
    "AppState",
    "AuthToken",
    "Base",
    "CheckInRow",
    "ListeningSession",
    "MatchSession",
    "MatcherState",
    "OutcomeRow",
    "PlanRow",
    "Profile",
    "UTCDateTime",
    "User",
    "new_id",
    "utcnow",
]
