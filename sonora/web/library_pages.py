"""The music library pages (issue #16): folders, add, scan progress, tracks, dislikes,
playlists, and one playlist with its arc, chart and player.

Plain HTML forms with CSRF tokens; while a scan runs the page refreshes itself every
two seconds (a ``<meta http-equiv="refresh">``, so progress updates without JavaScript).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.library.service import OFF_MESSAGE, ScanLimitReached
from sonora.web.deps import CoreDep, PageUser
from sonora.web.library_api import (
    ESTIMATES_NOTE,
    folder_json,
    playlist_json,
    scan_json,
    track_json,
)
from sonora.web.rendering import read_form, redirect, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _ctx(core: Core, user_id: str) -> dict[str, Any]:
    lib = core.library
    return {
        "enabled": lib.enabled,
        "off_message": OFF_MESSAGE,
        "estimates": ESTIMATES_NOTE,
        "roots": lib.roots,
        "folders": [folder_json(f) for f in lib.folders(user_id)],
        "scan": scan_json(lib.latest_scan(user_id)),
        "tracks": [track_json(t) for t in lib.tracks(user_id)],
        "prefs": lib.prefs(user_id),
        "playlists": [playlist_json(p) for p in lib.playlists(user_id, limit=10)],
    }


def _lines(value: Any) -> list[str]:
    """Names from a textarea, one a line or separated by commas."""
    text = str(value or "")
    return [n.strip() for line in text.splitlines() for n in line.split(",") if n.strip()]


@router.get("/library", response_class=HTMLResponse)
async def library_page(request: Request, user: PageUser, core: CoreDep) -> Response:
    ctx = await run_in_threadpool(_ctx, core, user.id)
    ctx.update(msg=request.query_params.get("msg", "")[:300], error=None)
    return render(request, "library.html", ctx)


@router.post("/library/folders", response_class=HTMLResponse)
async def add_folder(request: Request, user: PageUser, core: CoreDep) -> Response:
    data = await read_form(request, core)
    try:
        await run_in_threadpool(core.library.add_folder, user.id, str(data.get("path", "")))
    except ParameterError as exc:
        ctx = await run_in_threadpool(_ctx, core, user.id)
        ctx.update(
            msg="", error=f"{exc.field}: {exc.message}", folder_path=str(data.get("path", ""))
        )
        return render(request, "library.html", ctx, status=422)
    return redirect("/library?msg=" + quote("Folder added. Scan it to see its tracks."))


@router.post("/library/scan", response_class=HTMLResponse)
async def start_scan(request: Request, user: PageUser, core: CoreDep) -> Response:
    await read_form(request, core)
    try:
        await run_in_threadpool(core.library.start_scan, user.id)
    except (ParameterError, ScanLimitReached) as exc:
        text = exc.message if isinstance(exc, ParameterError) else str(exc)
        return redirect("/library?msg=" + quote(text))
    return redirect("/library")


@router.post("/library/prefs", response_class=HTMLResponse)
async def save_prefs(request: Request, user: PageUser, core: CoreDep) -> Response:
    data = await read_form(request, core)
    try:
        await run_in_threadpool(
            lambda: core.library.set_prefs(
                user.id,
                disliked_artists=_lines(data.get("disliked_artists")),
                disliked_genres=_lines(data.get("disliked_genres")),
                voice_ok_for_sleep=data.get("voice_ok_for_sleep") == "on",
            )
        )
    except ParameterError as exc:
        ctx = await run_in_threadpool(_ctx, core, user.id)
        ctx.update(msg="", error=f"{exc.field}: {exc.message}")
        return render(request, "library.html", ctx, status=422)
    return redirect("/library?msg=" + quote("Saved: your playlists leave these out."))


@router.get("/library/playlists/{playlist_id}", response_class=HTMLResponse)
async def playlist_page(
    request: Request, playlist_id: str, user: PageUser, core: CoreDep
) -> Response:
    """The arc in words and as a chart, the tracks, the player and the exports."""

    def read() -> dict[str, Any]:
        stored = core.library.playlist(user.id, playlist_id)
        rec, plan = core.plan(user, str(stored["plan_id"]))
        checkin = core.listening.get_checkin(user.id, rec.checkin_id)
        dose = core.listening_dose(user)  # the safe-listening notes, as for sounds
        return {"p": playlist_json(stored), "plan": plan, "checkin": checkin, "dose": dose}

    return render(request, "playlist.html", await run_in_threadpool(read))
