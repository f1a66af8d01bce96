"""The pages: welcome, onboarding, check-in, plan, player, after, history.

The account pages (sign-up, log-in, export, delete) live in :mod:`sonora.web.account_pages`.

Plain HTML forms (each with a CSRF token) that work without JavaScript; the player's
live mixer, timer, breath pacer and night mode are small scripts from ``/static``.
Every page that shows a listener's data reads it through :class:`~sonora.core.app.Core`
with the signed-in listener's id.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.care.region import hints_json, place_label, region_groups
from sonora.core.app import AuthError, Core
from sonora.core.planner import FAMILY_LABELS, SENSITIVITY_LABELS
from sonora.errors import ParameterError
from sonora.plan import FAMILIES, GOALS, PLACES, SENSITIVITIES
from sonora.plan.checkin import MAX_MINUTES, MIN_MINUTES
from sonora.store import NotFound
from sonora.web.charts import goal_chart, session_chart
from sonora.web.deps import (
    CoreDep,
    MaybeUser,
    PageUser,
    remember_session,
)
from sonora.web.fieldlabels import (
    GOAL_LABELS,
    OUTPUT_LABELS,
    PLACE_LABELS,
    field_label,
    field_message,
)
from sonora.web.localtime import TEMPLATE_FILTERS as LOCALTIME_FILTERS
from sonora.web.localtime import TEMPLATE_GLOBALS as LOCALTIME_GLOBALS
from sonora.web.localtime import viewer_zone
from sonora.web.mixes_api import checkin_once
from sonora.web.music_checkin import music_ready, playlist_of_plan
from sonora.web.rendering import (
    form_scale,
    read_form,
    redirect,
    render,
    render_error,
)

__all__ = ["TEMPLATE_FILTERS", "render_api_docs", "render_error", "router", "template_globals"]

router = APIRouter(include_in_schema=False)

MINUTE_CHOICES = (5, 10, 15, 20, 30, 45, 60, 90, 480)


def template_globals() -> dict[str, Any]:
    """Labels and choices every template may use (see :func:`sonora.web.rendering.build_templates`)."""
    return {
        "FAMILY_LABELS": FAMILY_LABELS,
        "SENSITIVITY_LABELS": SENSITIVITY_LABELS,
        "GOAL_LABELS": GOAL_LABELS,
        "PLACE_LABELS": PLACE_LABELS,
        "OUTPUT_LABELS": OUTPUT_LABELS,
        "MINUTE_CHOICES": MINUTE_CHOICES,
        "FAMILIES": FAMILIES,
        "SENSITIVITIES": SENSITIVITIES,
        "GOALS": GOALS,
        "PLACES": PLACES,
        "REGION_GROUPS": region_groups,
        "REGION_HINTS": hints_json,
        "PLACE_LABEL": place_label,
        **LOCALTIME_GLOBALS,
        "field_label": field_label,
        "field_message": field_message,
    }


def _minutes_label(m: float) -> str:
    if m >= 480:
        return "All night"
    if m >= 60 and m % 60 == 0:
        h = int(m // 60)
        return f"{h} hour" + ("s" if h > 1 else "")
    return f"{m:g} minutes"


#: Jinja filters of the listener's pages.
TEMPLATE_FILTERS = {"minutes": _minutes_label, **LOCALTIME_FILTERS}


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
    return render(request, "api_docs.html", {"ops": ops, "schemas": schemas, "spec": spec})


def _as_list(v: Any) -> list[str]:
    if v is None or v == "":
        return []
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


# -- welcome ---------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
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
    from sonora.web.mixes_pages import quick_start_ctx

    quick = await quick_start_ctx(core, user)
    return render(
        request,
        "welcome.html",
        {"profile": profile, "recent": recent, "msg": request.query_params.get("msg", ""), **quick},
    )


@router.post("/start")
async def start(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    await read_form(request, core)
    if user is not None:
        return redirect("/onboarding")
    user, token = await run_in_threadpool(core.start_guest)
    resp = redirect("/onboarding")
    remember_session(resp, request, core, token)
    return resp


# -- onboarding ------------------------------------------------------------------------
@router.get("/onboarding", response_class=HTMLResponse)
async def onboarding(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    profile = await run_in_threadpool(core.profile, user)
    return render(request, "onboarding.html", {"profile": profile, "error": None})


@router.post("/onboarding", response_class=HTMLResponse)
async def onboarding_save(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    data = await read_form(request, core)
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
    if "region" in data:
        answers["region"] = str(data.get("region") or "").strip()
    try:
        await run_in_threadpool(core.save_profile, user, answers)
    except ParameterError as exc:
        profile = {**(await run_in_threadpool(core.profile, user)), **answers}
        return render(request, "onboarding.html", {"profile": profile, "error": exc}, status=422)
    return redirect("/checkin")


# -- check-in --------------------------------------------------------------------------
@router.get("/checkin", response_class=HTMLResponse)
async def checkin_page(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    profile = await run_in_threadpool(core.profile, user)
    if not profile["onboarded"]:
        return redirect("/onboarding")
    values = {
        "tension": 5,
        "energy": 5,
        "mood": 5,
        "goal": profile["default_goal"],
        "minutes": 20,
        "place": "sitting",
        "output": profile["output"],
        "note": "",
        "source": "music" if request.query_params.get("source") == "music" else "sounds",
        # one-time key: a retried or double-clicked form makes one check-in, not two
        "request_key": "form-" + secrets.token_urlsafe(16),
    }
    pattern = await run_in_threadpool(core.mood_pattern, user)
    programmes = await run_in_threadpool(core.programmes.active_programmes, user)
    music_ok = await run_in_threadpool(music_ready, core, user.id)
    return render(
        request,
        "checkin.html",
        {
            "values": values,
            "error": None,
            "pattern": pattern,
            "programme_questions": programmes,
            "music_ok": music_ok,
        },
    )


def _programme_answers(data: dict[str, Any]) -> dict[str, float | None]:
    """The check-in form's answers to programme questions (``pq_<programme>_<question>``)."""
    out: dict[str, float | None] = {}
    for key in data:
        if key.startswith("pq_"):
            pid, _, qid = key[3:].partition("_")
            out[f"{pid}:{qid}"] = form_scale(data, key)
    return out


