"""Rendering pages: the Jinja environment, built once per app, and the helpers every
page module uses (render, read a form, redirect).

:func:`build_templates` is called by :func:`sonora.web.app.create_app`; it makes the
environment and adds what each feature's pages offer their templates (their
``template_globals()`` and ``TEMPLATE_FILTERS``).  Nothing is added to a Jinja
environment when a module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.web.deps import attach_csrf_cookie, csrf_token
from sonora.web.security import SESSION_COOKIE, require_csrf_form

__all__ = [
    "WEB_DIR",
    "build_templates",
    "export_download",
    "read_form",
    "redirect",
    "render",
    "render_error",
]

#: The web package's folder (templates and static files).
WEB_DIR = Path(__file__).parent


class PageModule(Protocol):
    """A module of pages: what it offers the templates."""

    TEMPLATE_FILTERS: Mapping[str, Callable[..., Any]]

    def template_globals(self) -> Mapping[str, Any]: ...


class _ProcessBytecode(BytecodeCache):
    """Compiled templates kept for the process, shared by every app it builds.

    Jinja's own caches are per environment (and its file cache writes to disk); each
    :func:`create_app` makes a new environment, so a process that builds several apps
    (the test suite builds hundreds) would parse and compile every template again.  A
    bucket whose source changed fails Jinja's checksum and is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _ProcessBytecode()


def build_templates(*modules: PageModule) -> Jinja2Templates:
    """A Jinja environment for the app's pages with the globals and filters ``modules``
    offer (each page module's ``template_globals()`` and ``TEMPLATE_FILTERS``)."""
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.bytecode_cache = _BYTECODE
    for module in modules:
        templates.env.globals.update(module.template_globals())
        templates.env.filters.update(module.TEMPLATE_FILTERS)
    return templates


def render(
    request: Request,
    name: str,
    ctx: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render the template ``name`` for this request (user, CSRF token and path included)."""
    core: Core = request.app.state.core
    user = getattr(request.state, "sonora_user", None)
    # Who is signed in is unknown on a page cached for every listener of the browser
    # (``offline_shell``) and on an error answered before the cookie was looked up: such
    # pages show a navigation that is right for anyone rather than a wrong "Log in".
    unknown = "sonora_user" not in request.state._state and SESSION_COOKIE in request.cookies
    context = {
        "request": request,
        "user": user,
        "neutral_nav": user is None and (unknown or bool((ctx or {}).get("offline_shell"))),
        "csrf": csrf_token(request, None, core),
        "path": request.url.path,
        **(ctx or {}),
    }
    templates: Jinja2Templates = request.app.state.templates
    resp = templates.TemplateResponse(request, name, context, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    attach_csrf_cookie(request, resp, core)
    return resp


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page (used by the app's exception handlers)."""
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 422: "Please check"}
    titles[429] = "Please wait a little"
    return render(
        request,
        "error.html",
        {"title": titles.get(status, "Something went wrong"), "message": message},
        status=status,
    )


def redirect(url: str) -> RedirectResponse:
    """A 303 "see other" (after a form post, or to send a visitor elsewhere)."""
    return RedirectResponse(url, status_code=303)


async def read_form(request: Request, core: Core) -> dict[str, Any]:
    """The posted form as a mapping (repeated fields as lists), its CSRF token checked."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    require_csrf_form(request, str(data.pop("csrf_token", "") or ""), core.secret_key)
    return data


def form_scale(data: dict[str, Any], name: str) -> float | None:
    """A 0-10 slider value from a posted form, or ``None`` if the listener skipped it."""
    if data.get(f"skip_{name}"):
        return None
    v = data.get(name)
    if v in (None, ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ParameterError(name, f"expected a number from 0 to 10, got {v!r}") from None


def export_download(data: Mapping[str, Any]) -> Response:
    """A listener's export (:meth:`sonora.core.app.Core.export`) as a JSON file download,
    never cached (the page and the API answer with the same file)."""
    import json

    return Response(
        json.dumps(data, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="sonora-export.json"',
            "Cache-Control": "no-store",
        },
    )
