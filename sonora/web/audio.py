"""Moved to :mod:`sonora.core.audio`; kept so code written before the move keeps importing."""

from sonora.core.audio import *  # noqa: F403
from sonora.core.audio import __all__ as __all__
