"""Session downloads as jobs: start, status, file (:mod:`sonora.core.downloads`).

* ``POST /api/plans/{plan_id}/downloads`` ``{"format": "opus"|"mp3"}`` starts a render
  on the job queue (or joins the listener's finished or running one of the same plan,
  mixer gains and format) and answers ``202`` with ``Location`` = the status URL
  (``200`` when the file is already there).
* ``GET /api/downloads/{id}`` says how far it is (``progress`` 0..1, ``status``).
* ``GET /api/downloads/{id}/file`` sends the finished file to its owner (``Range``
  supported, ``Content-Disposition: attachment``, ``Cache-Control: no-store``).
* The old ``GET /api/plans/{plan_id}/download?format=`` (:func:`legacy_download`) keeps
  working for existing clients: it starts or joins the same render, waits for it
  without rendering in the web process (at most ``download_wait_s``), and then sends
  the file like the file route; a render still under way by then is answered ``503``
  with ``Retry-After`` and the status URL (JSON; an HTML page that reloads itself for
  a browser that navigated there).  Why 503: it is the standard "not yet, come back
  after N seconds", every HTTP client and the service worker treat it as a failure
  (nothing half-made is saved as audio or kept offline), and no proxy caches it.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.core.audio import FORMATS
from sonora.core.downloads import DownloadLimitReached, DownloadRecord
from sonora.web.deps import CoreDep, UserDep, api_csrf, run_as_user
from sonora.web.jsonout import json_response

__all__ = ["download_json", "legacy_download", "router"]

router = APIRouter(prefix="/api", dependencies=[Depends(api_csrf)], tags=["session"])

_ID = re.compile(r"^[0-9a-f]{32}$")
#: How often a waiting request looks at its render, seconds.
POLL_S = 0.5


def _check_id(value: str, name: str) -> str:
    if not _ID.match(value):
        raise HTTPException(status_code=404, detail=f"{name} not found")
    return value


class DownloadIn(BaseModel):
    """Which file to make."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["opus", "mp3"] = Field(default="opus", description="Ogg Opus or MP3")


class DownloadOut(BaseModel):
    """A download and how far its render is."""

    id: str
    plan_id: str
    format: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="0 to 1 (1 when the file is ready)")
    size_bytes: int | None
    error: str | None
    created_at: str
    finished_at: str | None
    expires_at: str | None
    filename: str
    status_url: str
    file_url: str | None = Field(description="Set when the file is ready")


def download_json(rec: DownloadRecord) -> dict[str, Any]:
    """The API's view of a download."""
    status_url = f"/api/downloads/{rec.id}"
    return {
        "id": rec.id,
        "plan_id": rec.plan_id,
        "format": rec.format,
        "status": rec.status,
        "progress": round(rec.progress, 4),
        "size_bytes": rec.size_bytes,
        "error": rec.error,
        "created_at": rec.created_at.isoformat(),
        "finished_at": None if rec.finished_at is None else rec.finished_at.isoformat(),
        "expires_at": None if rec.expires_at is None else rec.expires_at.isoformat(),
        "filename": rec.filename,
        "status_url": status_url,
        "file_url": f"{status_url}/file" if rec.status == "done" else None,
    }


def _limit_response(exc: DownloadLimitReached) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "field": "download", "retry_after_s": exc.retry_after_s},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s), "Cache-Control": "no-store"},
    )


def _start(core: Core, user: UserRecord, plan_id: str, fmt: str) -> tuple[DownloadRecord, bool]:
    rec, plan = core.plan(user, _check_id(plan_id, "plan"))
    if plan.quiet_rest:
        raise HTTPException(status_code=409, detail="plan: a quiet-rest session has no sound")
    return core.downloads.start(user.id, rec, fmt)


