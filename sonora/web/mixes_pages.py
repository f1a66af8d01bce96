"""Pages of quick starts: mixes, "again" from history, one-tap start, shared links.

All of them are plain HTML forms (each with a CSRF token) that work without
JavaScript.  A shared link ``/m/<token>`` plays the mix for anyone: a visitor
without a session becomes a guest when they press Play, and the short check-in on
that page is optional.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.web.deps import CoreDep, MaybeUser, remember_session
from sonora.web.mixes_api import _ID_RE, _id, last_answers, mix_json, mixes_of
from sonora.web.rendering import form_scale, read_form, redirect, render

__all__ = ["quick_start_ctx", "router"]

router = APIRouter(include_in_schema=False)


async def quick_start_ctx(core: Core, user: UserRecord | None) -> dict[str, Any]:
    """What the home page offers for a one-tap start: last answers and favourites."""
    if user is None:
        return {"last_answers": None, "mixes": []}
    answers = await run_in_threadpool(last_answers, core, user)
    mixes = await run_in_threadpool(mixes_of(core).list, user.id)
    return {"last_answers": answers, "mixes": [mix_json(m) for m in mixes[:6]]}


def _login_first() -> Response:
    return redirect("/")


async def _mixes_page(
    request: Request,
    core: Core,
    user: UserRecord,
    *,
    msg: str = "",
    error: ParameterError | None = None,
    status: int = 200,
) -> Response:
    """The mixes page: the listener's mixes, with a message or a form error."""
    mixes = await run_in_threadpool(mixes_of(core).list, user.id)
    return render(
        request,
        "mixes.html",
        {
            "mixes": [mix_json(m) for m in mixes],
            "base_url": str(request.base_url).rstrip("/"),
            "msg": msg,
            "error": error,
        },
        status=status,
    )


@router.get("/mixes", response_class=HTMLResponse)
async def mixes_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    if user is None:
        return _login_first()
    return await _mixes_page(request, core, user, msg=request.query_params.get("msg", ""))


@router.post("/mixes", response_class=HTMLResponse)
async def keep_mix(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    if user is None:
        return _login_first()
    data = await read_form(request, core)
    try:
        plan_id = str(data.get("plan_id", ""))
        if not _ID_RE.match(plan_id):
            raise ParameterError("plan_id", "choose one of your sessions to save as a mix")
        await run_in_threadpool(
            lambda: mixes_of(core).keep(
                user.id, plan_id, name=data.get("name"), favourite=data.get("favourite") == "on"
            )
        )
    except ParameterError as exc:
        return await _mixes_page(request, core, user, error=exc, status=422)
    return redirect("/mixes?msg=saved")


@router.post("/mixes/{mix_id}", response_class=HTMLResponse)
async def mix_action(request: Request, mix_id: str, user: MaybeUser, core: CoreDep) -> Response:
    if user is None:
        return _login_first()
    data = await read_form(request, core)
    svc = mixes_of(core)
    mix_id = _id(mix_id, "mix")
    action = str(data.get("action", ""))
    if action == "play":
        mix = await run_in_threadpool(svc.repo.get, user.id, mix_id)
        _, p = await run_in_threadpool(lambda: svc.start_mix(user.id, mix))
        return redirect(f"/play/{p.id}")
    if action in ("favourite", "unfavourite"):
        await run_in_threadpool(
            lambda: svc.update(user.id, mix_id, favourite=action == "favourite")
        )
    elif action in ("share", "unshare"):
        await run_in_threadpool(lambda: svc.update(user.id, mix_id, shared=action == "share"))
    elif action == "delete":
        await run_in_threadpool(svc.remove, user.id, mix_id)
    else:
        raise ParameterError(
            "action", "choose play, favourite, unfavourite, share, unshare or delete"
        )
    return redirect(f"/mixes?msg={action}")


@router.post("/again/{plan_id}")
async def again(request: Request, plan_id: str, user: MaybeUser, core: CoreDep) -> Response:
    if user is None:
        return _login_first()
    await read_form(request, core)
    _, p = await run_in_threadpool(mixes_of(core).again, user.id, _id(plan_id, "plan"))
    return redirect(f"/play/{p.id}")


@router.post("/quick")
async def quick(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    if user is None:
        return _login_first()
    await read_form(request, core)
    answers = await run_in_threadpool(last_answers, core, user)
    if answers is None:
        return redirect("/checkin")
    _, rec, _ = await run_in_threadpool(core.check_in, user, answers)
    return redirect(f"/play/{rec.id}")


@router.get("/m/{token}", response_class=HTMLResponse)
async def shared_mix(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    mix = await run_in_threadpool(mixes_of(core).repo.by_token, token[:64])
    return render(request, "shared_mix.html", {"mix": mix_json(mix), "token": token, "error": None})


@router.post("/m/{token}", response_class=HTMLResponse)
async def shared_mix_play(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = mixes_of(core)
    mix = await run_in_threadpool(svc.repo.by_token, token[:64])
    data = await read_form(request, core)
    try:
        answers = (
            {k: form_scale(data, k) for k in ("tension", "mood")} if data.get("checkin") else {}
        )
        fresh_token = None
        if user is None:
            user, fresh_token = await run_in_threadpool(core.start_guest)
        listener = user
        _, p = await run_in_threadpool(lambda: svc.start_mix(listener.id, mix, answers=answers))
    except ParameterError as exc:
        return render(
            request,
            "shared_mix.html",
            {"mix": mix_json(mix), "token": token, "error": exc},
            status=422,
        )
    resp = redirect(f"/play/{p.id}")
    if fresh_token is not None:
        remember_session(resp, request, core, fresh_token)
    return resp
