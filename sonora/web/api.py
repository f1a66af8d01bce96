"""The JSON API: everything the pages do, described by OpenAPI at ``/openapi.json``.

Every route that touches a listener's data needs the ``sonora_session`` cookie and
acts only on that listener's rows (someone else's plan is a 404, as if it did not
exist).  Invalid input gets a 4xx whose ``detail`` starts with the field name and
whose ``field`` names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.core.planner import FAMILY_LABELS, SENSITIVITY_LABELS
from sonora.plan import FAMILIES, GOALS, OUTPUTS, PLACES, SENSITIVITIES
from sonora.web.deps import (
    CoreDep,
    MaybeUser,
    UserDep,
    api_csrf,
    clear_session,
    remember_session,
    run_as_user,
    switch_session,
)
from sonora.web.jsonout import json_response
from sonora.web.limits import RateLimited, too_many_response
from sonora.web.localtime import local_iso, viewer_zone
from sonora.web.rendering import export_download
from sonora.web.schemas import (
    CheckInOut,
    CheckInResult,
    DeletedOut,
    GainsOut,
    HealthOut,
    HistoryOut,
    OkOut,
    OptionsOut,
    OutcomeOut,
    PlanOut,
    ProfileOut,
    UserOut,
)
from sonora.web.security import SESSION_COOKIE
from sonora.web.stream import ENDLESS_S, AudioStreamResponse

__all__ = ["router"]

router = APIRouter(prefix="/api", dependencies=[Depends(api_csrf)])

Scale = Annotated[float | None, Field(ge=0, le=10, description="0 (none / very low) to 10")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_In):
    """Email and password."""

    email: str = Field(max_length=320, examples=["sam@example.org"])
    password: str = Field(max_length=1024)


class ProfileIn(_In):
    """Onboarding answers; send only what changes."""

    loved: list[Literal[FAMILIES]] | None = None  # type: ignore[valid-type]
    disliked: list[Literal[FAMILIES]] | None = None  # type: ignore[valid-type]
    sensitivities: list[Literal[SENSITIVITIES]] | None = None  # type: ignore[valid-type]
    breath_pacer: bool | None = None
    default_goal: Literal[GOALS] | None = None  # type: ignore[valid-type]
    output: Literal[OUTPUTS] | None = None  # type: ignore[valid-type]
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(
        default=None,
        max_length=40,
        description="Where help lines differ within the country, e.g. GB-NIR (ENG, SCT, WLS, "
        "NIR for GB); '' for none.",
    )
    quiet_rest: bool | None = Field(
        default=None, description="Compare sound with quiet rest: some sessions are silent."
    )
    listening_level_dba: float | None = Field(
        default=None,
        ge=40,
        le=110,
        description="How loud Sonora's reference sound seems on your device, dBA (40 to "
        "110); used for the weekly safe-listening dose.",
    )


class CheckInIn(_In):
    """How you are before a session (at least one of tension, energy, mood)."""

    tension: Scale = None
    energy: Scale = None
    mood: Scale = None
    goal: Literal[GOALS] | None = None  # type: ignore[valid-type]
    minutes: float | Literal["all night"] = Field(default=20.0, description="5 to 720")
    place: Literal[PLACES] = "sitting"  # type: ignore[valid-type]
    output: Literal[OUTPUTS] | None = None  # type: ignore[valid-type]
    local_time: str | None = Field(default=None, examples=["22:30"])
    note: str = Field(default="", max_length=2000)


class CheckOutIn(_In):
    """How you are after a session."""

    tension: Scale = None
    energy: Scale = None
    mood: Scale = None
    rating: Scale = Field(default=None, description="How helpful, 0 to 10")
    completed: bool = True
    fell_asleep: bool = False


class CheckOutEdit(_In):
    """Change some answers of your check-out: only the fields sent change."""

    tension: Scale = None
    energy: Scale = None
    mood: Scale = None
    rating: Scale = Field(default=None, description="How helpful, 0 to 10")
    completed: bool | None = None
    fell_asleep: bool | None = None


class Swap(_In):
    """Replace one layer by another sound family."""

    layer: int = Field(ge=0, le=11)
    family: Literal[FAMILIES]  # type: ignore[valid-type]


class PlanEdit(_In):
    """Changes before starting: swap a layer, change the length, or both."""

    swap: Swap | None = None
    minutes: float | None = Field(default=None, ge=5, le=720)


class Gains(_In):
    """Live mixer: one linear gain per layer, 0 (off) to 2 (+6 dB)."""

    gains: list[Annotated[float, Field(ge=0, le=2)]] = Field(max_length=12)


def _user_json(user: UserRecord) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "is_guest": user.is_guest}


def _plan_json(
    core: Core, user: UserRecord, rec: Any, plan: Any, profile: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": rec.id,
        "checkin_id": rec.checkin_id,
        "created_at": rec.created_at.isoformat(),
        "plan": rec.plan,
        "layers": [
            {
                "index": i,
                "family": layer.family,
                "label": FAMILY_LABELS[layer.family],
                "role": layer.role,
                "gain": (rec.gains or [1.0] * len(plan.plan_layers))[i],
            }
            for i, layer in enumerate(plan.plan_layers)
        ],
        "swap_choices": core.swap_choices(user, plan, profile),
        "ready": rec.calibration is not None,
        "stream_url": None if plan.quiet_rest else f"/api/plans/{rec.id}/stream",
    }


_ID = re.compile(r"^[0-9a-f]{32}$")


def _check_id(value: str, name: str) -> str:
    if not _ID.match(value):
        raise HTTPException(status_code=404, detail=f"{name} not found")
    return value


# -- accounts --------------------------------------------------------------------------
@router.post("/guest", status_code=201, tags=["account"], response_model=UserOut)
async def start_guest(
    request: Request,
    response: Response,
    core: CoreDep,
    user: MaybeUser,
) -> dict[str, Any]:
    """Try Sonora without an account: a guest profile tied to a cookie."""
    if user is not None:
        response.status_code = 200
        return _user_json(user)
    user, token = await run_in_threadpool(core.start_guest)
    remember_session(response, request, core, token)
    return _user_json(user)


async def _enter(
    enter: Callable[[], tuple[UserRecord, str]], request: Request, response: Response, core: Core
) -> dict[str, Any]:
    """Run ``enter`` (``core.sign_up``, ``log_in`` or ``confirm_sign_up`` with its
    arguments) in a thread and switch this browser to the session it opens."""
    entered, token = await run_in_threadpool(enter)
    await switch_session(response, request, core, token)
    return _user_json(entered)


@router.post("/signup", status_code=201, tags=["account"], response_model=UserOut)
async def sign_up(
    body: Credentials,
    request: Request,
    response: Response,
    core: CoreDep,
    user: MaybeUser,
) -> dict[str, Any]:
    """Create an account with email and password; a guest keeps everything.

    When this server sends email (``SONORA_SIGNUP_CONFIRMATION``), the answer is
    ``202`` for every address and the address gets a link (finish with
    ``POST /api/signup/confirm``), or a note that it already has an account.
    """
    if not core.settings.signup_confirms:
        return await _enter(
            partial(core.sign_up, user, body.email, body.password), request, response, core
        )
    from sonora.core.signup import SENT_MESSAGE

    guest = await run_in_threadpool(core.request_sign_up, user, body.email, body.password)
    if user is None:  # a new guest holds the sign-up (and anything done before the link)
        token = await run_in_threadpool(
            core.accounts.issue_token, guest.id, days=core.settings.session_days
        )
        remember_session(response, request, core, token)
    response.status_code = 202
    return {**_user_json(guest), "confirm": True, "detail": SENT_MESSAGE}


class SignupConfirm(_In):
    """The token from the emailed link and the password chosen at sign-up."""

    token: str = Field(max_length=1024)
    password: str = Field(max_length=1024)


@router.post("/signup/confirm", tags=["account"], response_model=UserOut)
async def confirm_sign_up(
    body: SignupConfirm,
    request: Request,
    response: Response,
    core: CoreDep,
    user: MaybeUser,
) -> dict[str, Any]:
    """Finish a sign-up from its emailed link (the password again); signs this browser in."""
    return await _enter(
        partial(core.confirm_sign_up, user, body.token, body.password), request, response, core
    )


@router.post("/login", tags=["account"], response_model=UserOut)
async def log_in(
    body: Credentials,
    request: Request,
    response: Response,
    core: CoreDep,
    user: MaybeUser,
) -> dict[str, Any]:
    """Log in; sessions made as a guest in this browser move into the account."""
    return await _enter(
        partial(core.log_in, user, body.email, body.password), request, response, core
    )


@router.post("/logout", tags=["account"], response_model=OkOut)
async def log_out(
    request: Request,
    response: Response,
    core: CoreDep,
    user: UserDep,
) -> dict[str, Any]:
    """Log out of this browser."""
    await run_in_threadpool(core.log_out, request.cookies.get(SESSION_COOKIE))
    clear_session(response, request, core)
    return {"ok": True}


@router.get("/me", tags=["account"], response_model=UserOut)
def me(user: UserDep) -> dict[str, Any]:
    """Who you are signed in as."""
    return _user_json(user)


@router.get("/export", tags=["account"])
def export(user: UserDep, core: CoreDep) -> Response:
    """Export my data: one JSON file of everything Sonora keeps about you."""
    return export_download(core.export(user))


@router.delete("/account", tags=["account"], response_model=DeletedOut)
def delete_account(
    request: Request,
    response: Response,
    user: UserDep,
    core: CoreDep,
) -> dict[str, Any]:
    """Delete my account: everything of yours is removed, at once."""
    counts = core.delete_account(user)
    clear_session(response, request, core)
    return {"deleted": counts}


# -- profile ---------------------------------------------------------------------------
@router.get("/options", tags=["profile"], response_model=OptionsOut)
def options() -> dict[str, Any]:
    """Choices for onboarding and check-ins (no sign-in needed)."""
    return {
        "families": [{"id": f, "label": FAMILY_LABELS[f]} for f in FAMILIES],
        "sensitivities": [{"id": s, "label": SENSITIVITY_LABELS[s]} for s in SENSITIVITIES],
        "goals": list(GOALS),
        "places": list(PLACES),
        "outputs": list(OUTPUTS),
    }


@router.get("/profile", tags=["profile"], response_model=ProfileOut)
def get_profile(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Your onboarding answers and preferences."""
    return core.profile(user)


