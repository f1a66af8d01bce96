"""Rate limits, log-in backoff and the request-size limit.

Limits
------
Each limited action (sign-up, guest, log-in, check-in, booking, download, stream
start) has a limit per client address (IP, as uvicorn sees it after trusted proxy
headers) and, where it makes sense, per account or per email address.  A limit is a
setting ``"COUNT/PERIOD"`` (:func:`sonora.settings.parse_rate`); counts live in fixed
windows of PERIOD seconds in the database
(:class:`sonora.limits.counters.SqlCounters`, table ``rate_counters``), so several
server processes sharing PostgreSQL share them.  The
:class:`~sonora.limits.counters.Counters` protocol is all the limiter needs: a Redis
implementation (``INCR`` + ``EXPIRE``) could replace the table later.

A request over a limit gets ``429 Too Many Requests`` with ``Retry-After`` (seconds),
as JSON under ``/api`` (``{"detail": ..., "field": "rate", "retry_after_s": ...}``) and
otherwise as a page saying when to try again.

Log-in backoff
--------------
Wrong passwords are counted per (email, client).  After
``login_free_failures`` of them, each further attempt from that client for that
email must wait ``2 ** (failures - free)`` seconds, at most ``login_max_backoff_s``;
a correct password clears the count.  The wait is per email *and* client, so an
attacker elsewhere slows only themselves and never locks the owner out; attempts on
many emails from one client are capped by ``limit_login_per_client``.

Body size
---------
:class:`BodySizeLimit` answers ``413`` when ``Content-Length`` is over
``max_body_bytes``, and stops reading a chunked body as soon as it grows past it,
before anything parses it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sonora.limits.counters import Counters, SqlCounters, window_start
from sonora.settings import Settings, parse_rate
from sonora.web.pending import PENDING_KEY, PendingCheck, take_limit_check

if TYPE_CHECKING:
    from sonora.accounts.repo import UserRecord
    from sonora.accounts.store import AccountStore
    from sonora.core.app import Core

__all__ = [
    "ACTIONS",
    "IN_ROUTE",
    "BodySizeLimit",
    "Limits",
    "PendingCheck",
    "RateLimitMiddleware",
    "RateLimited",
    "client_address",
    "install_limits",
    "take_limit_check",
]


@dataclass(frozen=True)
class Action:
    """A limited action: its label and the settings holding its limits by scope."""

    label: str
    client: str | None = None
    account: str | None = None
    email: str | None = None


#: Limited actions -> the settings of their limits ("per client", "per account"...).
ACTIONS: dict[str, Action] = {
    "signup": Action("sign-ups", client="limit_signup_per_client", email="limit_signup_per_email"),
    "guest": Action("new guest profiles", client="limit_guests_per_client"),
    "login": Action("log-in attempts", client="limit_login_per_client"),
    "checkins": Action(
        "check-ins", client="limit_checkins_per_client", account="limit_checkins_per_account"
    ),
    "bookings": Action(
        "bookings", client="limit_bookings_per_client", email="limit_bookings_per_email"
    ),
    "downloads": Action(
        "downloads", client="limit_downloads_per_client", account="limit_downloads_per_account"
    ),
    "streams": Action(
        "stream starts", client="limit_streams_per_client", account="limit_streams_per_account"
    ),
    "scans": Action("music library scans", account="limit_scans_per_account"),
}


class RateLimited(Exception):
    """Over a limit: try again in ``retry_after_s`` seconds."""

    def __init__(self, action: str, scope: str, retry_after_s: float, message: str) -> None:
        super().__init__(message)
        self.action = action
        self.scope = scope
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.message = message

    @property
    def retry_at(self) -> dt.datetime:
        """When the limit lifts (UTC)."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.retry_after_s)


def _wait_text(seconds: float) -> str:
    s = max(1, math.ceil(seconds))
    if s < 90:
        return f"{s} second{'s' if s != 1 else ''}"
    m = math.ceil(s / 60)
    if m < 90:
        return f"{m} minutes"
    return f"{math.ceil(m / 60)} hours"


