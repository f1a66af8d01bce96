"""Moved to :mod:`sonora.core.app` (the application object sits below the web app).

Kept so code written before the move keeps importing; new code imports
:mod:`sonora.core.app`.
"""

from sonora.core.app import ABSENT, AuthError, Core, HistoryView, SessionPoint

__all__ = ["ABSENT", "AuthError", "Core", "HistoryView", "SessionPoint"]
