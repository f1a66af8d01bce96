"""The shape Sonora's pure ASGI middlewares share (security headers, metrics, 503s).

Pure ASGI rather than ``@app.middleware("http")``: cheaper, and streamed bodies flow
through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HttpMiddleware"]


class HttpMiddleware:
    """A pure ASGI middleware that acts on HTTP requests only.

    Lifespan and websocket traffic passes straight through to the wrapped app; an HTTP
    request goes to :meth:`http`, which subclasses implement.

    Parameters
    ----------
    app : ASGIApp
        The application (or middleware) wrapped.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Hands back the chosen coroutine rather than awaiting it: no extra frame per
        # request for the dispatch.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (``scope["type"] == "http"``)."""
        raise NotImplementedError
