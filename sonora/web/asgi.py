"""The shape Sonora's pure ASGI middlewares share (security headers, metrics, 503s).

Pure ASGI rather than ``@app.middleware("http")``: cheaper, and streamed bodies flow
through untouched.
"""

from __future__ import annotations

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (``scope["type"] == "http"``)."""
        raise NotImplementedError
