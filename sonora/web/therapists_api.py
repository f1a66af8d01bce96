"""JSON API of the therapist directory and free-consult booking.

``/api/therapists…`` (search, a listed profile, its free slots, booking) and
``/api/bookings/{token}`` (read, move, cancel a booking by its link token).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.therapists.availability import (
    normalise_timezone,
)
from sonora.therapists.credentials import load_credentials
from sonora.therapists.service import (
    SlotUnavailable,
)
from sonora.web.deps import CoreDep, MaybeUser, api_csrf
from sonora.web.schemas import (
    BookingOut,
    BookingsOut,
    CredentialsOut,
    SearchOut,
    SlotsOut,
    TherapistOut,
)
from sonora.web.therapists_common import (
    booking_json,
    local_time,
    service,
    taken_response,
    therapist_json,
)

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api", tags=["therapists"], dependencies=[Depends(api_csrf)])


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


@api_router.get(
    "/therapists", summary="Search the directory of listed therapists", response_model=SearchOut
)
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
    svc = service(core)
    tz = normalise_timezone(tz, "tz")
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
            therapist_json(
                svc, h.therapist, distance_km=h.distance_km, next_free=h.next_free, tz=tz
            )
            for h in res.hits
        ],
    }


@api_router.get(
    "/therapists/credentials",
    summary="Credentials Sonora verifies, by country",
    response_model=CredentialsOut,
)
async def api_credentials() -> dict[str, Any]:
    return {"credentials": [c.to_dict() for c in load_credentials().values()]}


@api_router.get(
    "/therapists/me/bookings",
    summary="Your upcoming consults (therapists)",
    response_model=BookingsOut,
)
async def api_my_bookings(user: MaybeUser, core: CoreDep) -> dict[str, Any]:
    if user is None:
        raise HTTPException(401, "session: not signed in; log in first")
    svc = service(core)
    if await run_in_threadpool(svc.own_profile, user) is None:
        raise HTTPException(404, "therapist: you have no therapist profile")
    t, bookings = await run_in_threadpool(svc.dashboard, user)
    return {"bookings": [booking_json(svc, b, t) for b in bookings]}


@api_router.get(
    "/therapists/{therapist_id}", summary="A listed therapist", response_model=TherapistOut
)
async def api_therapist(therapist_id: str, core: CoreDep) -> dict[str, Any]:
    svc = service(core)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    return therapist_json(svc, t)


@api_router.get(
    "/therapists/{therapist_id}/slots",
    summary="Free 15-minute consult slots",
    response_model=SlotsOut,
)
async def api_slots(
    therapist_id: str,
    core: CoreDep,
    tz: Annotated[str, Query(max_length=64, description="Show times in this IANA zone")] = "UTC",
    days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> dict[str, Any]:
    svc = service(core)
    tz = normalise_timezone(tz, "tz")
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    slots = await run_in_threadpool(lambda: svc.free_slots(t, days=days))
    return {
        "timezone": tz,
        "therapist_timezone": t.timezone,
        "slots": [{"start": s.isoformat(), "local": local_time(s, tz).isoformat()} for s in slots],
    }


@api_router.post(
    "/therapists/{therapist_id}/bookings",
    status_code=201,
    summary="Book a free consult",
    response_model=BookingOut,
)
async def api_book(therapist_id: str, body: BookingIn, user: MaybeUser, core: CoreDep) -> Any:
    svc = service(core)
    try:
        rec, token = await run_in_threadpool(
            lambda: svc.book(therapist_id, body.model_dump(), user=user)
        )
    except SlotUnavailable as exc:
        return taken_response(exc, body.tz)
    t = await run_in_threadpool(svc.public_profile, therapist_id)
    if rec.status == "pending":  # held once the address confirms; no token for the booker
        from sonora.web.holds import pending_json

        return pending_json(svc, rec, t)
    return booking_json(svc, rec, t, token)


@api_router.get(
    "/bookings/{token}", summary="A booking, by its link token", response_model=BookingOut
)
async def api_booking(token: str, core: CoreDep) -> dict[str, Any]:
    svc = service(core)
    b, t = await run_in_threadpool(svc.booking, token)
    return booking_json(svc, b, t)


@api_router.patch(
    "/bookings/{token}",
    summary="Move a booking to another free slot",
    response_model=BookingOut,
)
async def api_reschedule(token: str, body: RescheduleIn, core: CoreDep) -> Any:
    svc = service(core)
    b, t = await run_in_threadpool(svc.booking, token)
    try:
        rec = await run_in_threadpool(svc.reschedule, token, body.model_dump())
    except SlotUnavailable as exc:
        return taken_response(exc, b.listener_tz)
    return booking_json(svc, rec, t)


@api_router.delete("/bookings/{token}", summary="Cancel a booking", response_model=BookingOut)
async def api_cancel(token: str, core: CoreDep) -> dict[str, Any]:
    svc = service(core)
    rec = await run_in_threadpool(svc.cancel, token)
    _, t = await run_in_threadpool(svc.booking, token)
    return booking_json(svc, rec, t)
