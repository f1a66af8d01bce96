"""``Cache-Control: no-store`` on every JSON API answer that does not set its own.

Check-ins, history, plans, the profile and the export are personal (check-ins are
health-adjacent): no browser or proxy cache may keep them.  Pages already send
``no-store`` (``pages._render``); static files keep their own caching.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NoStoreApi"]


class NoStoreApi:
    """Pure ASGI middleware adding ``Cache-Control: no-store`` under ``/api``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_no_store)
