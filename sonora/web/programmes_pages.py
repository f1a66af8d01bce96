"""Pages of therapist-guided programmes (issue #17): sharing, clients, programmes.

* ``/sharing`` — the listener: whom they may share with (a confirmed consult), what
  they share, a revoke button, the access log, and their programmes.
  ``POST /sharing/{therapist_id}`` sets the scope; ``POST /sharing/{therapist_id}/revoke``
  ends it at once.
* ``/therapists/me/clients`` — the therapist's clients who share with them;
  ``/therapists/me/clients/{share_id}`` one client (logged), with the programme form;
  ``POST /therapists/me/clients/{share_id}/programmes`` writes a programme.
* ``/programmes/{id}`` — a programme with its progress and charts, for its listener
  ("from your music therapist", with their reminders) or its therapist within the
  shared scope (logged); ``/programmes/{id}/report.csv`` and ``report.pdf``.

Anything not the viewer's is 404, like something that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.plan.recipes import FAMILIES
from sonora.programmes import report
from sonora.programmes.report import (
    NOT_MONITORED,
    PDF_HOW_TO,
    PdfUnavailable,
    report_csv,
    report_pdf,
)
from sonora.programmes.spec import DOMAINS, LISTEN_KINDS, MAX_GOALS, MAX_QUESTIONS
from sonora.scenes import builtin_names
from sonora.store import NotFound
from sonora.web.deps import CoreDep, PageUser
from sonora.web.localtime import viewer_zone
from sonora.web.programme_charts import adherence_chart, answers_chart, sound_chart
from sonora.web.rendering import read_form, redirect, render

__all__ = ["report_response", "router"]

router = APIRouter(include_in_schema=False)

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SCOPE_LABELS = {
    "numbers": "Check-in and check-out numbers (tension, energy, mood, rating)",
    "history": "Session history (when, which sounds, how long, finished or not)",
    "notes": "Notes you write when you check in",
}


def template_globals() -> dict[str, Any]:
    """What the programme templates use (added by :func:`sonora.web.rendering.build_templates`)."""
    return {
        "DOMAINS": DOMAINS,
        "LISTEN_KINDS": LISTEN_KINDS,
        "SCOPE_LABELS": SCOPE_LABELS,
        "WEEKDAY_NAMES": WEEKDAY_NAMES,
        "NOT_MONITORED": NOT_MONITORED,
        "pdf_available": lambda: report.pdf_available(),  # looked up when drawn
        "PDF_HOW_TO": PDF_HOW_TO,
        "adherence_chart": adherence_chart,
        "answers_chart": answers_chart,
        "sound_chart": sound_chart,
    }


TEMPLATE_FILTERS: dict[str, Any] = {}


# -- the listener ----------------------------------------------------------------------
async def _sharing_ctx(core: Core, user: UserRecord) -> dict[str, Any]:
    svc = core.programmes
    now = svc.clock()
    shares = await run_in_threadpool(svc.shares, user)
    by_t = {s.therapist.id: s for s in shares}
    consulted = await run_in_threadpool(svc.consulted, user)
    return {
        "now": now,
        "shares": shares,
        "by_t": by_t,
        "consulted": consulted,
        "consulted_ids": {t.id for t, _ in consulted},
        "log": await run_in_threadpool(svc.access_log, user),
        "programmes": await run_in_threadpool(svc.programmes, user),
    }


@router.get("/sharing", response_class=HTMLResponse)
async def sharing_page(request: Request, user: PageUser, core: CoreDep) -> Response:
    ctx = await _sharing_ctx(core, user)
    return render(
        request,
        "programmes/sharing.html",
        {**ctx, "error": None, "msg": request.query_params.get("msg")},
    )


@router.post("/sharing/{therapist_id}", response_class=HTMLResponse)
async def share_submit(
    request: Request, therapist_id: str, user: PageUser, core: CoreDep
) -> Response:
    data = await read_form(request, core)
    scope = {k: data.get(k) for k in ("numbers", "history", "notes")}
    try:
        await run_in_threadpool(core.programmes.set_share, user, therapist_id, scope)
    except ParameterError as exc:
        ctx = await _sharing_ctx(core, user)
        return render(
            request, "programmes/sharing.html", {**ctx, "error": exc, "msg": None}, status=422
        )
    return redirect("/sharing?msg=shared")


@router.post("/sharing/{therapist_id}/revoke", response_class=HTMLResponse)
async def revoke_submit(
    request: Request, therapist_id: str, user: PageUser, core: CoreDep
) -> Response:
    await read_form(request, core)
    await run_in_threadpool(core.programmes.revoke, user, therapist_id)
    return redirect("/sharing?msg=revoked")


@router.post("/programmes/{programme_id}/reminders", response_class=HTMLResponse)
async def reminders_submit(
    request: Request, programme_id: str, user: PageUser, core: CoreDep
) -> Response:
    data = await read_form(request, core)
    try:
        await run_in_threadpool(core.programmes.set_reminders, user, programme_id, data)
    except ParameterError as exc:
        return await _programme_page(request, core, user, programme_id, error=exc, status=422)
    return redirect(f"/programmes/{programme_id}?msg=reminders")


# -- the therapist ---------------------------------------------------------------------
@router.get("/therapists/me/clients", response_class=HTMLResponse)
async def clients_page(request: Request, user: PageUser, core: CoreDep) -> Response:
    clients = await run_in_threadpool(core.programmes.clients, user)
    return render(request, "programmes/clients.html", {"clients": clients})


def _form_defaults(today: dt.date) -> dict[str, Any]:
    return {
        "title": "Listening between sessions",
        "sessions_per_week": 5,
        "minutes_min": 15,
        "minutes_max": 20,
        "listen_kind": "sonora_chooses",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=13)).isoformat(),
    }


async def _client_page(
    request: Request,
    core: Core,
    user: UserRecord,
    share_id: str,
    *,
    values: dict[str, Any] | None = None,
    error: Any = None,
    status: int = 200,
) -> Response:
    share, progs, latest = await run_in_threadpool(core.programmes.client, user, share_id)
    values = values or _form_defaults(core.programmes.clock().date())
    return render(
        request,
        "programmes/client.html",
        {
            "share": share,
            "programmes": progs,
            "pr": latest,
            "values": values,
            "error": error,
            "SCENES": builtin_names(),
            "FAMILIES": FAMILIES,
            "goal_rows": range(3 if MAX_GOALS >= 3 else MAX_GOALS),
            "question_rows": range(2 if MAX_QUESTIONS >= 2 else MAX_QUESTIONS),
        },
        status=status,
    )


@router.get("/therapists/me/clients/{share_id}", response_class=HTMLResponse)
async def client_page(request: Request, share_id: str, user: PageUser, core: CoreDep) -> Response:
    return await _client_page(request, core, user, share_id)


@router.post("/therapists/me/clients/{share_id}/programmes", response_class=HTMLResponse)
async def programme_submit(
    request: Request, share_id: str, user: PageUser, core: CoreDep
) -> Response:
    data = await read_form(request, core)
    try:
        p = await run_in_threadpool(core.programmes.create_programme, user, share_id, data)
    except ParameterError as exc:
        return await _client_page(request, core, user, share_id, values=data, error=exc, status=422)
    return redirect(f"/programmes/{p.id}?msg=created")


# -- either ----------------------------------------------------------------------------
async def _programme_page(
    request: Request,
    core: Core,
    user: UserRecord,
    programme_id: str,
    *,
    error: Any = None,
    status: int = 200,
) -> Response:
    viewer, p, pr = await run_in_threadpool(
        lambda: core.programmes.open(user, programme_id, what="programme progress")
    )
    return render(
        request,
        "programmes/programme.html",
        {
            "viewer": viewer,
            "p": p,
            "pr": pr,
            "error": error,
            "msg": request.query_params.get("msg"),
        },
        status=status,
    )


@router.get("/programmes/{programme_id}", response_class=HTMLResponse)
async def programme_page(
    request: Request, programme_id: str, user: PageUser, core: CoreDep
) -> Response:
    return await _programme_page(request, core, user, programme_id)


async def report_response(
    core: Core, user: UserRecord | None, programme_id: str, fmt: str, zone: str | None = None
) -> Response:
    """The CSV or PDF report of a programme for its listener or therapist (logged); the
    PDF's times in ``zone`` (the reader's, :func:`sonora.web.localtime.viewer_zone`)."""
    if fmt not in ("csv", "pdf"):
        raise NotFound("report", fmt)
    viewer, p, pr = await run_in_threadpool(
        lambda: core.programmes.open(user, programme_id, what=f"report ({fmt.upper()})")
    )
    name = f"sonora-programme-{p.start_date.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if fmt == "csv":
        return Response(report_csv(pr), media_type="text/csv; charset=utf-8", headers=headers)
    try:
        pdf = await run_in_threadpool(lambda: report_pdf(pr, viewer=viewer, zone=zone or "UTC"))
    except PdfUnavailable as exc:  # the optional `pdf` extra is not installed
        return Response(
            str(exc),
            status_code=501,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/programmes/{programme_id}/report.{fmt}")
async def report_download(
    request: Request, programme_id: str, fmt: str, user: PageUser, core: CoreDep
) -> Response:
    return await report_response(core, user, programme_id, fmt, viewer_zone(request))