@router.put("/profile", tags=["profile"], response_model=ProfileOut)
def put_profile(body: ProfileIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Save onboarding answers (only the fields sent change)."""
    return core.save_profile(user, body.model_dump(exclude_none=True))


# -- check-in, plan, stream, outcome ---------------------------------------------------
@router.post("/checkins", status_code=201, tags=["session"], response_model=CheckInResult)
async def create_checkin(
    body: CheckInIn,
    request: Request,
    core: CoreDep,
    idempotency_key: Annotated[
        str | None,
        Header(description="Send once: a repeat with the same key returns the first result (200)"),
    ] = None,
) -> Any:
    """Check in; returns the plan made for you (and help to reach, if your note
    suggests you need more than sound)."""

    # async with one explicit hop for the listener, the rate-limit counts and the
    # check-in itself: a plain ``def`` route would also have FastAPI validate the
    # response in the thread pool, and the listener and the limits were a hop each
    # (issue #15)
    def work(user: UserRecord) -> Response:
        # read once, with the user (user_for_token): the plan and its swap choices share it
        profile = core.profile(user, prefetched=True)
        if idempotency_key is not None:  # an offline queue's retry-safe send
            from sonora.web.mixes_api import checkin_once

            created, cid, pid = checkin_once(
                core,
                user,
                idempotency_key,
                lambda: core.check_in(user, body.model_dump(exclude_none=True), profile),
            )
            c, (rec, plan) = core.store.get_checkin(user.id, cid), core.plan(user, pid)
            status = 201 if created else 200
        else:
            c, rec, plan = core.check_in(user, body.model_dump(exclude_none=True), profile)
            status = 201
        out = {
            "checkin": {"id": c.id, "created_at": c.created_at.isoformat(), "answers": c.data},
            "care": c.care,
            "plan": _plan_json(core, user, rec, plan, profile),
        }
        return json_response(out, status)

    try:
        return await run_as_user(request, core, work)
    except RateLimited as exc:
        return too_many_response(request, exc)


@router.get("/checkins/{checkin_id}", tags=["session"], response_model=CheckInOut)
def get_checkin(checkin_id: str, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """One of your check-ins."""
    c = core.store.get_checkin(user.id, _check_id(checkin_id, "check-in"))
    return {"id": c.id, "created_at": c.created_at.isoformat(), "answers": c.data, "care": c.care}


@router.get("/plans/{plan_id}", tags=["session"], response_model=PlanOut)
def get_plan(plan_id: str, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """One of your plans: what will play and why."""
    rec, plan = core.plan(user, _check_id(plan_id, "plan"))
    return _plan_json(core, user, rec, plan)


@router.patch("/plans/{plan_id}", tags=["session"], response_model=PlanOut)
def edit_plan(
    plan_id: str,
    body: PlanEdit,
    user: UserDep,
    core: CoreDep,
) -> dict[str, Any]:
    """Swap a layer or change the length before starting."""
    swap = None if body.swap is None else (body.swap.layer, body.swap.family)
    rec, plan = core.edit_plan(user, _check_id(plan_id, "plan"), swap=swap, minutes=body.minutes)
    return _plan_json(core, user, rec, plan)


@router.put("/plans/{plan_id}/gains", tags=["session"], response_model=GainsOut)
def set_gains(
    plan_id: str,
    body: Gains,
    user: UserDep,
    core: CoreDep,
) -> dict[str, Any]:
    """Live mixer: set each layer's volume; playing streams change within seconds."""
    return {"gains": core.set_gains(user, _check_id(plan_id, "plan"), body.gains)}


async def _stream(
    request: Request,
    plan_id: str,
    fmt: str,
    offset_s: float,
    user: UserRecord,
    core: Core,
    *,
    endless: bool = False,
) -> Response:
    rec, plan = await run_in_threadpool(core.plan, user, _check_id(plan_id, "plan"))
    if plan.quiet_rest:
        raise HTTPException(status_code=409, detail="plan: a quiet-rest session has no sound")
    end_s = ENDLESS_S if endless else plan.duration_s
    if offset_s >= end_s:
        raise HTTPException(
            status_code=422,
            detail=f"offset_s: {offset_s:g} is past the end; allowed 0 to {end_s:g}",
        )
    if core.hub.active_count() >= core.settings.max_streams:
        raise HTTPException(
            status_code=503,
            detail="stream: too many listeners right now; try again shortly",
            headers={"Retry-After": "5"},
        )
    return AudioStreamResponse(
        core,
        user_id=user.id,
        record=rec,
        plan=plan,
        fmt=fmt,
        offset_s=offset_s,
        limiter=request.app.state.render_limiter,
        endless=endless,
    )


@router.get(
    "/plans/{plan_id}/stream",
    tags=["session"],
    response_class=Response,
    responses={
        200: {
            "content": {"audio/ogg": {}, "audio/mpeg": {}},
            "description": "Audio, sent while it renders",
        }
    },
)
async def stream(
    request: Request,
    plan_id: str,
    user: UserDep,
    core: CoreDep,
    format: Annotated[Literal["opus", "mp3"], Query(description="Ogg Opus or MP3")] = "opus",
    offset_s: Annotated[
        float, Query(ge=0.0, description="Start (or resume) this far in, seconds")
    ] = 0.0,
    endless: Annotated[
        bool,
        Query(
            description="Sleep: after the plan's end, keep its final sound going "
            "(up to 12 hours in all) until the listener stops it"
        ),
    ] = False,
) -> Response:
    """Listen: the session's audio, rendered live and paced to real time."""
    return await _stream(request, plan_id, format, offset_s, user, core, endless=endless)


@router.get(
    "/plans/{plan_id}/download",
    tags=["session"],
    response_class=Response,
    responses={
        200: {
            "content": {"audio/ogg": {}, "audio/mpeg": {}},
            "description": "The whole session as a file",
        },
        503: {"description": "Still being prepared: try again after Retry-After seconds"},
    },
)
async def download(
    request: Request,
    plan_id: str,
    user: UserDep,
    core: CoreDep,
    format: Annotated[Literal["opus", "mp3"], Query(description="Ogg Opus or MP3")] = "opus",
) -> Response:
    """Download the whole session as an audio file: rendered on the job queue, sent once
    ready (``Range`` supported); see ``POST /api/plans/{plan_id}/downloads`` for the
    flow with progress."""
    from sonora.web.downloads_api import legacy_download

    return await legacy_download(request, plan_id, format, user, core)


@router.post(
    "/plans/{plan_id}/outcome", status_code=201, tags=["session"], response_model=OutcomeOut
)
def outcome(
    plan_id: str,
    body: CheckOutIn,
    user: UserDep,
    core: CoreDep,
) -> dict[str, Any]:
    """Check out: how you are after the session."""
    score = core.check_out(user, _check_id(plan_id, "plan"), body.model_dump(exclude_none=True))
    return {"plan_id": plan_id, "score": round(score, 3)}


@router.patch("/plans/{plan_id}/outcome", tags=["session"], response_model=OutcomeOut)
def edit_outcome(
    plan_id: str,
    user: UserDep,
    core: CoreDep,
    body: Annotated[CheckOutEdit | None, Body()] = None,
) -> dict[str, Any]:
    """Correct your check-out: the answers sent change, the others are kept."""
    changes = {} if body is None else body.model_dump(exclude_unset=True)
    score = core.edit_check_out(user, _check_id(plan_id, "plan"), changes)
    return {"plan_id": plan_id, "score": round(score, 3)}


@router.get("/history", tags=["session"], response_model=HistoryOut)
async def history(
    request: Request,
    core: CoreDep,
    tz: Annotated[
        str | None,
        Query(
            max_length=64,
            description="IANA zone for the sessions' times (default: the one the browser "
            "reported, else UTC); an alias such as Asia/Calcutta is read as Asia/Kolkata",
        ),
    ] = None,
) -> Response:
    """Your sessions, before and after, with what seems to help you.

    Each session's ``when`` is ISO 8601 in your zone, with its offset; ``time_zone``
    names the zone.
    """
    zone = viewer_zone(request, tz) or "UTC"

    def view(user: UserRecord) -> Response:
        data = core.history(user).to_dict()
        for s in data["sessions"]:
            s["when"] = local_iso(s["when"], zone)
        return json_response({**data, "time_zone": zone})

    return await run_as_user(request, core, view)


# -- meta ------------------------------------------------------------------------------
@router.get("/health", tags=["meta"], response_model=HealthOut)
def health(core: CoreDep) -> dict[str, Any]:
    """Liveness, and how many streams are playing."""
    return {"ok": True, "streams": core.hub.active_count()}


@router.get("/docs", tags=["meta"], response_class=HTMLResponse, include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    """The OpenAPI description as a readable page (no CDN, no script)."""
    from sonora.web.pages import render_api_docs

    return render_api_docs(request)
