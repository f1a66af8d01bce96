"""Pages and JSON API of the therapist directory and free-consult booking (issue #6).

Pages (plain HTML forms with a CSRF token; they work without JavaScript):

* ``/therapists`` — the directory (search by country, region, city, distance from a
  typed place, online, language, people worked with, approach; sort by distance or
  soonest free consult); ``/therapists/{id}`` — a listed profile with its free slots in
  the listener's time zone; ``/therapists/{id}/book`` — book one.
* ``/bookings/{token}`` — the booking link: confirmation, cancel, reschedule, .ics.
* ``/therapists/join``, ``/therapists/me`` (dashboard of upcoming consults, each with
  a cancel form: ``POST /therapists/me/bookings/{id}/cancel``),
  ``/therapists/me/profile``, ``/therapists/me/availability`` — for therapists.
* ``/admin/verify`` — admins check credentials against the official registers.

The JSON API (``/api/therapists…``, ``/api/bookings/{token}``) offers the same.  Every
therapist action works on the signed-in user's own profile; a booking link shows only
its booking.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.errors import ParameterError
from sonora.therapists.availability import (
    WEEKDAYS,
    check_timezone,
    format_minutes,
    group_by_local_day,
    timezones,
)
from sonora.therapists.credentials import credential_for, load_credentials
from sonora.therapists.repo import BookingRecord, TherapistRecord
from sonora.therapists.service import (
    APPROACHES,
    POPULATIONS,
    SearchResult,
    SlotUnavailable,
    Therapists,
)
from sonora.web.core import AuthError, Core
from sonora.web.deps import CoreDep, MaybeUser, api_csrf, switch_session
from sonora.web.pages import _form, _render, templates

__all__ = ["api_router", "router", "warm_up_places"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["therapists"], dependencies=[Depends(api_csrf)])

#: A sensible zone to show times in before the listener picks one (by country).
COUNTRY_ZONES = {
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "US": "America/New_York",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
}
TZ_COOKIE = "sonora_tz"

templates.env.globals.update(
    POPULATIONS=POPULATIONS,
    APPROACHES=APPROACHES,
    CREDENTIALS=load_credentials(),
    WEEKDAYS=WEEKDAYS,
    TIMEZONES=timezones(),
)
templates.env.filters["hhmm"] = format_minutes


def warm_up_places() -> None:
    """Load the offline gazetteer in the background so the first search is quick."""
    from sonora.therapists.places import warm_up

    threading.Thread(target=warm_up, name="sonora-gazetteer", daemon=True).start()


def _svc(core: Core) -> Therapists:
    return core.therapists


def _listener_tz(request: Request, core: Core, explicit: str | None = None) -> str:
    """The zone to show times in: ``?tz=``, then the remembered one, then the default."""
    for cand in (explicit, request.query_params.get("tz"), request.cookies.get(TZ_COOKIE)):
        if cand:
            try:
                check_timezone(cand, "tz")
            except ParameterError:
                if cand is explicit or cand == request.query_params.get("tz"):
                    raise
                continue
            return cand
    return COUNTRY_ZONES.get(core.settings.default_country, "UTC")


def _remember_tz(request: Request, resp: Response, tz: str) -> None:
    if request.cookies.get(TZ_COOKIE) != tz:
        resp.set_cookie(
            TZ_COOKIE, tz, max_age=365 * 86_400, path="/", httponly=True, samesite="lax"
        )


def _local(t: dt.datetime, tz: str) -> dt.datetime:
    return t.astimezone(check_timezone(tz, "tz"))


def _fmt(t: dt.datetime, tz: str) -> str:
    lt = _local(t, tz)
    return f"{lt:%a %d %b %Y, %H:%M} {lt.tzname()}"


templates.env.filters["local"] = _fmt


def _home_country(core: Core, user: UserRecord | None) -> str:
    """The listener's country (their profile, else the default) for the empty state."""
    return core.country(user) if user is not None else core.settings.default_country


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _verified(svc: Therapists, t: TherapistRecord) -> bool:
    return svc.status(t) == "verified"


def _card(svc: Therapists, t: TherapistRecord) -> dict[str, Any]:
    """What a page shows about a therapist's credential."""
    cred = credential_for(t.country)
    status = svc.status(t)
    url, prefilled = cred.register_link(t.registration_number)
    return {
        "t": t,
        "cred": cred,
        "status": status,
        "verified": status == "verified",
        "register_url": url,
        "prefilled": prefilled,
    }