class Limits:
    """The rate limits and log-in backoff of one app, over shared :class:`Counters`.

    Parameters
    ----------
    settings : Settings
    counters : Counters
    clock : callable, optional
        Epoch seconds (tests pass a fake clock).
    """

    def __init__(
        self, settings: Settings, counters: Counters, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.counters = counters
        self.clock = clock
        self.enabled = settings.rate_limits

    def rate(self, setting: str) -> tuple[int, float]:
        """``(count, period_s)`` of a limit setting."""
        return parse_rate(getattr(self.settings, setting))

    def check(
        self,
        action: str,
        *,
        client: str | None = None,
        account: str | None = None,
        email: str | None = None,
    ) -> None:
        """Count one ``action`` against each scope given; raise when one is over.

        Raises
        ------
        RateLimited
            With the longest wait among the limits exceeded.
        """
        if not self.enabled:
            return
        spec = ACTIONS[action]
        now = self.clock()
        todo = []
        for scope, ident in (("client", client), ("account", account), ("email", email)):
            setting = getattr(spec, scope)
            if setting is None or not ident:
                continue
            count, period_s = self.rate(setting)
            todo.append((scope, f"{action}:{scope}:{ident}", count, period_s))
        # every scope in one statement (one round trip per limited request)
        counts = self.counters.hit_many([(key, period_s) for _, key, _, period_s in todo], now=now)
        self._judge(action, todo, counts, now)

    def check_signed_in(
        self, action: str, *, client: str, token: str | None, accounts: AccountStore
    ) -> UserRecord | None:
        """Find the listener of a session token and count ``action`` per client and per
        account, as ``accounts.user_for_token`` then :meth:`check` would.

        On PostgreSQL (and for an action limited per client and per account only) the
        read and the count are one statement
        (:meth:`~sonora.limits.counters.SqlCounters.hit_many_signed_in`): a round trip
        less on the check-in's hot path (issue #15).

        Returns
        -------
        UserRecord or None
            The listener (``None``: no valid session).

        Raises
        ------
        RateLimited
            As :meth:`check`.
        """
        spec = ACTIONS[action]
        merged = getattr(self.counters, "hit_many_signed_in", None)
        found = None
        if (
            self.enabled
            and merged is not None
            and token
            and len(token) <= 256
            and spec.client is not None
            and spec.account is not None
            and spec.email is None
        ):
            from sonora.accounts.repo import hash_token, user_by_token_query

            now = self.clock()
            c_count, c_period_s = self.rate(spec.client)
            a_count, a_period_s = self.rate(spec.account)
            client_key = f"{action}:client:{client}"
            found = merged(
                [(client_key, c_period_s)],
                account=(f"{action}:account:", a_period_s),
                user_query=user_by_token_query(),
                user_params={"token_id": hash_token(token)},
                now=now,
            )
        if found is None:  # not one statement here: the read, then the count
            user = accounts.user_for_token(token) if token else None
            self.check(action, client=client, account=user.id if user is not None else None)
            return user
        row, counts = found
        user = accounts.user_from_row(row)
        todo = [("client", client_key, c_count, c_period_s)]
        if user is not None:
            todo.append(("account", f"{action}:account:{user.id}", a_count, a_period_s))
        self._judge(action, todo, [counts[key] for _, key, _, _ in todo], now)
        return user

    def _judge(
        self, action: str, todo: list[tuple[str, str, int, float]], counts: list[int], now: float
    ) -> None:
        """Raise :class:`RateLimited` (the longest wait) if a count is over its limit."""
        spec = ACTIONS[action]
        worst: RateLimited | None = None
        for (scope, _key, count, period_s), n in zip(todo, counts, strict=True):
            if n > count:
                wait = window_start(period_s, now) + period_s - now
                who = {"client": "from here", "account": "for you", "email": "for this email"}
                msg = (
                    f"rate: too many {spec.label} {who[scope]} (at most {count} per "
                    f"{_wait_text(period_s)}); try again in {_wait_text(wait)}"
                )
                if worst is None or wait > worst.retry_after_s:
                    worst = RateLimited(action, scope, wait, msg)
        if worst is not None:
            raise worst

    # -- log-in backoff -------------------------------------------------------------
    def _login_key(self, email: str, client: str) -> str:
        return f"loginfail:{email.strip().lower()[:160]}:{client}"

    def _login_period_s(self) -> float:
        return max(3600.0, 4 * self.settings.login_max_backoff_s)

    def login_wait_s(self, email: str, client: str) -> float:
        """Seconds this client must still wait before trying ``email`` again (0: now)."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        fails, last = self.counters.peek(
            self._login_key(email, client), period_s=self._login_period_s(), now=now
        )
        free = self.settings.login_free_failures
        if fails < free:
            return 0.0
        backoff = min(self.settings.login_max_backoff_s, 2.0 ** (fails - free + 1))
        return max(0.0, last + backoff - now)

    def check_login(self, email: str, client: str) -> None:
        """Raise :class:`RateLimited` while the backoff for (email, client) runs."""
        wait = self.login_wait_s(email, client)
        if wait > 0:
            raise RateLimited(
                "login",
                "email",
                wait,
                f"password: too many wrong passwords for this email from here; try again "
                f"in {_wait_text(wait)}",
            )

    def login_failed(self, email: str, client: str) -> None:
        """Count a wrong password for (email, client)."""
        if self.enabled:
            self.counters.hit(
                self._login_key(email, client), period_s=self._login_period_s(), now=self.clock()
            )

    def login_succeeded(self, email: str, client: str) -> None:
        """A correct password clears the count for (email, client)."""
        if self.enabled:
            self.counters.clear(self._login_key(email, client))


def client_address(scope: Scope) -> str:
    """The client's address (after uvicorn applied trusted ``X-Forwarded-For``)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# (method, path pattern, action, body field holding an email or None)
_ROUTES: list[tuple[str, re.Pattern[str], str, str | None]] = [
    ("POST", re.compile(r"^/(api/)?signup/?$"), "signup", "email"),
    # finishing a sign-up asks for the password: counted as log-in attempts
    ("POST", re.compile(r"^/api/signup/confirm/?$|^/signup/confirm/[^/]+/?$"), "login", None),
    ("POST", re.compile(r"^/api/guest/?$|^/start/?$"), "guest", None),
    ("POST", re.compile(r"^/(api/)?login/?$"), "login", "email"),
    (
        "POST",
        re.compile(r"^/api/checkins/?$|^/checkin/?$|^/api/library/playlists/?$"),
        "checkins",
        None,
    ),
    (
        "POST",
        re.compile(r"^/api/therapists/[^/]+/bookings/?$|^/therapists/[^/]+/book/?$"),
        "bookings",
        "email",
    ),
    ("GET", re.compile(r"^/api/plans/[^/]+/download/?$"), "downloads", None),
    ("GET", re.compile(r"^/api/library/playlists/[^/]+/export/?$"), "downloads", None),
    # programme reports (a PDF is drawn per request)
    ("GET", re.compile(r"^/(api/)?programmes/[^/]+/report\.(pdf|csv)$"), "downloads", None),
    ("GET", re.compile(r"^/api/plans/[^/]+/stream/?$"), "streams", None),
    ("POST", re.compile(r"^/api/library/scans/?$|^/library/scan/?$"), "scans", None),
]


def _match(method: str, path: str) -> tuple[str, str | None] | None:
    for m, pattern, action, field in _ROUTES:
        if m == method and pattern.match(path):
            return action, field
    return None


def _email_from(body: bytes, content_type: str, field: str) -> str:
    try:
        if "json" in content_type:
            data = json.loads(body or b"{}")
            value = data.get(field) if isinstance(data, dict) else None
        else:
            value = (parse_qs(body.decode("utf-8", "replace")).get(field) or [None])[0]
    except (ValueError, UnicodeDecodeError):
        return ""
    return value.strip().lower()[:320] if isinstance(value, str) else ""


def too_many_response(request: Request, exc: RateLimited) -> Response:
    """The 429 answer: JSON under ``/api``, otherwise a page saying when to try again."""
    headers = {"Retry-After": str(exc.retry_after_s), "Cache-Control": "no-store"}
    if request.url.path.startswith("/api"):
        field = exc.message.split(":", 1)[0]
        return JSONResponse(
            {"detail": exc.message, "field": field, "retry_after_s": exc.retry_after_s},
            status_code=429,
            headers=headers,
        )
    from sonora.web.pages import render_error

    at = exc.retry_at.strftime("%H:%M UTC")
    text = exc.message.split(": ", 1)[-1]
    resp = render_error(
        request, 429, f"{text[0].upper()}{text[1:]} (after {at}). Nothing you sent was lost."
    )
    resp.headers.update(headers)
    return resp


#: Routes that count their limits inside their own thread hop, with their other
#: database work (:func:`take_limit_check`): a hop less per request on the hottest
#: route (the check-in; issue #15).  Each must call :func:`take_limit_check` first.
IN_ROUTE: frozenset[tuple[str, str]] = frozenset({("POST", "/api/checkins")})


class RateLimitMiddleware:
    """ASGI middleware applying :class:`Limits` to the limited routes.

    The account of a request is the listener its session cookie belongs to; the email
    of a log-in or booking is read from its (small, already size-limited) body, which
    is then replayed to the route untouched.  Log-in responses teach the backoff:
    ``401`` counts a failure, a success clears it.
    """

    def __init__(self, app: ASGIApp, *, core: Core, limits: Limits) -> None:
        self.app = app
        self.core = core
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        found = _match(scope["method"], scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        action, email_field = found
        request = Request(scope)
        client = client_address(scope)
        email = ""
        if email_field is not None:
            chunks = []
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            email = _email_from(body, request.headers.get("content-type", ""), email_field)
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay
        per_account = ACTIONS[action].account is not None
        token = request.cookies.get("sonora_session") if per_account else None
        checked_email = email if action in ("bookings", "signup") else None

        def check() -> UserRecord | None:
            """The listener (when limited per account) and every count: one thread hop
            for all the request's database work before the route (issue #15)."""
            if per_account and checked_email is None:  # one statement on PostgreSQL
                user = self.limits.check_signed_in(
                    action, client=client, token=token, accounts=self.core.accounts
                )
            else:
                user = self.core.user_for_token(token) if token else None
                self.limits.check(
                    action,
                    client=client,
                    account=user.id if user is not None else None,
                    email=checked_email,
                )
            if action == "login" and email:
                self.limits.check_login(email, client)
            return user

        if (scope["method"], scope["path"]) in IN_ROUTE:
            # the route counts in its own thread hop (take_limit_check); what it never
            # reached (a 422 or 403 before it) is counted here afterwards
            pending = PendingCheck(check)
            scope.setdefault("state", {})[PENDING_KEY] = pending
            try:
                await self.app(scope, receive, send)
            finally:
                if not pending.taken:
                    try:
                        await run_in_threadpool(pending.run)
                    except RateLimited:
                        pass  # refused already; the count still holds back the next
            return
        try:
            user = await run_in_threadpool(check)
            if per_account:  # the route's ``current_user`` dependency reuses it
                request.state.sonora_user = user
        except RateLimited as exc:
            await too_many_response(request, exc)(scope, receive, send)
            return
        if action != "login" or not email:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status == 401:
            await run_in_threadpool(self.limits.login_failed, email, client)
        elif status in (200, 201, 302, 303):
            await run_in_threadpool(self.limits.login_succeeded, email, client)


class BodySizeLimit:
    """ASGI middleware: ``413`` for a body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _reply(self, scope: Scope) -> Response:
        detail = f"body: the request is too large; at most {self.max_bytes} bytes"
        if scope["path"].startswith("/api"):
            return JSONResponse({"detail": detail, "field": "body"}, status_code=413)
        return Response(detail, status_code=413, media_type="text/plain")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes or declared < 0:
                    await self._reply(scope)(scope, receive, send)
                    return
        seen = 0
        started = False
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not started:
                    # Answer 413 now; the route sees a client that went away (its
                    # own error answer is dropped below).
                    refused = True
                    await self._reply(scope)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, tracked)


def counters_for(core: Core) -> Counters:
    """The shared counters of ``core``'s database."""
    return SqlCounters(core.store.engine)


def install_limits(app: Any, core: Core) -> Limits:
    """Add the size limit, rate limits and API ``no-store`` to ``app``.

    Returns
    -------
    Limits
        Also kept as ``app.state.limits``.
    """
    from sonora.web.nostore import NoStoreApi

    limits = Limits(core.settings, counters_for(core))
    app.state.limits = limits
    app.add_middleware(NoStoreApi)  # personal data under /api is never cached
    app.add_middleware(RateLimitMiddleware, core=core, limits=limits)
    app.add_middleware(BodySizeLimit, max_bytes=core.settings.max_body_bytes)
    return limits
