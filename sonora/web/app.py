"""The FastAPI app factory.

>>> from sonora.settings import Settings
>>> app = create_app(Settings(database_url="sqlite://", data_dir="/tmp/sonora-doc",
...                           secret_key="k" * 32))
>>> app.title
'Sonora'

The OpenAPI description is at ``/openapi.json`` and rendered, without any CDN, at
``/api/docs``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from sonora.core.app import AuthError, Core
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.store import NotFound
from sonora.web.asgi import HttpMiddleware
from sonora.web.rendering import WEB_DIR, build_templates, render_error

__all__ = ["create_app", "create_app_from_env"]

#: Content-Security-Policy: nothing from anywhere but this server.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders(HttpMiddleware):
    """Pure ASGI middleware adding Sonora's security headers to every response.

    (Cheaper than ``@app.middleware("http")``, and it leaves streamed bodies alone.)
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: pydantic's names for the branches of a union (``minutes.float``,
#: ``minutes.literal['all night']``): not fields, so not named.
_BRANCH = re.compile(
    r"^(float|int|str|bool|list\[.*\]|dict\[.*\]|literal\[.*\]|function-\w+\[.*\])$"
)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [
        str(p)
        for p in loc
        if p not in ("body", "query", "path", "header", "cookie") and not _BRANCH.match(str(p))
    ]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


_BOUND_ERRORS = {"less_than_equal", "greater_than_equal", "less_than", "greater_than"}


def _bounds_of(request: Request, loc: tuple[Any, ...] | list[Any]) -> tuple[Any, Any]:
    """The (low, high) bounds of the body field at ``loc`` (``None`` where it has none),
    read from the route's body model; ``(None, None)`` when it cannot be found."""
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    model: Any = getattr(getattr(field, "field_info", None), "annotation", None)
    parts = [p for p in loc if p != "body"]
    info = None
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if isinstance(part, int) or fields is None:
            return (None, None)  # a list item or not a model: not looked into
        info = fields.get(part)
        if info is None:
            return (None, None)
        model = info.annotation
    low = high = None
    for m in getattr(info, "metadata", ()):
        low = getattr(m, "ge", getattr(m, "gt", low))
        high = getattr(m, "le", getattr(m, "lt", high))
    return (low, high)


def _choices(expected: str) -> str:
    """pydantic's ``"'a', 'b' or 'c'"`` as ``a, b or c``."""
    return expected.replace("'", "")


def _message_of(request: Request, error: dict[str, Any]) -> str:
    """A validation error's message in Sonora's words, with the allowed range or choices
    and the value received ('expected a number from 0 to 10, got 'zzz''), never pydantic's
    own ('Input should be a valid number, unable to parse string as a number')."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    got = error.get("input")
    low, high = _bounds_of(request, [p for p in error.get("loc", ()) if not _BRANCH.match(str(p))])
    span = f" from {low} to {high}" if low is not None and high is not None else ""
    if kind in _BOUND_ERRORS:
        if low is not None and high is not None:
            return f"expected {low} to {high}, got {got!r}"
        return f"{error.get('msg', 'out of range')}, got {got!r}"
    if kind == "missing":
        return f"required{': a number' + span if span else ''}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        whole = "a whole number" if kind.startswith("int") else "a number"
        return f"expected {whole}{span}, got {got!r}"
    if kind in ("literal_error", "enum"):
        return f"expected one of {_choices(str(ctx.get('expected', '')))}, got {got!r}"
    if kind in ("string_type", "string_unicode"):
        return f"expected text, got {got!r}"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"at least {ctx.get('min_length')} characters"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list, got {got!r}"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {got!r}"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return "expected a JSON object of the documented fields"
    if kind == "json_invalid":
        return f"not valid JSON ({ctx.get('error', 'malformed')})"
    if kind == "extra_forbidden":
        return "not a field of this request"
    msg = str(error.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def _on_page(field: str, message: str) -> str:
    """An error as a page says it: the field's label and its choices as labelled."""
    from sonora.web.fieldlabels import field_label, field_message

    return f"{field_label(field)}: {field_message(field, message)}"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api") or request.url.path == "/openapi.json"


