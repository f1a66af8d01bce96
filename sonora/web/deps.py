"""Request dependencies: the core, the signed-in listener, CSRF checks, cookies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.web.pending import take_limit_check
from sonora.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token_for,
    new_csrf_cookie,
    require_json_or_token,
    set_cookie,
)

T = TypeVar("T")
_UNSET = object()

__all__ = [
    "CoreDep",
    "MaybeUser",
    "PageUser",
    "UserDep",
    "api_csrf",
    "clear_session",
    "csrf_token",
    "current_user",
    "get_core",
    "remember_session",
    "require_user",
    "run_as_user",
]


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def``
# dependency in the thread pool, a hop (~0.1-0.2 ms of CPU) per request for nothing
# (issue #15).
async def get_core(request: Request) -> Core:
    """The app's core object."""
    return request.app.state.core


CoreDep = Annotated[Core, Depends(get_core)]


async def current_user(request: Request, core: CoreDep) -> UserRecord | None:
    """The listener this request's cookie belongs to, or ``None``."""
    if "sonora_user" in request.state._state:
        return request.state.sonora_user
    token = request.cookies.get(SESSION_COOKIE)
    user = await run_in_threadpool(core.user_for_token, token) if token else None
    request.state.sonora_user = user
    return user


MaybeUser = Annotated[UserRecord | None, Depends(current_user)]

_NOT_SIGNED_IN = "session: not signed in; start as a guest with POST /api/guest, or log in"


async def run_as_user(request: Request, core: Core, work: Callable[[UserRecord], T]) -> T:
    """Find the signed-in listener and run ``work(user)``, in one thread-pool hop.

    For the hot routes (check-in, history): ``UserDep`` and a plain ``def`` route would
    be two hops, three with FastAPI validating the response in the pool too; an
    ``async`` route calling this is one (issue #15).  401 as :func:`require_user`
    without one.  On a route that counts its own rate limits
    (:data:`sonora.web.limits.IN_ROUTE`) the count runs here first, in the same hop,
    and finds the listener (:class:`~sonora.web.limits.RateLimited` when over a limit).
    The hop's single statements share one pooled connection
    (:meth:`sonora.store.database.SqlDatabase.pinned`).
    """
    cached = request.state._state.get("sonora_user", _UNSET)
    token = request.cookies.get(SESSION_COOKIE)
    pending = take_limit_check(request.scope)

    def call() -> T:
        # one pooled connection for every autocommit statement of the hop (issue #15)
        with core.store.pinned():
            if pending is not None and not pending.taken:
                user = pending.run()
            elif cached is not _UNSET:
                user = cached
            else:
                user = core.user_for_token(token) if token else None
            request.state.sonora_user = user
            if user is None:
                raise HTTPException(status_code=401, detail=_NOT_SIGNED_IN)
            return work(user)

    return await run_in_threadpool(call)


async def require_user(user: MaybeUser) -> UserRecord:
    """The signed-in listener (guest or account); 401 otherwise."""
    if user is None:
        raise HTTPException(status_code=401, detail=_NOT_SIGNED_IN)
    return user


UserDep = Annotated[UserRecord, Depends(require_user)]


async def page_user(user: MaybeUser) -> UserRecord:
    """The signed-in listener of a page; visitors without a session are sent home (303)."""
    if user is None:
        raise HTTPException(
            status_code=303, detail="session: start first", headers={"Location": "/"}
        )
    return user


#: A page's listener: pages that need one send a visitor without a session to ``/``.
PageUser = Annotated[UserRecord, Depends(page_user)]


async def api_csrf(request: Request, core: CoreDep) -> None:
    """CSRF rule of the JSON API (see :mod:`sonora.web.security`)."""
    require_json_or_token(request, core.secret_key)


def remember_session(response: Response, request: Request, core: Core, token: str) -> None:
    """Set the sign-in cookie."""
    set_cookie(
        response,
        request,
        core.settings,
        SESSION_COOKIE,
        token,
        max_age=core.settings.session_days * 86_400,
    )


async def switch_session(response: Response, request: Request, core: Core, token: str) -> None:
    """After sign-up or log-in: end this browser's previous sign-in, set the new one."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await run_in_threadpool(core.log_out, old)
    remember_session(response, request, core, token)


def clear_session(response: Response, request: Request, core: Core) -> None:
    """Remove the sign-in cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def csrf_token(request: Request, response: Response | None, core: Core) -> str:
    """The form token for this browser, setting its CSRF cookie if it has none yet.

    The cookie value is stashed on the request so a page rendered in the same request
    uses the same value it sets.
    """
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not value:
        value = new_csrf_cookie()
        request.state.new_csrf = value
    return csrf_token_for(core.secret_key, value)


def attach_csrf_cookie(request: Request, response: Response, core: Core) -> None:
    """Send the CSRF cookie chosen while rendering, if a new one was made."""
    value = getattr(request.state, "new_csrf", None)
    if value:
        set_cookie(
            response,
            request,
            core.settings,
            CSRF_COOKIE,
            value,
            max_age=365 * 86_400,
            samesite="strict",
        )