@router.post("/checkin", response_class=HTMLResponse)
async def checkin_submit(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    data = await read_form(request, core)
    values = dict(data)
    try:
        answers: dict[str, Any] = {
            "tension": form_scale(data, "tension"),
            "energy": form_scale(data, "energy"),
            "mood": form_scale(data, "mood"),
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
                    "minutes",
                    f"expected {MIN_MINUTES:g} to {MAX_MINUTES:g} minutes or all night, "
                    f"got {answers['minutes']!r}",
                ) from None
        answers = {k: v for k, v in answers.items() if v is not None}
        extra = await run_in_threadpool(
            core.programmes.clean_answers, user, _programme_answers(data)
        )  # checked before anything is stored

        music = data.get("source") == "music"  # a playlist of the listener's own music

        def make() -> Any:
            if music:
                layer = data.get("sound_layer") == "on"
                result = core.check_in_music(user, answers, sound_layer=layer)
            else:
                result = core.check_in(user, answers)
            core.programmes.store_answers(user, extra, result[0].id)
            return result

        key = str(data.get("request_key") or "")
        if not key:  # a form from before keys existed: made as asked
            _, rec, _ = await run_in_threadpool(make)
            plan_id = rec.id
        else:
            plan_id = await _checkin_once(core, user, key, make)
    except ParameterError as exc:
        programmes = await run_in_threadpool(core.programmes.active_programmes, user)
        music_ok = await run_in_threadpool(music_ready, core, user.id)
        ctx = {"values": values, "error": exc, "programme_questions": programmes}
        return render(request, "checkin.html", {**ctx, "music_ok": music_ok}, status=422)
    if music:
        playlist_id = await run_in_threadpool(playlist_of_plan, core, user.id, plan_id)
        if playlist_id is not None:
            return redirect(f"/library/playlists/{playlist_id}")
    return redirect(f"/plan/{plan_id}")


#: Longest a repeated form waits for the first submission's check-in, in seconds.
_REPEAT_WAIT_S = 30.0


async def _checkin_once(core: Core, user: UserRecord, key: str, make: Callable[[], Any]) -> str:
    """Make the check-in of a form once per ``request_key``; return its plan id.

    The same key as the API's ``Idempotency-Key`` (:func:`sonora.web.mixes_api.checkin_once`):
    a repeat of a form already answered returns the first plan; a repeat that arrives while
    the first is still being made waits for it (at most :data:`_REPEAT_WAIT_S`).
    """
    waited_s = 0.0
    while True:
        try:
            _, _, plan_id = await run_in_threadpool(checkin_once, core, user, key, make)
            return plan_id
        except HTTPException as exc:
            if exc.status_code == 422:
                raise ParameterError(
                    "request_key", "expected 8 to 64 letters, digits, '-' or '_'"
                ) from None
            if exc.status_code != 409 or waited_s >= _REPEAT_WAIT_S:
                raise
        await asyncio.sleep(0.25)
        waited_s += 0.25


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
async def plan_page(
    request: Request,
    plan_id: str,
    user: PageUser,
    core: CoreDep,
) -> Response:
    ctx = await _plan_ctx(core, user, plan_id)
    return render(request, "plan.html", {**ctx, "error": None})


@router.post("/plan/{plan_id}", response_class=HTMLResponse)
async def plan_edit(
    request: Request,
    plan_id: str,
    user: PageUser,
    core: CoreDep,
) -> Response:
    data = await read_form(request, core)
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
                raise ParameterError(
                    "minutes", f"choose a length from {MIN_MINUTES:g} to {MAX_MINUTES:g} minutes"
                ) from None
            await run_in_threadpool(lambda: core.edit_plan(user, plan_id, minutes=minutes))
        else:
            raise ParameterError("action", "choose Swap or Change length")
    except ParameterError as exc:
        ctx = await _plan_ctx(core, user, plan_id)
        return render(request, "plan.html", {**ctx, "error": exc}, status=422)
    return redirect(f"/plan/{plan_id}")


# -- player ----------------------------------------------------------------------------
@router.get("/play/{plan_id}", response_class=HTMLResponse)
async def player(
    request: Request,
    plan_id: str,
    user: PageUser,
    core: CoreDep,
) -> Response:
    ctx = await _plan_ctx(core, user, plan_id)
    plan = ctx["plan"]
    pacer = plan.pacer or {}
    ctx["breaths"] = {
        "start": pacer.get("breaths_start", 6.0),
        "end": pacer.get("breaths_end", 6.0),
        "ramp_s": pacer.get("ramp_s", 0.0),
    }
    return render(request, "player.html", ctx)


# -- after -----------------------------------------------------------------------------
@router.get("/after/{plan_id}", response_class=HTMLResponse)
async def after_page(
    request: Request,
    plan_id: str,
    user: PageUser,
    core: CoreDep,
) -> Response:
    ctx = await _plan_ctx(core, user, plan_id)
    before = ctx["checkin"].data
    values = {
        k: before.get(k) if before.get(k) is not None else 5 for k in ("tension", "energy", "mood")
    }
    values.update({"rating": 5, "ending": "finished"})
    return render(request, "after.html", {**ctx, "values": values, "error": None})


@router.post("/after/{plan_id}", response_class=HTMLResponse)
async def after_submit(
    request: Request,
    plan_id: str,
    user: PageUser,
    core: CoreDep,
) -> Response:
    data = await read_form(request, core)
    ending = data.get("ending", "finished")
    try:
        if ending not in ("finished", "stopped", "asleep"):
            raise ParameterError("ending", "choose finished, stopped early or fell asleep")
        answers = {
            "tension": form_scale(data, "tension"),
            "energy": form_scale(data, "energy"),
            "mood": form_scale(data, "mood"),
            "rating": form_scale(data, "rating"),
            "completed": ending != "stopped",
            "fell_asleep": ending == "asleep",
        }
        answers = {k: v for k, v in answers.items() if v is not None}
        await run_in_threadpool(core.check_out, user, plan_id, answers)
    except AuthError as exc:  # already checked out (409): the first answers stand
        ctx = await _plan_ctx(core, user, plan_id)
        error = ParameterError(exc.field, f"{exc.message}; your first answers stand")
        return render(request, "after.html", {**ctx, "values": data, "error": error}, status=409)
    except ParameterError as exc:
        ctx = await _plan_ctx(core, user, plan_id)
        return render(request, "after.html", {**ctx, "values": data, "error": exc}, status=422)
    return redirect(f"/history?done={quote(plan_id)}")


# -- history ---------------------------------------------------------------------------
@router.get("/history", response_class=HTMLResponse)
async def history_page(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    view = await run_in_threadpool(core.history, user)
    profile = await run_in_threadpool(core.profile, user)
    sessions = list(view.sessions)
    return render(
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
            "zone": viewer_zone(request),
        },
    )


@router.get("/about", response_class=HTMLResponse)
async def about(request: Request, user: MaybeUser) -> Response:
    return render(request, "about.html")
