"""Unhandled errors: never a bare 500, never a 500 without its cause in the log.

:class:`ErrorLog` wraps the whole app (inside the request metrics, outside everything
else).  When a route, a middleware or a stream being prepared in a worker thread raises,
it logs the traceback (logger ``sonora.web.errors``; in JSON logs the record also has
``request_id``) and answers ``500`` with a JSON body naming a request id the listener
or operator can quote::

    {"detail": "server: something went wrong on our side; if it keeps happening, quote
     request id 5f0c2a9e1b7d4c3a", "field": "server", "request_id": "5f0c2a9e1b7d4c3a"}

The id is also in the ``X-Request-ID`` header.  A request that arrives with an
``X-Request-ID`` header (nginx: ``proxy_set_header X-Request-ID $request_id;``) keeps
that id, so the proxy's log and Sonora's agree.

An app that returns without answering at all (which uvicorn would turn into a bare 500
logged only as "ASGI callable returned without starting response") gets the same
treatment, logged with the method and path.  A response already started (a stream)
cannot change its status: the error is logged with its traceback and the connection is
closed, which the player treats as a dropped stream.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from sonora.web.asgi import HttpMiddleware

__all__ = ["ErrorLog", "request_id_of"]

log = logging.getLogger("sonora.web.errors")
#: Request ids taken from an ``X-Request-ID`` header: 1 to 64 of these characters.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(scope: Scope) -> str:
    """The request's id: its ``X-Request-ID`` header when that is a plain token of 1 to
    64 characters (letters, digits, ``. _ : -``), else 16 new random hex digits."""
    for k, v in scope.get("headers", []):
        if k == b"x-request-id":
            given = v.decode("latin-1")
            if _GIVEN_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(8)


def _really_cancelled() -> bool:
    """Whether the running task was cancelled (shutdown, a cancel scope), as opposed to
    a ``CancelledError`` raised by a cancelled future someone awaited (a bug)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class ErrorLog(HttpMiddleware):
    """Log every unhandled error with its traceback and answer it with a quotable id
    (see the module docstring)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        disconnected = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def receive_wrapper() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except (KeyboardInterrupt, SystemExit):
            raise
        except asyncio.CancelledError as exc:
            if _really_cancelled():
                raise
            await self._failed(scope, receive, send, started, exc)
        except BaseException as exc:  # Exception and groups of them
            if _really_cancelled():  # shutting down: whatever it raised, let it end
                raise
            if started and isinstance(exc, OSError):  # the socket went away under a send
                log.debug("the client went away from %s %s: %r", scope["method"], _path(scope), exc)
                return
            await self._failed(scope, receive, send, started, exc)
        else:
            if not started and not disconnected:
                await self._failed(scope, receive, send, started, None)

    async def _failed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        started: bool,
        exc: BaseException | None,
    ) -> None:
        rid = request_id_of(scope)
        what = f"{scope['method']} {_path(scope)}"
        extra = {"request_id": rid}
        if exc is None:
            log.error("%s returned without a response (request id %s)", what, rid, extra=extra)
        elif started:
            log.error(
                "%s failed after its response started; connection closed (request id %s)",
                what,
                rid,
                exc_info=exc,
                extra=extra,
            )
        else:
            log.error("%s failed (request id %s)", what, rid, exc_info=exc, extra=extra)
        if started:
            return  # uvicorn closes the connection: the response is incomplete
        response = JSONResponse(
            {
                "detail": (
                    "server: something went wrong on our side; if it keeps happening, "
                    f"quote request id {rid}"
                ),
                "field": "server",
                "request_id": rid,
            },
            status_code=500,
            headers={"X-Request-ID": rid, "Cache-Control": "no-store"},
        )
        await response(scope, receive, send)


def _path(scope: Scope) -> str:
    """The request's path, without its query string (which may carry personal data)."""
    return str(scope.get("path", ""))
