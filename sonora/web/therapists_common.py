"""Helpers the therapist directory's pages and API share: time zones, JSON shapes, cards."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.therapists.availability import (
    check_timezone,
    normalise_timezone,
)
from sonora.therapists.credentials import credential_for
from sonora.therapists.fields import CONSULT_VIA
from sonora.therapists.repo import BookingRecord, TherapistRecord
from sonora.therapists.service import (
    SlotUnavailable,
    Therapists,
)

__all__ = [
    "COUNTRY_ZONES",
    "TZ_COOKIE",
    "booking_json",
    "credential_card",
    "format_local",
    "home_country",
    "is_verified",
    "listener_tz",
    "local_time",
    "query_string",
    "remember_tz",
    "service",
    "taken_response",
    "therapist_json",
    "warm_up_places",
]


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
#: The browser's zone, written by ``static/offline.js`` so times show in it first.
BROWSER_TZ_COOKIE = "sonora_browser_tz"


def warm_up_places() -> None:
    """Load the offline gazetteer in the background so the first search is quick."""
    from sonora.therapists.places import warm_up

    threading.Thread(target=warm_up, name="sonora-gazetteer", daemon=True).start()


def service(core: Core) -> Therapists:
    return core.therapists


def listener_tz(request: Request, core: Core, explicit: str | None = None) -> str:
    """The zone to show times in: ``?tz=``, then the remembered one, then the default."""
    # ?tz=, then the zone the listener chose before, then the browser's own zone
    # (sonora_browser_tz, set by offline.js on any page), then the default.
    for cand in (
        explicit,
        request.query_params.get("tz"),
        request.cookies.get(TZ_COOKIE),
        unquote(request.cookies.get(BROWSER_TZ_COOKIE) or ""),  # offline.js URI-encodes it
    ):
        if cand:
            try:
                return normalise_timezone(cand, "tz")
            except ParameterError:
                if cand is explicit or cand == request.query_params.get("tz"):
                    raise
                continue
    return COUNTRY_ZONES.get(core.settings.default_country, "UTC")


def remember_tz(request: Request, resp: Response, tz: str) -> None:
    if request.cookies.get(TZ_COOKIE) != tz:
        resp.set_cookie(
            TZ_COOKIE, tz, max_age=365 * 86_400, path="/", httponly=True, samesite="lax"
        )


def local_time(t: dt.datetime, tz: str) -> dt.datetime:
    return t.astimezone(check_timezone(tz, "tz"))


def format_local(t: dt.datetime, tz: str) -> str:
    lt = local_time(t, tz)
    return f"{lt:%a %d %b %Y, %H:%M} {lt.tzname()}"


def home_country(core: Core, user: UserRecord | None) -> str:
    """The listener's country (their profile, else the default) for the empty state."""
    return core.country(user) if user is not None else core.settings.default_country


def is_verified(svc: Therapists, t: TherapistRecord) -> bool:
    return svc.status(t) == "verified"


def credential_card(svc: Therapists, t: TherapistRecord) -> dict[str, Any]:
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
def therapist_json(
    svc: Therapists,
    t: TherapistRecord,
    *,
    distance_km: float | None = None,
    next_free: dt.datetime | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    c = credential_card(svc, t)
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
        "consult_via": t.consult_via,
        # only the way is public; the link, number or address goes in the invite
        "consult_label": CONSULT_VIA.get(t.consult_via, "Video call"),
        "distance_km": None if distance_km is None else round(distance_km, 1),
        "next_free": None if next_free is None else next_free.isoformat(),
        "next_free_local": None
        if (next_free is None or tz is None)
        else local_time(next_free, tz).isoformat(),
    }


def booking_json(
    svc: Therapists, b: BookingRecord, t: TherapistRecord, token: str | None = None
) -> dict[str, Any]:
    out = {
        "therapist": {"id": t.id, "name": t.display_name, "demo": t.is_demo},
        "start": b.starts_at.isoformat(),
        "end": b.ends_at.isoformat(),
        "local_start": local_time(b.starts_at, b.listener_tz).isoformat(),
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


def query_string(params: Mapping[str, Any], **over: Any) -> str:
    """``params`` with ``over`` applied, as a query string (for sort links)."""
    merged = {k: v for k, v in {**params, **over}.items() if v not in (None, "")}
    return urlencode(merged)


def taken_response(exc: SlotUnavailable, tz: str | None) -> JSONResponse:
    """``409``: that slot was just taken; the next free slots, also in ``tz``."""
    return JSONResponse(
        {
            "detail": str(exc),
            "field": "start",
            "next_slots": [s.isoformat() for s in exc.next_slots],
            "next_slots_local": [local_time(s, tz).isoformat() for s in exc.next_slots]
            if tz
            else None,
        },
        status_code=409,
    )
