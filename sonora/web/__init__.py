"""Sonora's web app: check in, listen, check out — in the browser.

``create_app(settings)`` builds the FastAPI app; :class:`Core` is the object it shares
with the command line; ``sonora serve`` (:func:`sonora.web.cli.serve_command`) runs it.
"""

from sonora.core.app import Core
from sonora.web.app import create_app

__all__ = ["Core", "create_app"]
