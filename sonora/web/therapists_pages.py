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

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import AuthError, Core
from sonora.errors import ParameterError
from sonora.therapists.availability import (
    WEEKDAYS,
    format_minutes,
    group_by_local_day,
    normalise_timezone,
    timezones,
)
from sonora.therapists.credentials import load_credentials
from sonora.therapists.fields import CONSULT_VIA
from sonora.therapists.records import CONSULT_FIELDS, PROFILE_FIELDS
from sonora.therapists.repo import TherapistRecord
from sonora.therapists.service import (
    APPROACHES,
    POPULATIONS,
    SearchResult,
    SlotUnavailable,
    Therapists,
)
from sonora.web.deps import CoreDep, MaybeUser, switch_session
from sonora.web.rendering import read_form, redirect, render
from sonora.web.therapists_common import (
    credential_card,
    format_local,
    home_country,
    listener_tz,
    query_string,
    remember_tz,
    service,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
#: The fields the profile form shows (latitude and longitude come from the city).
_FORM_FIELDS = (
    *(f for f in PROFILE_FIELDS if f not in ("latitude", "longitude")),
    *CONSULT_FIELDS,
)


def template_globals() -> dict[str, Any]:
    """What the directory's templates use (added by :func:`sonora.web.rendering.build_templates`)."""
    return {
        "CONSULT_VIA": CONSULT_VIA,
        "POPULATIONS": POPULATIONS,
        "APPROACHES": APPROACHES,
        "CREDENTIALS": load_credentials(),
        "WEEKDAYS": WEEKDAYS,
        "TIMEZONES": timezones(),
        "query_string": query_string,
    }


#: Jinja filters of the directory's templates.
TEMPLATE_FILTERS = {"hhmm": format_minutes, "local": format_local}


# == pages ============================================================================
@router.get("/therapists", response_class=HTMLResponse)
async def directory(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = service(core)
    params = dict(request.query_params)
    error = None
    result: SearchResult | None = None
    try:
        tz = listener_tz(request, core)
        q = svc.parse_query(params)
        result = await run_in_threadpool(svc.search, q)
    except ParameterError as exc:
        error = exc
        tz = listener_tz(request, core) if "tz" not in str(exc.field) else "UTC"
    cards = []
    if result is not None:
        for h in result.hits:
            cards.append(
                {
                    **credential_card(svc, h.therapist),
                    "distance_km": h.distance_km,
                    "next_free": h.next_free,
                }
            )
    resp = render(
        request,
        "therapists/directory.html",
        {
            "q": params,
            "result": result,
            "cards": cards,
            "error": error,
            "tz": tz,
            "is_therapist": bool(user and await run_in_threadpool(svc.own_profile, user)),
            "home": await run_in_threadpool(home_country, core, user),
        },
        status=422 if error else 200,
    )
    if error is None and request.query_params.get("tz"):  # remember a choice, not a guess
        remember_tz(request, resp, tz)
    return resp


@router.get("/therapists/join", response_class=HTMLResponse)
async def join_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = service(core)
    if user is not None and await run_in_threadpool(svc.own_profile, user):
        return redirect("/therapists/me")
    return render(request, "therapists/profile_form.html", _profile_ctx(user, {}, None, join=True))


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
    svc = service(core)
    data = await read_form(request, core)
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
        return render(
            request, "therapists/profile_form.html", ctx, status=getattr(exc, "status", 422)
        )
    resp = redirect("/therapists/me?msg=joined")
    if token is not None:
        await switch_session(resp, request, core, token)
    return resp


async def _own(
    core: Core, user: UserRecord | None
) -> tuple[UserRecord, TherapistRecord] | RedirectResponse:
    if user is None:
        return redirect("/therapists/join")
    t = await run_in_threadpool(service(core).own_profile, user)
    if t is None:
        return redirect("/therapists/join")
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
        await read_form(request, core)
        return own
    data = await read_form(request, core)
    try:
        await run_in_threadpool(service(core).cancel_by_therapist, own[0], booking_id, data)
    except ParameterError as exc:
        return await _dashboard(request, core, own[0], exc, status=422)
    return redirect("/therapists/me?msg=cancelled")


async def _dashboard(
    request: Request, core: Core, user: UserRecord, error: Any = None, status: int = 200
) -> Response:
    svc = service(core)
    t, bookings = await run_in_threadpool(svc.dashboard, user)
    rules, exceptions = await run_in_threadpool(svc.availability, t)
    nxt = await run_in_threadpool(lambda: svc.free_slots(t, limit=1))
    return render(
        request,
        "therapists/dashboard.html",
        {
            **credential_card(svc, t),
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
    values = {k: getattr(t, k) for k in _FORM_FIELDS}
    return render(
        request, "therapists/profile_form.html", _profile_ctx(user, values, None, join=False)
    )


@router.post("/therapists/me/profile", response_class=HTMLResponse)
async def profile_submit(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        await read_form(request, core)
        return own
    user, _ = own
    data = await read_form(request, core)
    answers = _form_profile(data)
    try:
        await run_in_threadpool(service(core).update_profile, user, answers)
    except ParameterError as exc:
        ctx = _profile_ctx(user, answers, exc, join=False)
        return render(request, "therapists/profile_form.html", ctx, status=422)
    return redirect("/therapists/me?msg=saved")


@router.get("/therapists/me/availability", response_class=HTMLResponse)
async def availability_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    own = await _own(core, user)
    if isinstance(own, Response):
        return own
    return await _availability(request, core, own[1], None)


async def _availability(
    request: Request, core: Core, t: TherapistRecord, error: Any, status: int = 200
) -> Response:
    svc = service(core)
    rules, exceptions = await run_in_threadpool(svc.availability, t)
    week = await run_in_threadpool(lambda: svc.free_slots(t, days=7))
    return render(
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
        await read_form(request, core)
        return own
    user, t = own
    svc = service(core)
    data = await read_form(request, core)
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
    return redirect("/therapists/me/availability")


@router.get("/therapists/{therapist_id}", response_class=HTMLResponse)
async def profile_public(
    request: Request, therapist_id: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = service(core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    tz = listener_tz(request, core)
    slots = await run_in_threadpool(lambda: svc.free_slots(t, days=14))
    resp = render(
        request,
        "therapists/profile.html",
        {**credential_card(svc, t), "tz": tz, "days": group_by_local_day(slots, tz)},
    )
    if request.query_params.get("tz"):  # remember a choice, not a guess
        remember_tz(request, resp, tz)
    return resp


@router.get("/therapists/{therapist_id}/book", response_class=HTMLResponse)
async def book_page(
    request: Request,
    therapist_id: str,
    user: MaybeUser,
    core: CoreDep,
    start: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    svc = service(core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    tz = listener_tz(request, core)
    from sonora.therapists.service import parse_instant

    when = parse_instant(start, "start")
    # A signed-in listener's own address, ready to change (the link is mailed there).
    values = {"email": user.email} if user is not None and user.email else None
    return _book_form(request, svc, t, tz=tz, start=when, values=values)


def _book_form(
    request: Request,
    svc: Therapists,
    t: Any,
    *,
    tz: str,
    start: Any,
    values: Any = None,
    error: Exception | None = None,
    taken: Any = None,
    status: int = 200,
) -> Response:
    """The booking form for ``t`` at ``start``: first shown, or again with ``error``."""
    context = {"tz": tz, "start": start, "values": values or {}, "error": error, "taken": taken}
    return render(
        request, "therapists/book.html", {**credential_card(svc, t), **context}, status=status
    )


@router.post("/therapists/{therapist_id}/book", response_class=HTMLResponse)
async def book_submit(
    request: Request, therapist_id: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = service(core)
    data = await read_form(request, core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    from sonora.therapists.service import parse_instant

    try:
        rec, token = await run_in_threadpool(lambda: svc.book(t.id, data, user=user))
        if rec.status == "pending":  # held once the address confirms (web/holds.py)
            return render(
                request,
                "therapists/check_email.html",
                {**credential_card(svc, t), "b": rec, "sends_mail": bool(core.settings.smtp_host)},
            )
    except SlotUnavailable as exc:
        tz = str(data.get("tz") or "UTC")
        return _book_form(
            request,
            svc,
            t,
            tz=tz,
            start=exc.start,
            values=data,
            error=exc,
            taken=exc.next_slots,
            status=409,
        )
    except ParameterError as exc:
        try:
            tz = normalise_timezone(str(data.get("tz") or ""), "tz")
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
        return _book_form(
            request, svc, t, tz=tz, start=when, values=data, error=exc, taken=nxt, status=422
        )
    return redirect(f"/bookings/{token}?new=1")


@router.get("/bookings/{token}", response_class=HTMLResponse)
async def booking_page(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = service(core)
    b, t = await run_in_threadpool(svc.booking, token)
    return render(
        request,
        "therapists/booking.html",
        {
            **credential_card(svc, t),
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
    svc = service(core)
    b, t = await run_in_threadpool(svc.booking, token)
    from sonora.therapists.invites import consult_invite

    # a file to import, not a scheduling message: METHOD:PUBLISH (RFC 5546 3.2.1)
    body = consult_invite(b, t, audience="listener", link=svc.link(token), published=True)
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
    await read_form(request, core)
    await run_in_threadpool(service(core).cancel, token)
    return redirect(f"/bookings/{token}?msg=cancelled")


@router.get("/bookings/{token}/reschedule", response_class=HTMLResponse)
async def reschedule_page(request: Request, token: str, user: MaybeUser, core: CoreDep) -> Response:
    svc = service(core)
    b, t = await run_in_threadpool(svc.booking, token)
    tz = listener_tz(request, core, request.query_params.get("tz") or b.listener_tz)
    return await _reschedule_form(request, svc, t, b, token, tz=tz)


async def _reschedule_form(
    request: Request,
    svc: Therapists,
    t: Any,
    b: Any,
    token: str,
    *,
    tz: str,
    error: Exception | None = None,
    status: int = 200,
) -> Response:
    """The free slots of the next 14 days to move booking ``b`` to (none unless it is
    booked): first shown, or again with ``error``."""
    slots = (
        await run_in_threadpool(lambda: svc.free_slots(t, days=14)) if b.status == "booked" else []
    )
    context = {"b": b, "token": token, "tz": tz, "days": group_by_local_day(slots, tz)}
    return render(
        request,
        "therapists/reschedule.html",
        {**credential_card(svc, t), **context, "error": error},
        status=status,
    )


@router.post("/bookings/{token}/reschedule", response_class=HTMLResponse)
async def reschedule_submit(
    request: Request, token: str, user: MaybeUser, core: CoreDep
) -> Response:
    svc = service(core)
    data = await read_form(request, core)
    b, t = await run_in_threadpool(svc.booking, token)
    try:
        await run_in_threadpool(svc.reschedule, token, data)
    except (ParameterError, SlotUnavailable) as exc:
        return await _reschedule_form(
            request,
            svc,
            t,
            b,
            token,
            tz=b.listener_tz,
            error=exc,
            status=409 if isinstance(exc, SlotUnavailable) else 422,
        )
    return redirect(f"/bookings/{token}?msg=moved")


@router.get("/admin/verify", response_class=HTMLResponse)
async def admin_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    svc = service(core)
    admin = await _admin_user(svc, user)
    if isinstance(admin, Response):
        return admin
    return await _admin(request, svc, None)


async def _admin_user(svc: Therapists, user: UserRecord | None) -> UserRecord | RedirectResponse:
    """``user`` when an admin; a redirect to log in for nobody; HTTP 403 for anyone else."""
    if user is None:
        return redirect("/login")
    if not await run_in_threadpool(svc.is_admin, user):
        raise HTTPException(403, "Only admins can verify credentials (`sonora admin grant EMAIL`).")
    return user


async def _admin(
    request: Request, svc: Therapists, error: Any, status: int = 200, failed: str = ""
) -> Response:
    queue = await run_in_threadpool(svc.queue)
    items = []
    for t, _status in queue:
        hist = await run_in_threadpool(svc.history, t.id)
        items.append({**credential_card(svc, t), "history": hist[:5]})
    return render(
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
    svc = service(core)
    data = await read_form(request, core)
    admin = await _admin_user(svc, user)
    if isinstance(admin, Response):
        return admin
    try:
        await run_in_threadpool(svc.verify, admin, therapist_id, data)
    except ParameterError as exc:
        return await _admin(request, svc, exc, status=422, failed=therapist_id)
    return redirect("/admin/verify?msg=recorded")