def _file(core: Core, rec: DownloadRecord) -> Response:
    path = core.downloads.path(rec.id, rec.format)
    return FileResponse(
        path,
        media_type=FORMATS[rec.format][1],
        filename=rec.filename,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/plans/{plan_id}/downloads",
    status_code=202,
    response_model=DownloadOut,
    responses={200: {"model": DownloadOut, "description": "Already rendered"}},
)
async def start_download(
    plan_id: str,
    user: UserDep,
    core: CoreDep,
    body: DownloadIn | None = None,
) -> Response:
    """Prepare the whole session as a file, on the job queue; poll ``status_url``."""
    fmt = (body or DownloadIn()).format
    try:
        rec, _ = await run_in_threadpool(_start, core, user, plan_id, fmt)
    except DownloadLimitReached as exc:
        return _limit_response(exc)
    out = download_json(rec)
    return JSONResponse(
        out,
        status_code=200 if rec.status == "done" else 202,
        headers={"Location": out["status_url"], "Cache-Control": "no-store"},
    )


@router.get("/downloads", response_model=list[DownloadOut])
async def list_downloads(user: UserDep, core: CoreDep) -> list[dict[str, Any]]:
    """Your downloads, newest first (each kept ``download_ttl_h`` hours once ready)."""
    return [download_json(r) for r in await run_in_threadpool(core.downloads.list, user.id)]


@router.get("/downloads/{download_id}", response_model=DownloadOut)
async def download_status(download_id: str, request: Request, core: CoreDep) -> Response:
    """How far a download's render is."""
    _check_id(download_id, "download")

    def status(user: UserRecord) -> Response:  # the listener and the read: one hop
        rec = core.downloads.get(user.id, download_id)
        return json_response(download_json(rec), headers={"Cache-Control": "no-store"})

    return await run_as_user(request, core, status)


@router.get(
    "/downloads/{download_id}/file",
    response_class=Response,
    responses={200: {"content": {"audio/ogg": {}, "audio/mpeg": {}}, "description": "The file"}},
)
async def download_file(download_id: str, user: UserDep, core: CoreDep) -> Response:
    """The finished file (``Range`` requests supported); 409 while it renders."""
    rec = await run_in_threadpool(core.downloads.get, user.id, _check_id(download_id, "download"))
    if rec.status != "done":
        raise HTTPException(
            status_code=409,
            detail=f"download: not ready ({rec.status}, {rec.progress:.0%}); "
            f"see /api/downloads/{rec.id}",
        )
    return _file(core, rec)


async def legacy_download(
    request: Request, plan_id: str, fmt: str, user: UserRecord, core: Core
) -> Response:
    """``GET /api/plans/{plan_id}/download``: the file once rendered (see the module
    docstring); the web process only waits, it never renders."""
    try:
        rec, _ = await run_in_threadpool(_start, core, user, plan_id, fmt)
    except DownloadLimitReached as exc:
        return _limit_response(exc)
    deadline = time.monotonic() + core.settings.download_wait_s
    while rec.status in ("queued", "running") and time.monotonic() < deadline:
        if await request.is_disconnected():
            return Response(status_code=204)  # the client went away
        await anyio.sleep(POLL_S)
        rec = await run_in_threadpool(core.downloads.get, user.id, rec.id)
    if rec.status == "done":
        return _file(core, rec)
    if rec.status == "failed":
        raise HTTPException(
            status_code=500, detail=f"download: the render failed ({rec.error}); try again"
        )
    left_s = _eta_s(rec)
    out = download_json(rec)
    headers = {
        "Retry-After": str(left_s),
        "Cache-Control": "no-store",
        "Location": out["status_url"],
    }
    message = f"download: still being prepared ({rec.progress:.0%}); try again in {left_s} s"
    if "text/html" in request.headers.get("accept", ""):
        headers["Refresh"] = str(left_s)
        page = (
            "<!doctype html><meta charset=utf-8><title>Preparing your download</title>"
            f"<p>{html.escape(message.split(': ', 1)[1])}. This page tries again by itself.</p>"
        )
        return HTMLResponse(page, status_code=503, headers=headers)
    return JSONResponse(
        {**out, "detail": message, "field": "download", "retry_after_s": left_s},
        status_code=503,
        headers=headers,
    )


def _eta_s(rec: DownloadRecord) -> int:
    """Seconds until a render is likely done (from its progress so far), 5 to 120."""
    elapsed_s = max((rec.updated_at - rec.created_at).total_seconds(), 0.0)
    if rec.progress > 0.02 and elapsed_s > 0:
        left = elapsed_s * (1.0 - rec.progress) / rec.progress
        return int(min(max(left, 5.0), 120.0))
    return 30