# -- JSON shapes -----------------------------------------------------------------------
def _therapist_json(
    svc: Therapists,
    t: TherapistRecord,
    *,
    distance_km: float | None = None,
    next_free: dt.datetime | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    c = _card(svc, t)
    cred = c["cred"]
    return {
        "id": t.id,
        "name": t.display_name,
        "title": f"{cred.short} music therapist" if c["verified"] and not t.is_demo else None,
        "demo": t.is_demo,
        "credential": {
            "country": t.country,
            "short": cred.short,
            "name": cred.credential,
            "body": cred.body,
            "registration_number": t.registration_number if c["verified"] else None,
            "status": c["status"],
            "verified_until": t.verified_until.date().isoformat()
            if c["verified"] and t.verified_until
            else None,
            "to_confirm": cred.check,
        },
        "city": t.city,
        "region": t.region,
        "country": t.country,
        "in_person": t.in_person,
        "online": t.online,
        "languages": list(t.languages),
        "populations": list(t.populations),
        "approaches": list(t.approaches),
        "bio": t.bio,
        "timezone": t.timezone,
        "distance_km": None if distance_km is None else round(distance_km, 1),
        "next_free": None if next_free is None else next_free.isoformat(),
        "next_free_local": None
        if (next_free is None or tz is None)
        else _local(next_free, tz).isoformat(),
    }


def _booking_json(
    svc: Therapists, b: BookingRecord, t: TherapistRecord, token: str | None = None
) -> dict[str, Any]:
    out = {
        "therapist": {"id": t.id, "name": t.display_name, "demo": t.is_demo},
        "start": b.starts_at.isoformat(),
        "end": b.ends_at.isoformat(),
        "local_start": _local(b.starts_at, b.listener_tz).isoformat(),
        "listener_tz": b.listener_tz,
        "status": b.status,
        "name": b.name,
        "email": b.email,
        "reason": b.reason,
        "care": b.care,
    }
    if token is not None:
        out["manage_url"] = svc.link(token)
        out["token"] = token
    return out


# == pages ============================================================================
@router.get("/therapists", response_class=HTMLResponse)
async def directory(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    params = dict(request.query_params)
    error = None
    result: SearchResult | None = None
    try:
        tz = _listener_tz(request, core)
        q = svc.parse_query(params)
        result = await run_in_threadpool(svc.search, q)
    except ParameterError as exc:
        error = exc
        tz = _listener_tz(request, core) if "tz" not in str(exc.field) else "UTC"
    cards = []
    if result is not None:
        for h in result.hits:
            cards.append(
                {**_card(svc, h.therapist), "distance_km": h.distance_km, "next_free": h.next_free}
            )
    resp = _render(
        request,
        "therapists/directory.html",
        {
            "q": params,
            "result": result,
            "cards": cards,
            "error": error,
            "tz": tz,
            "is_therapist": bool(user and await run_in_threadpool(svc.own_profile, user)),
            "home": await run_in_threadpool(_home_country, core, user),
        },
        status=422 if error else 200,
    )
    if error is None:
        _remember_tz(request, resp, tz)
    return resp


@router.get("/therapists/join", response_class=HTMLResponse)
async def join_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    if user is not None and await run_in_threadpool(svc.own_profile, user):
        return _redirect("/therapists/me")
    return _render(request, "therapists/profile_form.html", _profile_ctx(user, {}, None, join=True))


def _profile_ctx(
    user: UserRecord | None, values: Mapping[str, Any], error: Any, *, join: bool
) -> dict[str, Any]:
    v = dict(values)
    for k in ("populations", "approaches"):
        x = v.get(k) or []
        v[k] = [x] if isinstance(x, str) else list(x)
    if isinstance(v.get("languages"), list | tuple):
        v["languages"] = ", ".join(v["languages"])
    return {
        "values": v,
        "error": error,
        "join": join,
        "needs_account": join and (user is None or user.is_guest),
    }


def _form_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for k in ("populations", "approaches"):
        x = out.get(k) or []
        out[k] = [x] if isinstance(x, str) else list(x)
    out["in_person"] = data.get("in_person") == "on"
    out["online"] = data.get("online") == "on"
    return out


@router.post("/therapists/join", response_class=HTMLResponse)
async def join_submit(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    data = await _form(request, core)
    answers = _form_profile(data)
    token = None
    try:
        svc.clean_profile(answers)  # check the profile before making an account
        if user is None or user.is_guest:
            user, token = await run_in_threadpool(
                core.sign_up, user, str(data.get("email", "")), str(data.get("password", ""))
            )
        await run_in_threadpool(svc.create_profile, user, answers)
    except (ParameterError, AuthError) as exc:
        ctx = _profile_ctx(user if token else request.state.sonora_user, answers, exc, join=True)
        return _render(
            request, "therapists/profile_form.html", ctx, status=getattr(exc, "status", 422)
        )
    resp = _redirect("/therapists/me?msg=joined")
    if token is not None:
        await switch_session(resp, request, core, token)
    return resp


async def _own(
    core: Core, user: UserRecord | None
) -> tuple[UserRecord, TherapistRecord] | RedirectResponse:
    if user is None:
        return _redirect("/therapists/join")
    t = await run_in_threadpool(_svc(core).own_profile, user)
    if t is None:
        return _redirect("/therapists/join")
    return user, t


@router.get("/therapists/me", response_class=HTMLResponse)
async def dashboard(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        return own
    return await _dashboard(request, core, own[0])


@router.post("/therapists/me/bookings/{booking_id}/cancel", response_class=HTMLResponse)
async def dashboard_cancel(
    request: Request, booking_id: str, user: MaybeUser, core: CoreDep
) -> Response:
    """The therapist cancels one of their own consults (the listener is emailed)."""
    own = await _own(core, user)
    if isinstance(own, Response):
        await _form(request, core)
        return own
    data = await _form(request, core)
    try:
        await run_in_threadpool(_svc(core).cancel_by_therapist, own[0], booking_id, data)
    except ParameterError as exc:
        return await _dashboard(request, core, own[0], exc, status=422)
    return _redirect("/therapists/me?msg=cancelled")


async def _dashboard(
    request: Request, core: Core, user: UserRecord, error: Any = None, status: int = 200
) -> Response:
    svc = _svc(core)
    t, bookings = await run_in_threadpool(svc.dashboard, user)
    rules, exceptions = await run_in_threadpool(svc.availability, t)
    nxt = await run_in_threadpool(lambda: svc.free_slots(t, limit=1))
    return _render(
        request,
        "therapists/dashboard.html",
        {
            **_card(svc, t),
            "bookings": bookings,
            "rules": rules,
            "exceptions": exceptions,
            "next_free": nxt[0] if nxt else None,
            "listed": t.listed(svc.clock()),
            "msg": request.query_params.get("msg", ""),
            "error": error,
        },
        status=status,
    )


@router.get("/therapists/me/profile", response_class=HTMLResponse)
async def profile_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        return own
    user, t = own
    values = {
        k: getattr(t, k)
        for k in (
            "display_name",
            "country",
            "registration_number",
            "region",
            "city",
            "in_person",
            "online",
            "languages",
            "populations",
            "approaches",
            "bio",
            "timezone",
        )
    }
    return _render(
        request, "therapists/profile_form.html", _profile_ctx(user, values, None, join=False)
    )


@router.post("/therapists/me/profile", response_class=HTMLResponse)
async def profile_submit(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        await _form(request, core)
        return own
    user, _ = own
    data = await _form(request, core)
    answers = _form_profile(data)
    try:
        await run_in_threadpool(_svc(core).update_profile, user, answers)
    except ParameterError as exc:
        ctx = _profile_ctx(user, answers, exc, join=False)
        return _render(request, "therapists/profile_form.html", ctx, status=422)
    return _redirect("/therapists/me?msg=saved")


@router.get("/therapists/me/availability", response_class=HTMLResponse)
async def availability_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        return own
    return await _availability(request, core, own[1], None)


async def _availability(
    request: Request, core: Core, t: TherapistRecord, error: Any, status: int = 200
) -> Response:
    svc = _svc(core)
    rules, exceptions = await run_in_threadpool(svc.availability, t)
    week = await run_in_threadpool(lambda: svc.free_slots(t, days=7))
    return _render(
        request,
        "therapists/availability.html",
        {
            "t": t,
            "rules": rules,
            "exceptions": exceptions,
            "error": error,
            "preview": group_by_local_day(week, t.timezone),
        },
        status=status,
    )


@router.post("/therapists/me/availability", response_class=HTMLResponse)
async def availability_submit(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        await _form(request, core)
        return own
    user, t = own
    svc = _svc(core)
    data = await _form(request, core)
    action = data.get("action")
    try:
        if action == "weekly":
            await run_in_threadpool(svc.add_weekly, user, data)
        elif action == "holiday":
            await run_in_threadpool(svc.add_holiday, user, data)
        elif action == "extra":
            await run_in_threadpool(svc.add_extra, user, data)
        elif action == "delete":
            await run_in_threadpool(svc.delete_availability, user, str(data.get("item", "")))
        else:
            raise ParameterError("action", "choose weekly, holiday, extra or delete")
    except ParameterError as exc:
        return await _availability(request, core, t, exc, status=422)
    return _redirect("/therapists/me/availability")


@router.get("/therapists/{therapist_id}", response_class=HTMLResponse)
async def profile_public(
    request: Request, therapist_id: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = _svc(core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    tz = _listener_tz(request, core)
    slots = await run_in_threadpool(lambda: svc.free_slots(t, days=14))
    resp = _render(
        request,
        "therapists/profile.html",
        {**_card(svc, t), "tz": tz, "days": group_by_local_day(slots, tz)},
    )
    _remember_tz(request, resp, tz)
    return resp


@router.get("/therapists/{therapist_id}/book", response_class=HTMLResponse)
async def book_page(
    request: Request,
    therapist_id: str,
    user: MaybeUser,
    core: CoreDep,
    start: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    svc = _svc(core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    tz = _listener_tz(request, core)
    from sonora.therapists.service import parse_instant

    when = parse_instant(start, "start")
    return _render(
        request,
        "therapists/book.html",
        {**_card(svc, t), "tz": tz, "start": when, "values": {}, "error": None, "taken": None},
    )


@router.post("/therapists/{therapist_id}/book", response_class=HTMLResponse)
async def book_submit(
    request: Request, therapist_id: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = _svc(core)
    data = await _form(request, core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    from sonora.therapists.service import parse_instant

    try:
        _, token = await run_in_threadpool(lambda: svc.book(t.id, data, user=user))
    except SlotUnavailable as exc:
        tz = str(data.get("tz") or "UTC")
        return _render(
            request,
            "therapists/book.html",
            {
                **_card(svc, t),
                "tz": tz,
                "start": exc.start,
                "values": data,
                "error": exc,
                "taken": exc.next_slots,
            },
            status=409,
        )
    except ParameterError as exc:
        tz = str(data.get("tz") or "")
        try:
            check_timezone(tz, "tz")
        except ParameterError:
            tz = "UTC"
        try:
            when = parse_instant(data.get("start"), "start")
        except ParameterError:
            when = None
        nxt = (
            await run_in_threadpool(lambda: svc.free_slots(t, limit=6))
            if exc.field == "start"
            else None
        )
        return _render(
            request,
            "therapists/book.html",
            {**_card(svc, t), "tz": tz, "start": when, "values": data, "error": exc, "taken": nxt},
            status=422,
        )
    return _redirect(f"/bookings/{token}?new=1")


@router.get("/bookings/{token}", response_class=HTMLResponse)
async def booking_page(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    return _render(
        request,
        "therapists/booking.html",
        {
            **_card(svc, t),
            "b": b,
            "token": token,
            "new": request.query_params.get("new") == "1",
            "care": b.care,
            "past": b.starts_at <= svc.clock(),
            "msg": request.query_params.get("msg", ""),
        },
    )
    # (The app-wide Referrer-Policy, same-origin, keeps this address's token from
    # leaking to other sites; "no-referrer" would make browsers send "Origin: null" with
    # this page's forms, which the CSRF check refuses.)


@router.get("/bookings/{token}/invite.ics")
async def booking_ics(token: str, core: CoreDep) -> Response:
    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    from sonora.therapists.invites import consult_invite

    body = consult_invite(b, t, audience="listener", link=svc.link(token))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="consult.ics"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/bookings/{token}/cancel", response_class=HTMLResponse)
async def booking_cancel(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    await _form(request, core)
    await run_in_threadpool(_svc(core).cancel, token)
    return _redirect(f"/bookings/{token}?msg=cancelled")


@router.get("/bookings/{token}/reschedule", response_class=HTMLResponse)
async def reschedule_page(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    tz = _listener_tz(request, core, request.query_params.get("tz") or b.listener_tz)
    slots = (
        await run_in_threadpool(lambda: svc.free_slots(t, days=14)) if b.status == "booked" else []
    )
    return _render(
        request,
        "therapists/reschedule.html",
        {
            **_card(svc, t),
            "b": b,
            "token": token,
            "tz": tz,
            "days": group_by_local_day(slots, tz),
            "error": None,
        },
    )


@router.post("/bookings/{token}/reschedule", response_class=HTMLResponse)
async def reschedule_submit(
    request: Request, token: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = _svc(core)
    data = await _form(request, core)
    b, t = await run_in_threadpool(svc.booking, token)
    try:
        await run_in_threadpool(svc.reschedule, token, data)
    except (ParameterError, SlotUnavailable) as exc:
        slots = await run_in_threadpool(lambda: svc.free_slots(t, days=14))
        return _render(
            request,
            "therapists/reschedule.html",
            {
                **_card(svc, t),
                "b": b,
                "token": token,
                "tz": b.listener_tz,
                "days": group_by_local_day(slots, b.listener_tz),
                "error": exc,
            },
            status=409 if isinstance(exc, SlotUnavailable) else 422,
        )
    return _redirect(f"/bookings/{token}?msg=moved")


@router.get("/admin/verify", response_class=HTMLResponse)
async def admin_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = _svc(core)
    if user is None:
        return _redirect("/login")
    if not await run_in_threadpool(svc.is_admin, user):
        raise HTTPException(403, "Only admins can verify credentials (`sonora admin grant EMAIL`).")
    return await _admin(request, svc, None)


async def _admin(
    request: Request, svc: Therapists, error: Any, status: int = 200, failed: str = ""
) -> Response:
    queue = await run_in_threadpool(svc.queue)
    items = []
    for t, _status in queue:
        hist = await run_in_threadpool(svc.history, t.id)
        items.append({**_card(svc, t), "history": hist[:5]})
    return _render(
        request,
        "therapists/admin.html",
        {
            "items": items,
            "error": error,
            "failed": failed,
            "msg": request.query_params.get("msg", ""),
        },
        status=status,
    )


@router.post("/admin/verify/{therapist_id}", response_class=HTMLResponse)
async def admin_verify(
    request: Request, therapist_id: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = _svc(core)
    data = await _form(request, core)
    if user is None:
        return _redirect("/login")
    if not await run_in_threadpool(svc.is_admin, user):
        raise HTTPException(403, "Only admins can verify credentials.")
    try:
        await run_in_threadpool(svc.verify, user, therapist_id, data)
    except ParameterError as exc:
        return await _admin(request, svc, exc, status=422, failed=therapist_id)
    return _redirect("/admin/verify?msg=recorded")


# == JSON API =========================================================================
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BookingIn(_In):
    """A free consult to book."""

    start: str = Field(max_length=64, description="Slot start, ISO 8601 with offset (from /slots)")
    tz: str = Field(max_length=64, description="Your IANA time zone, e.g. Europe/London")
    name: str = Field(max_length=120)
    email: str = Field(max_length=320)
    reason: str = Field(
        default="", max_length=1000, description="Optional: what you would like help with"
    )


class RescheduleIn(_In):
    """Move a booking to another free slot."""

    start: str = Field(max_length=64)


def _taken_response(exc: SlotUnavailable, tz: str | None) -> JSONResponse:
    return JSONResponse(
        {
            "detail": str(exc),
            "field": "start",
            "next_slots": [s.isoformat() for s in exc.next_slots],
            "next_slots_local": [_local(s, tz).isoformat() for s in exc.next_slots] if tz else None,
        },
        status_code=409,
    )


@api_router.get("/therapists", summary="Search the directory of listed therapists")
async def api_search(
    request: Request,
    core: CoreDep,
    country: Annotated[str, Query(max_length=2)] = "",
    region: Annotated[str, Query(max_length=120)] = "",
    city: Annotated[str, Query(max_length=120)] = "",
    near: Annotated[
        str, Query(max_length=120, description="A town or city, e.g. 'Leeds, GB'")
    ] = "",
    radius_km: Annotated[float | None, Query(ge=1, le=20000)] = None,
    online_only: bool = False,
    language: Annotated[str, Query(max_length=40)] = "",
    population: Annotated[str, Query(max_length=40)] = "",
    approach: Annotated[str, Query(max_length=40)] = "",
    sort: Annotated[str, Query(max_length=16, description="distance, soonest or name")] = "soonest",
    tz: Annotated[str, Query(max_length=64)] = "UTC",
) -> dict[str, Any]:
    svc = _svc(core)
    check_timezone(tz, "tz")
    q = svc.parse_query(
        {
            "country": country,
            "region": region,
            "city": city,
            "near": near,
            "radius_km": radius_km,
            "online_only": online_only,
            "language": language,
            "population": population,
            "approach": approach,
            "sort": sort,
        }
    )
    res = await run_in_threadpool(svc.search, q)
    return {
        "place": None
        if res.place is None
        else {
            "name": res.place.name,
            "country": res.place.country,
            "latitude": res.place.latitude,
            "longitude": res.place.longitude,
        },
        "therapists": [
            _therapist_json(
                svc, h.therapist, distance_km=h.distance_km, next_free=h.next_free, tz=tz
            )
            for h in res.hits
        ],
    }


@api_router.get("/therapists/credentials", summary="Credentials Sonora verifies, by country")
async def api_credentials() -> dict[str, Any]:
    return {"credentials": [c.to_dict() for c in load_credentials().values()]}


@api_router.get("/therapists/me/bookings", summary="Your upcoming consults (therapists)")
async def api_my_bookings(user: MaybeUser, core: CoreDep) -> dict[str, Any]:
    if user is None:
        raise HTTPException(401, "session: not signed in; log in first")
    svc = _svc(core)
    if await run_in_threadpool(svc.own_profile, user) is None:
        raise HTTPException(404, "therapist: you have no therapist profile")
    t, bookings = await run_in_threadpool(svc.dashboard, user)
    return {"bookings": [_booking_json(svc, b, t) for b in bookings]}


@api_router.get("/therapists/{therapist_id}", summary="A listed therapist")
async def api_therapist(therapist_id: str, core: CoreDep) -> dict[str, Any]:
    svc = _svc(core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    return _therapist_json(svc, t)


@api_router.get("/therapists/{therapist_id}/slots", summary="Free 15-minute consult slots")
async def api_slots(
    therapist_id: str,
    core: CoreDep,
    tz: Annotated[str, Query(max_length=64, description="Show times in this IANA zone")] = "UTC",
    days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> dict[str, Any]:
    svc = _svc(core)
    check_timezone(tz, "tz")
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    slots = await run_in_threadpool(lambda: svc.free_slots(t, days=days))
    return {
        "timezone": tz,
        "therapist_timezone": t.timezone,
        "slots": [{"start": s.isoformat(), "local": _local(s, tz).isoformat()} for s in slots],
    }


@api_router.post(
    "/therapists/{therapist_id}/bookings", status_code=201, summary="Book a free consult"
)
async def api_book(therapist_id: str, body: BookingIn, user: MaybeUser, core: CoreDep) -> Any:
    svc = _svc(core)
    try:
        rec, token = await run_in_threadpool(
            lambda: svc.book(therapist_id, body.model_dump(), user=user)
        )
    except SlotUnavailable as exc:
        return _taken_response(exc, body.tz)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    return _booking_json(svc, rec, t, token)


@api_router.get("/bookings/{token}", summary="A booking, by its link token")
async def api_booking(token: str, core: CoreDep) -> dict[str, Any]:
    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    return _booking_json(svc, b, t)


@api_router.patch("/bookings/{token}", summary="Move a booking to another free slot")
async def api_reschedule(token: str, body: RescheduleIn, core: CoreDep) -> Any:
    svc = _svc(core)
    b, t = await run_in_threadpool(svc.booking, token)
    try:
        rec = await run_in_threadpool(svc.reschedule, token, body.model_dump())
    except SlotUnavailable as exc:
        return _taken_response(exc, b.listener_tz)
    return _booking_json(svc, rec, t)


@api_router.delete("/bookings/{token}", summary="Cancel a booking")
async def api_cancel(token: str, core: CoreDep) -> dict[str, Any]:
    svc = _svc(core)
    rec = await run_in_threadpool(svc.cancel, token)
    _, t = await run_in_threadpool(svc.booking, token)
    return _booking_json(svc, rec, t)


def query_string(params: Mapping[str, Any], **over: Any) -> str:
    """``params`` with ``over`` applied, as a query string (for sort links)."""
    merged = {k: v for k, v in {**params, **over}.items() if v not in (None, "")}
    return urlencode(merged)


templates.env.globals["query_string"] = query_string
