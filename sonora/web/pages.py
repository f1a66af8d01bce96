"""The pages: welcome, onboarding, check-in, plan, player, after, history, account.

Plain HTML forms (each with a CSRF token) that work without JavaScript; the player's
live mixer, timer, breath pacer and night mode are small scripts from ``/static``.
Every page that shows a listener's data reads it through :class:`~sonora.web.core.Core`
with the signed-in listener's id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.errors import ParameterError
from sonora.plan import FAMILIES, GOALS, PLACES, SENSITIVITIES
from sonora.store import NotFound
from sonora.web.app import WEB_DIR
from sonora.web.charts import goal_chart, session_chart
from sonora.web.core import AuthError, Core
from sonora.web.deps import (
    CoreDep,
    MaybeUser,
    attach_csrf_cookie,
    clear_session,
    csrf_token,
    remember_session,
    switch_session,
)
from sonora.web.matching import FAMILY_LABELS, SENSITIVITY_LABELS
from sonora.web.security import SESSION_COOKIE, require_csrf_form

__all__ = ["render_api_docs", "render_error", "router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

GOAL_LABELS = {
    "sleep": "Fall asleep",
    "unwind": "Unwind",
    "ease_anxiety": "Ease anxious feelings",
    "focus": "Focus",
}
PLACE_LABELS = {
    "in_bed": "In bed",
    "sitting": "Sitting or lying down",
    "on_the_move": "On the move",
}
OUTPUT_LABELS = {"speaker": "Speaker", "headphones": "Headphones"}
MINUTE_CHOICES = (5, 10, 15, 20, 30, 45, 60, 90, 480)

templates.env.globals.update(
    FAMILY_LABELS=FAMILY_LABELS,
    SENSITIVITY_LABELS=SENSITIVITY_LABELS,
    GOAL_LABELS=GOAL_LABELS,
    PLACE_LABELS=PLACE_LABELS,
    OUTPUT_LABELS=OUTPUT_LABELS,
    MINUTE_CHOICES=MINUTE_CHOICES,
    FAMILIES=FAMILIES,
    SENSITIVITIES=SENSITIVITIES,
    GOALS=GOALS,
    PLACES=PLACES,
)


def _minutes_label(m: float) -> str:
    if m >= 480:
        return "All night"
    if m >= 60 and m % 60 == 0:
        h = int(m // 60)
        return f"{h} hour" + ("s" if h > 1 else "")
    return f"{m:g} minutes"


templates.env.filters["minutes"] = _minutes_label


def _render(
    request: Request,
    name: str,
    ctx: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    core: Core = request.app.state.core
    user = getattr(request.state, "sonora_user", None)
    context = {
        "request": request,
        "user": user,
        "csrf": csrf_token(request, None, core),
        "path": request.url.path,
        **(ctx or {}),
    }
    resp = templates.TemplateResponse(request, name, context, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    attach_csrf_cookie(request, resp, core)
    return resp


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page (used by the app's exception handlers)."""
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 422: "Please check"}
    return _render(
        request,
        "error.html",
        {"title": titles.get(status, "Something went wrong"), "message": message},
        status=status,
    )


def render_api_docs(request: Request) -> HTMLResponse:
    """The OpenAPI description as a page."""
    spec = request.app.openapi()
    ops = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "description": p.get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            ops.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or ["other"])[0],
                    "params": params,
                    "body": ref.rsplit("/", 1)[-1] if ref else "",
                }
            )
    schemas = spec.get("components", {}).get("schemas", {})
    return _render(request, "api_docs.html", {"ops": ops, "schemas": schemas, "spec": spec})


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request, core: Core) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    require_csrf_form(request, str(data.pop("csrf_token", "") or ""), core.secret_key)
    return data


