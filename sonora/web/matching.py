"""Moved to :mod:`sonora.core.planner`; kept so code written before the move keeps importing."""

from sonora.core.planner import *  # noqa: F403
from sonora.core.planner import __all__ as __all__
