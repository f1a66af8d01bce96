"""JSON API of therapist-guided programmes (issue #17); the pages offer the same.

| route | who |
| --- | --- |
| ``GET /api/sharing`` | a listener: consults, shares, access log, programmes |
| ``PUT /api/sharing/{therapist_id}`` | a listener: share ``scope`` with that therapist |
| ``DELETE /api/sharing/{therapist_id}`` | a listener: stop sharing, at once |
| ``GET /api/therapists/me/clients`` | a verified therapist: who shares with them |
| ``POST /api/therapists/me/clients/{share_id}/programmes`` | that therapist: write a programme |
| ``GET /api/programmes/{id}/progress`` | its listener, or its therapist within the scope (logged) |
| ``GET /api/programmes/{id}/report.{csv,pdf}`` | the same, as a file (logged) |

Anything not the caller's is ``404``, like something that does not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.programmes.repo import ShareRecord
from sonora.web.deps import CoreDep, UserDep, api_csrf
from sonora.web.localtime import viewer_zone
from sonora.web.programmes_pages import report_response

__all__ = ["router"]

router = APIRouter(prefix="/api", dependencies=[Depends(api_csrf)], tags=["programmes"])


class ScopeIn(BaseModel):
    """What to share: some of ``numbers``, ``history``, ``notes``."""

    model_config = ConfigDict(extra="forbid")
    scope: list[str] = Field(min_length=1, max_length=3)


def _share_json(s: ShareRecord, now: Any, *, for_therapist: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "scope": list(s.scope),
        "state": s.state(now),
        "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(),
        "revoked_at": None if s.revoked_at is None else s.revoked_at.isoformat(),
    }
    if for_therapist:
        out["client_name"] = s.client_name
    else:
        out["therapist"] = {"id": s.therapist.id, "name": s.therapist.name}
    return out


@router.get("/sharing", summary="What you share, with whom, and who looked")
async def sharing(user: UserDep, core: CoreDep) -> dict[str, Any]:
    svc = core.programmes
    now = svc.clock()
    consulted = await run_in_threadpool(svc.consulted, user)
    shares = await run_in_threadpool(svc.shares, user)
    log = await run_in_threadpool(svc.access_log, user)
    progs = await run_in_threadpool(svc.programmes, user)
    return {
        "may_share_with": [{"id": t.id, "name": t.name} for t, _ in consulted],
        "shares": [_share_json(s, now) for s in shares],
        "access_log": [
            {
                "therapist_name": e.therapist_name,
                "what": e.what,
                "scope": list(e.scope),
                "at": e.created_at.isoformat(),
            }
            for e in log
        ],
        "programmes": [
            {
                "id": p.id,
                "title": p.title,
                "therapist_name": p.therapist_name,
                "start_date": p.start_date.isoformat(),
                "end_date": p.end_date.isoformat(),
            }
            for p in progs
        ],
        "monitored": False,
    }


@router.put("/sharing/{therapist_id}", summary="Share a scope with a therapist you consulted")
async def share(therapist_id: str, body: ScopeIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    svc = core.programmes
    s = await run_in_threadpool(svc.set_share, user, therapist_id, body.scope)
    return _share_json(s, svc.clock())


@router.delete("/sharing/{therapist_id}", status_code=204, summary="Stop sharing, at once")
async def revoke(therapist_id: str, user: UserDep, core: CoreDep) -> Response:
    await run_in_threadpool(core.programmes.revoke, user, therapist_id)
    return Response(status_code=204)


@router.get("/therapists/me/clients", summary="Listeners sharing with you (therapists)")
async def clients(user: UserDep, core: CoreDep) -> list[dict[str, Any]]:
    svc = core.programmes
    rows = await run_in_threadpool(svc.clients, user)
    now = svc.clock()
    return [_share_json(s, now, for_therapist=True) for s in rows]


@router.post(
    "/therapists/me/clients/{share_id}/programmes",
    status_code=201,
    summary="Write a programme for a client who shares with you",
)
async def create_programme(
    share_id: str, body: dict[str, Any], user: UserDep, core: CoreDep
) -> JSONResponse:
    p = await run_in_threadpool(core.programmes.create_programme, user, share_id, body)
    return JSONResponse(p.to_dict(), status_code=201)


@router.get("/programmes/{programme_id}/progress", summary="A programme's progress")
async def progress(programme_id: str, user: UserDep, core: CoreDep) -> dict[str, Any]:
    viewer, _, pr = await run_in_threadpool(
        lambda: core.programmes.open(user, programme_id, what="progress (API)")
    )
    return {"viewer": viewer, "monitored": False, **pr.to_dict()}


@router.get("/programmes/{programme_id}/report.{fmt}", summary="The report, CSV or PDF")
async def report(
    request: Request, programme_id: str, fmt: str, user: UserDep, core: CoreDep
) -> Response:
    """CSV (UTC, ISO 8601) or PDF (times in the reader's zone, as the pages show them)."""
    return await report_response(core, user, programme_id, fmt, viewer_zone(request))