def create_app(settings: Settings | Core | None = None) -> FastAPI:
    """Build the Sonora web app.

    Parameters
    ----------
    settings : Settings or Core, optional
        Settings (a :class:`Core` is made from them, migrating the database) or a
        ready core shared with other front ends.

    Returns
    -------
    fastapi.FastAPI
    """
    core = settings if isinstance(settings, Core) else Core(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.render_limiter = anyio.CapacityLimiter(core.settings.max_streams)
        await anyio.to_thread.run_sync(
            lambda: core.store.purge_guests(idle_days=core.settings.guest_idle_days)
        )
        if not core.settings.broker_url:  # else workers send mail (sonora worker)
            core.therapists.start_background()  # the outbox sender (SONORA_OUTBOX_INTERVAL_S)
        from sonora.library.service import run_scan  # scan jobs in-process, resumed on start

        core.library.start_background(lambda scan_id: run_scan(core, scan_id))
        if core.settings.triage_notes:  # triage's reader loads and warms while we serve
            from sonora.care.triage import start_warm_up

            start_warm_up()
        from sonora.web.therapists_common import warm_up_places

        warm_up_places()
        yield
        core.therapists.stop_background()
        core.library.stop_background()
        core.calibrator.close()

    app = FastAPI(
        title="Sonora",
        summary="A calming-sound companion: check in, listen, check out.",
        description=(
            "Sonora composes calming sound for this listener at this moment and shows "
            "how they felt before and after. A wellness tool, not music therapy.\n\n"
            "Authentication: a cookie (`sonora_session`) from `POST /api/guest`, "
            "`/api/signup` or `/api/login`. Unsafe requests send "
            "`Content-Type: application/json`."
        ),
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.core = core
    app.state.templates = page_templates()

    from sonora.web.limits import install_limits

    install_limits(app, core)  # size limit, rate limits (429), log-in backoff
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Any:
        errors: list[dict[str, str]] = []
        for e in exc.errors():
            field = _field_of(e.get("loc", ()))
            if any(x["field"] == field for x in errors):
                continue  # the other branch of a union: the first says enough
            msg = _message_of(request, e)
            errors.append({"field": field, "message": msg})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        body = {
            "detail": f"{first['field']}: {first['message']}",
            "field": first["field"],
            "errors": errors,
        }
        if _wants_json(request):
            return JSONResponse(body, status_code=422)
        return _html_error(request, 422, _on_page(first["field"], first["message"]))

    @app.exception_handler(ParameterError)
    async def on_parameter(request: Request, exc: ParameterError) -> Any:
        body = {"detail": str(exc), "field": exc.field}
        if _wants_json(request):
            return JSONResponse(body, status_code=422)
        return _html_error(request, 422, _on_page(exc.field, exc.message))

    @app.exception_handler(NotFound)
    async def on_not_found(request: Request, exc: NotFound) -> Any:
        if _wants_json(request):
            return JSONResponse({"detail": f"{exc.what} not found"}, status_code=404)
        return _html_error(request, 404, f"That {exc.what} isn't here.")

    @app.exception_handler(AuthError)
    async def on_auth(request: Request, exc: AuthError) -> Any:
        return JSONResponse(
            {"detail": f"{exc.field}: {exc.message}", "field": exc.field}, status_code=exc.status
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Any:
        if _wants_json(request):
            detail = exc.detail
            body: dict[str, Any] = {"detail": detail}
            if isinstance(detail, str) and ":" in detail:
                body["field"] = detail.split(":", 1)[0]
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code in (302, 303) and exc.headers and "Location" in exc.headers:
            return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
        return _html_error(request, exc.status_code, str(exc.detail))

    def _html_error(request: Request, status: int, message: str) -> HTMLResponse:
        return render_error(request, status, message)

    from sonora.web.account_pages import router as account_router
    from sonora.web.api import router as api_router
    from sonora.web.care_pages import router as care_router
    from sonora.web.pages import router as page_router

    app.include_router(api_router)
    app.include_router(page_router)
    app.include_router(account_router)
    app.include_router(care_router)
    from sonora.web.therapists_api import api_router as therapist_api
    from sonora.web.therapists_pages import router as therapist_pages

    app.include_router(therapist_api)
    app.include_router(therapist_pages)
    from sonora.web.mixes_api import router as mixes_api
    from sonora.web.mixes_pages import router as mixes_pages
    from sonora.web.pwa import router as pwa_router

    app.include_router(mixes_api)
    app.include_router(mixes_pages)
    app.include_router(pwa_router)
    from sonora.web.holds import api_router as holds_api
    from sonora.web.holds import router as holds_pages

    app.include_router(holds_api)  # booking confirmation by email, address blocks
    app.include_router(holds_pages)
    # therapist-guided programmes (issue #17): consent, programmes, progress, reports
    from sonora.web.programmes_api import router as programmes_api
    from sonora.web.programmes_pages import router as programmes_pages

    app.include_router(programmes_api)
    app.include_router(programmes_pages)
    # session downloads rendered on the job queue (issue #18)
    from sonora.web.downloads_api import router as downloads_api

    app.include_router(downloads_api)
    # the listener's own music (issue #16): folders, scans, tracks
    from sonora.web.library_api import router as library_api
    from sonora.web.library_pages import router as library_pages

    app.include_router(library_api)
    app.include_router(library_pages)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    # Operations: /healthz, /readyz, /metrics and request metrics (sonora/web/ops.py).
    from sonora.web.ops import DatabaseUnavailable, Metrics, MetricsMiddleware
    from sonora.web.ops import router as ops_router

    app.state.metrics = Metrics(core)
    app.include_router(ops_router)
    app.add_middleware(DatabaseUnavailable)  # a database down: 503, not 500
    from sonora.web.errors import ErrorLog

    app.add_middleware(ErrorLog)  # any other error: logged, 500 JSON with a request id
    app.add_middleware(MetricsMiddleware)  # outermost: counts the 503s too
    return app


def page_templates() -> Jinja2Templates:
    """The Jinja environment of every page module of the app (built per app)."""
    from sonora.web import care_pages, pages, programmes_pages, therapists_pages

    return build_templates(pages, care_pages, therapists_pages, programmes_pages)


def limit_native_threads(n: int = 1) -> None:
    """Keep numpy/scipy's BLAS to ``n`` threads in a server process.

    A web server already runs many requests in threads; a BLAS that also spreads every
    small matrix operation over all cores only adds contention (the matcher's
    recommendation took ~12 ms with threaded BLAS on a busy 2-core machine, ~1.4 ms
    with one thread).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(limits=n)


def create_app_from_env() -> FastAPI:
    """The app with settings from the environment (``uvicorn --factory`` entry point).

    .. code-block:: console

        $ SONORA_PORT=8001 uvicorn --factory sonora.web.app:create_app_from_env
    """
    limit_native_threads(1)
    return create_app(Settings())