def _as_list(v: Any) -> list[str]:
    if v is None or v == "":
        return []
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def _scale(data: dict[str, Any], name: str) -> float | None:
    """A slider value, or ``None`` if the listener skipped it."""
    if data.get(f"skip_{name}"):
        return None
    v = data.get(name)
    if v in (None, ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ParameterError(name, f"expected a number from 0 to 10, got {v!r}") from None


def _need_user(user: UserRecord | None) -> UserRecord:
    if user is None:
        raise _Redirect("/")
    return user


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


def _guarded(handler: Any) -> Any:
    """Turn ``_Redirect`` into a 303 (pages that need a listener send visitors home)."""
    import functools

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(*args, **kwargs)
        except _Redirect as r:
            return _redirect(r.url)

    return wrapper


# -- welcome ---------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
@_guarded
async def welcome(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    profile = await run_in_threadpool(core.profile, user) if user else None
    recent = []
    if user is not None:
        view = await run_in_threadpool(core.history, user)
        recent = list(reversed(view.sessions))[:3]
    return _render(
        request,
        "welcome.html",
        {"profile": profile, "recent": recent, "msg": request.query_params.get("msg", "")},
    )


@router.post("/start")
async def start(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    await _form(request, core)
    if user is not None:
        return _redirect("/onboarding")
    user, token = await run_in_threadpool(core.start_guest)
    resp = _redirect("/onboarding")
    remember_session(resp, request, core, token)
    return resp


# -- onboarding ------------------------------------------------------------------------
@router.get("/onboarding", response_class=HTMLResponse)
@_guarded
async def onboarding(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    profile = await run_in_threadpool(core.profile, user)
    return _render(request, "onboarding.html", {"profile": profile, "error": None})


@router.post("/onboarding", response_class=HTMLResponse)
@_guarded
async def onboarding_save(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    data = await _form(request, core)
    answers = {
        "loved": _as_list(data.get("loved")),
        "disliked": _as_list(data.get("disliked")),
        "sensitivities": _as_list(data.get("sensitivities")),
        "breath_pacer": data.get("breath_pacer") == "on",
        "default_goal": data.get("default_goal") or "unwind",
        "output": data.get("output") or "speaker",
        "quiet_rest": data.get("quiet_rest") == "on",
    }
    if data.get("country"):
        answers["country"] = str(data["country"]).strip()
    try:
        await run_in_threadpool(core.save_profile, user, answers)
    except ParameterError as exc:
        profile = {**(await run_in_threadpool(core.profile, user)), **answers}
        return _render(request, "onboarding.html", {"profile": profile, "error": exc}, status=422)
    return _redirect("/checkin")


# -- check-in --------------------------------------------------------------------------
@router.get("/checkin", response_class=HTMLResponse)
@_guarded
async def checkin_page(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    profile = await run_in_threadpool(core.profile, user)
    if not profile["onboarded"]:
        return _redirect("/onboarding")
    values = {
        "tension": 5,
        "energy": 5,
        "mood": 5,
        "goal": profile["default_goal"],
        "minutes": 20,
        "place": "sitting",
        "output": profile["output"],
        "note": "",
    }
    pattern = await run_in_threadpool(core.mood_pattern, user)
    return _render(request, "checkin.html", {"values": values, "error": None, "pattern": pattern})


@router.post("/checkin", response_class=HTMLResponse)
@_guarded
async def checkin_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    data = await _form(request, core)
    values = dict(data)
    try:
        answers: dict[str, Any] = {
            "tension": _scale(data, "tension"),
            "energy": _scale(data, "energy"),
            "mood": _scale(data, "mood"),
            "goal": data.get("goal") or None,
            "minutes": data.get("minutes") or 20,
            "place": data.get("place") or "sitting",
            "output": data.get("output") or None,
            "local_time": data.get("local_time") or None,
            "note": str(data.get("note") or ""),
        }
        if answers["minutes"] not in ("all night",):
            try:
                answers["minutes"] = float(answers["minutes"])
            except (TypeError, ValueError):
                raise ParameterError(
                    "minutes", f"expected a number of minutes, got {answers['minutes']!r}"
                ) from None
        answers = {k: v for k, v in answers.items() if v is not None}
        _, rec, _ = await run_in_threadpool(core.check_in, user, answers)
    except ParameterError as exc:
        return _render(request, "checkin.html", {"values": values, "error": exc}, status=422)
    return _redirect(f"/plan/{rec.id}")


# -- plan ------------------------------------------------------------------------------
async def _plan_ctx(core: Core, user: UserRecord, plan_id: str) -> dict[str, Any]:
    try:
        rec, plan = await run_in_threadpool(core.plan, user, plan_id)
    except NotFound:
        raise
    checkin = await run_in_threadpool(core.store.get_checkin, user.id, rec.checkin_id)
    choices = await run_in_threadpool(core.swap_choices, user, plan)
    gains = rec.gains or [1.0] * len(plan.plan_layers)
    dose = await run_in_threadpool(core.listening_dose, user)
    return {
        "dose": dose,
        "rec": rec,
        "plan": plan,
        "checkin": checkin,
        "care": checkin.care,
        "choices": choices,
        "gains": gains,
        "minutes": round(plan.duration_s / 60),
    }


@router.get("/plan/{plan_id}", response_class=HTMLResponse)
@_guarded
async def plan_page(
    request: Request,
    plan_id: str,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    ctx = await _plan_ctx(core, user, plan_id)
    return _render(request, "plan.html", {**ctx, "error": None})


@router.post("/plan/{plan_id}", response_class=HTMLResponse)
@_guarded
async def plan_edit(
    request: Request,
    plan_id: str,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    data = await _form(request, core)
    try:
        if data.get("action") == "swap":
            try:
                layer = int(str(data.get("layer", "")))
            except ValueError:
                raise ParameterError("layer", "choose a layer to swap") from None
            await run_in_threadpool(
                lambda: core.edit_plan(user, plan_id, swap=(layer, str(data.get("family", ""))))
            )
        elif data.get("action") == "length":
            try:
                minutes = float(str(data.get("minutes", "")))
            except ValueError:
                raise ParameterError("minutes", "choose a length") from None
            await run_in_threadpool(lambda: core.edit_plan(user, plan_id, minutes=minutes))
        else:
            raise ParameterError("action", "choose swap or length")
    except ParameterError as exc:
        ctx = await _plan_ctx(core, user, plan_id)
        return _render(request, "plan.html", {**ctx, "error": exc}, status=422)
    return _redirect(f"/plan/{plan_id}")


# -- player ----------------------------------------------------------------------------
@router.get("/play/{plan_id}", response_class=HTMLResponse)
@_guarded
async def player(
    request: Request,
    plan_id: str,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    ctx = await _plan_ctx(core, user, plan_id)
    plan = ctx["plan"]
    pacer = plan.pacer or {}
    ctx["breaths"] = {
        "start": pacer.get("breaths_start", 6.0),
        "end": pacer.get("breaths_end", 6.0),
        "ramp_s": pacer.get("ramp_s", 0.0),
    }
    return _render(request, "player.html", ctx)


# -- after -----------------------------------------------------------------------------
@router.get("/after/{plan_id}", response_class=HTMLResponse)
@_guarded
async def after_page(
    request: Request,
    plan_id: str,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    ctx = await _plan_ctx(core, user, plan_id)
    before = ctx["checkin"].data
    values = {
        k: before.get(k) if before.get(k) is not None else 5 for k in ("tension", "energy", "mood")
    }
    values.update({"rating": 5, "ending": "finished"})
    return _render(request, "after.html", {**ctx, "values": values, "error": None})


@router.post("/after/{plan_id}", response_class=HTMLResponse)
@_guarded
async def after_submit(
    request: Request,
    plan_id: str,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    data = await _form(request, core)
    ending = data.get("ending", "finished")
    try:
        if ending not in ("finished", "stopped", "asleep"):
            raise ParameterError("ending", "choose finished, stopped early or fell asleep")
        answers = {
            "tension": _scale(data, "tension"),
            "energy": _scale(data, "energy"),
            "mood": _scale(data, "mood"),
            "rating": _scale(data, "rating"),
            "completed": ending != "stopped",
            "fell_asleep": ending == "asleep",
        }
        answers = {k: v for k, v in answers.items() if v is not None}
        await run_in_threadpool(core.check_out, user, plan_id, answers)
    except ParameterError as exc:
        ctx = await _plan_ctx(core, user, plan_id)
        return _render(request, "after.html", {**ctx, "values": data, "error": exc}, status=422)
    return _redirect(f"/history?done={quote(plan_id)}")


# -- history ---------------------------------------------------------------------------
@router.get("/history", response_class=HTMLResponse)
@_guarded
async def history_page(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    view = await run_in_threadpool(core.history, user)
    profile = await run_in_threadpool(core.profile, user)
    sessions = list(view.sessions)
    return _render(
        request,
        "history.html",
        {
            "view": view,
            "sessions": sessions,
            "newest_first": list(reversed(sessions)),
            "tension_svg": session_chart(sessions, "tension"),
            "mood_svg": session_chart(sessions, "mood"),
            "goal_svg": goal_chart(view.per_goal),
            "profile": profile,
            "done": request.query_params.get("done", ""),
            "fmt_when": _fmt_when,
        },
    )


def _fmt_when(iso: str) -> str:
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return t.strftime("%d %b %Y, %H:%M UTC")


# -- account ---------------------------------------------------------------------------
@router.get("/account", response_class=HTMLResponse)
@_guarded
async def account(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    profile = await run_in_threadpool(core.profile, user)
    return _render(
        request,
        "account.html",
        {"profile": profile, "error": None, "msg": request.query_params.get("msg", "")},
    )


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request, user: MaybeUser) -> Response:
    return _render(request, "signup.html", {"error": None, "email": ""})


@router.post("/signup", response_class=HTMLResponse)
async def signup_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    data = await _form(request, core)
    email = str(data.get("email", ""))
    try:
        _, token = await run_in_threadpool(core.sign_up, user, email, str(data.get("password", "")))
    except AuthError as exc:
        return _render(request, "signup.html", {"error": exc, "email": email}, status=exc.status)
    resp = _redirect("/account?msg=signed-up")
    await switch_session(resp, request, core, token)
    return resp


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, user: MaybeUser) -> Response:
    return _render(request, "login.html", {"error": None, "email": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    data = await _form(request, core)
    email = str(data.get("email", ""))
    try:
        _, token = await run_in_threadpool(core.log_in, user, email, str(data.get("password", "")))
    except AuthError as exc:
        return _render(request, "login.html", {"error": exc, "email": email}, status=exc.status)
    resp = _redirect("/")
    await switch_session(resp, request, core, token)
    return resp


@router.post("/logout")
async def logout_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    await _form(request, core)
    await run_in_threadpool(core.log_out, request.cookies.get(SESSION_COOKIE))
    resp = _redirect("/?msg=logged-out")
    clear_session(resp, request, core)
    return resp


@router.get("/account/export")
@_guarded
async def export_page(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    import json

    user = _need_user(user)
    data = await run_in_threadpool(core.export, user)
    return Response(
        json.dumps(data, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="sonora-export.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/account/delete", response_class=HTMLResponse)
@_guarded
async def delete_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    user = _need_user(user)
    data = await _form(request, core)
    if str(data.get("confirm", "")).strip().lower() != "delete":
        profile = await run_in_threadpool(core.profile, user)
        err = ParameterError("confirm", "type delete to confirm")
        return _render(
            request, "account.html", {"profile": profile, "error": err, "msg": ""}, status=422
        )
    await run_in_threadpool(core.delete_account, user)
    resp = _redirect("/?msg=deleted")
    clear_session(resp, request, core)
    return resp


@router.get("/about", response_class=HTMLResponse)
async def about(request: Request, user: MaybeUser) -> Response:
    return _render(request, "about.html")
