"""Web routes for bookings held by email confirmation, and therapists' address blocks.

See :mod:`sonora.therapists.holds`.  The booker of a pending booking is told to check
their email and is never shown the booking's link; the link in that email opens
``/bookings/{token}/confirm``, a page whose button (a POST, so mail scanners that
fetch links confirm nothing) takes the slot.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.errors import ParameterError
from sonora.therapists import holds
from sonora.therapists.records import BookingRecord, TherapistRecord
from sonora.therapists.service import SlotUnavailable, Therapists
from sonora.web.deps import CoreDep, MaybeUser, UserDep, api_csrf
from sonora.web.rendering import read_form, render

__all__ = ["api_router", "pending_json", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["therapists"], dependencies=[Depends(api_csrf)])


class BlockIn(BaseModel):
    """An email address to block."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)


def pending_json(svc: Therapists, b: BookingRecord, t: TherapistRecord) -> Response:
    """``202``: the booking waits for its email address (no link for the booker)."""
    from fastapi.responses import JSONResponse

    minutes = svc.settings.booking_confirm_minutes
    return JSONResponse(
        {
            "status": "pending",
            "therapist": {"id": t.id, "name": t.display_name, "demo": t.is_demo},
            "start": b.starts_at.isoformat(),
            "email": b.email,
            "detail": f"check {b.email}: confirm within {minutes:g} minutes through the link "
            "we sent, and the time is yours",
        },
        status_code=202,
    )


def _svc(core: Any) -> Therapists:
    return core.therapists


@router.get("/bookings/{token}/confirm")
async def confirm_page(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    if b.status == "booked":
        return RedirectResponse(f"/bookings/{token}", status_code=303)
    return render(request, "therapists/confirm.html", {"b": b, "t": t, "token": token})


@router.post("/bookings/{token}/confirm")
async def confirm_submit(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    await read_form(request, core)  # CSRF
    b, t = await run_in_threadpool(svc.booking, token)
    try:
        await run_in_threadpool(holds.confirm, svc, token)
    except (ParameterError, SlotUnavailable) as exc:
        return render(
            request,
            "therapists/confirm.html",
            {"b": b, "t": t, "token": token, "error": exc},
            status=409 if isinstance(exc, SlotUnavailable) else 422,
        )
    return RedirectResponse(f"/bookings/{token}?new=1", status_code=303)


@api_router.post("/bookings/{token}/confirm", summary="Confirm a booking (link from the email)")
async def api_confirm(token: str, core: CoreDep) -> Any:
    from sonora.web.therapists_common import booking_json, taken_response

    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    try:
        rec = await run_in_threadpool(holds.confirm, svc, token)
    except SlotUnavailable as exc:
        return taken_response(exc, b.listener_tz)
    return booking_json(svc, rec, t)


@api_router.get("/therapists/me/blocks", summary="Addresses you take no bookings from")
async def api_blocks(user: UserDep, core: CoreDep) -> dict[str, Any]:
    svc = _svc(core)
    t = await run_in_threadpool(svc._mine, user)
    return {"blocked": await run_in_threadpool(holds.blocked, svc, t)}


@api_router.post("/therapists/me/blocks", status_code=201, summary="Block an email address")
async def api_block(body: BlockIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    svc = _svc(core)
    t = await run_in_threadpool(svc._mine, user)
    addr = await run_in_threadpool(holds.block, svc, t, body.email)
    return {"blocked": addr}


@api_router.delete("/therapists/me/blocks", summary="Lift a block (?email=)")
async def api_unblock(email: str, user: UserDep, core: CoreDep) -> dict[str, Any]:
    svc = _svc(core)
    t = await run_in_threadpool(svc._mine, user)
    await run_in_threadpool(holds.unblock, svc, t, email)
    return {"unblocked": email.strip().lower()}
